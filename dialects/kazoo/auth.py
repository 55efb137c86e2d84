"""Who is calling (reference 4): token lookup in Kazoo's order, the principal it stands for,
credential checks for user_auth/api_auth, and cb_simple_authz's account-tree rule."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.audit import set_actor
from gateway.context import Gateway
from gateway.credentials import same_secret
from gateway.directory import Account, User

from . import errors, tokens
from .envelope import TOKEN
from .state import KazooState


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str
    owner_id: str
    method: str
    superduper: bool
    token: str
    claims: dict[str, Any]


def find_token(request: web.Request, body: dict[str, Any]) -> str:
    """X-Auth-Token, then `auth_token` in data / query / envelope, then `Authorization: Bearer`."""
    token = request.headers.get("X-Auth-Token", "").strip()
    data = body.get("data")
    if not token and isinstance(data, dict) and isinstance(data.get("auth_token"), str):
        token = data["auth_token"].strip()
    if not token:
        token = request.query.get("auth_token", "").strip()
    if not token and isinstance(body.get("auth_token"), str):
        token = body["auth_token"].strip()
    if not token:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            token = value.strip()
    return token


def authenticate(state: KazooState, request: web.Request, token: str) -> Principal:
    request[TOKEN] = token
    claims = tokens.verify(state, token)
    account = state.gw.directory.account(claims["account_id"])
    assert account is not None  # verify() refuses tokens of unknown accounts
    owner = state.gw.directory.user(claims.get("owner_id") or "")
    set_actor("kazoo", owner.id if owner else account.id,
              owner.username if owner else account.name, account.id)
    return Principal(account_id=account.id, owner_id=claims.get("owner_id", ""),
                     method=claims["method"], superduper=account.superduper, token=token,
                     claims=claims)


def may_access(state: KazooState, principal: Principal, account_id: str) -> bool:
    """A token reaches its own account and the accounts below it; superduper reaches all."""
    return principal.superduper or state.gw.directory.is_within(account_id,
                                                                principal.account_id)


def credentials_hash(username: str, password: str, method: str) -> str:
    digest = hashlib.sha1 if method == "sha" else hashlib.md5
    return digest(f"{username.lower()}:{password}".encode()).hexdigest()


def check_credentials(gw: Gateway, accounts: list[Account], credentials: str,
                      method: str) -> User | None:
    """The user of one of `accounts` whose hashed `username:password` is `credentials`: from
    the password, or the hash itself when the user was imported with Kazoo's own
    (`pvt_md5_auth`/`pvt_sha1_auth`), as Kazoo compares the stored hash."""
    wanted = credentials.lower()
    for account in accounts:
        for user in gw.directory.users_of(account.id):
            stored = user.sha1_auth if method == "sha" else user.md5_auth
            if user.password:
                have = credentials_hash(user.username, user.password, method)
                if same_secret(wanted, have):
                    return user
            if stored and same_secret(wanted, stored):
                return user
    return None


def account_info(gw: Gateway, account: Account, owner_id: str) -> dict[str, Any]:
    """The `data` crossbar answers a successful user_auth/api_auth with."""
    directory = gw.directory
    reseller = directory.reseller_of(account.id)
    if reseller is not None:
        reseller_id = reseller.id
    else:
        ancestors = directory.ancestors(account.id)
        reseller_id = ancestors[-1] if ancestors else account.id  # the master account
    info: dict[str, Any] = {
        "account_id": account.id,
        "account_name": account.name,
        "apps": [],
        "capabilities": {},
        "is_master_account": not account.parent,
        "is_reseller": directory.is_reseller(account.id),
        "language": account.language,
        "reseller_id": reseller_id,
    }
    if owner_id:
        info["owner_id"] = owner_id
    return info


def require(principal: Principal | None) -> Principal:
    if principal is None:
        raise errors.invalid_credentials()
    return principal
