"""Webitel roles and their default ACL (the engine's `conf/acl.js`, 2017), as the login answer
and the token's `acl` claim carry them. The channel routes never consult it, as in the engine."""

from __future__ import annotations

from dataclasses import dataclass

#: callgate role -> Webitel role name (the gateway's roles across dialects).
ROLE_NAMES = {
    "superduper_admin": "root",
    "reseller": "admin",
    "admin": "admin",
    "user": "user",
    "agent": "user",
}
ROLE_VALUES = {"root": 2, "admin": 1, "user": 0}

_USER: dict[str, list[str]] = {
    "account": ["r", "uo"],
    "acl/roles": ["r"],
    "blacklist": ["c", "u", "r"],
    "channels": ["*"],
    "book": ["c", "u", "r"],
    "vmail": ["ro"],
    "cdr": ["ro"],
    "cdr/files": ["ro"],
    "cc/tiers": ["r"],
    "metadata": ["r"],
}
_ADMIN_ALL = (
    "blacklist", "calendar", "rotes/default", "rotes/public", "rotes/extension", "rotes/domain",
    "channels", "cc/tiers", "cc/members", "cc/queue", "dialer", "dialer/members",
    "dialer/templates", "book", "hook", "vmail", "cdr", "cdr/files", "cdr/media",
    "outbound/list", "gateway", "domain/item", "account", "widget", "callback",
    "callback/members", "metadata",
)
_ADMIN: dict[str, list[str]] = {**_USER, **{r: ["*"] for r in _ADMIN_ALL}, "domain": ["ro", "uo"]}
_ROOT: dict[str, list[str]] = {r: ["*"] for r in sorted({*_ADMIN, "domain", "acl/roles"})}

ACL = {"root": _ROOT, "admin": _ADMIN, "user": _USER}
#: Only these resources travel in the token's `acl` claim (the CDR server reads them).
TOKEN_RESOURCES = ("cdr", "cdr/files", "cdr/media")


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    value: int

    @property
    def acl(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in ACL[self.name].items()}

    @property
    def token_acl(self) -> dict[str, list[str]]:
        acl = ACL[self.name]
        return {k: list(acl[k]) for k in TOKEN_RESOURCES if k in acl}


def role_for(callgate_role: str) -> Role:
    name = ROLE_NAMES.get(callgate_role, "user")
    return Role(name, ROLE_VALUES[name])


ROOT = Role("root", 2)
