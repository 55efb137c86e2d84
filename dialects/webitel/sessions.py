"""Webitel sessions: an X-Key selects a server-side session whose token must equal the presented
one, so a stolen-but-logged-out token is worthless and a user may hold several sessions.

Tokens are HS256 JWTs shaped like the engine's (jwt-simple): header `{"typ":"JWT","alg":"HS256"}`
in that order, payload `{"exp": <ms>, "acl": {...}}` plus the gateway's `iss` (so no other
dialect's token opens Webitel). `exp` is milliseconds, so the signer's own expiry check (seconds)
is off and the guard checks it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

from gateway.scale.shared import Codec, SharedState
from gateway.tokens import TokenInvalid, TokenSigner

HEADER = {"typ": "JWT", "alg": "HS256"}
ISSUER = "webitel"
#: Sessions one login may hold; the oldest goes first, so repeated logins cannot fill memory.
MAX_PER_USER = 100
#: Tokens whose signature was checked, kept by token string (oldest dropped first).
MAX_DECODED = 4096


@dataclass(slots=True)
class Session:
    key: str
    username: str  # the login exactly as sent ("root", "alice@acme.example.com")
    domain: str  # "" for system-wide principals
    account_id: str  # the domain's account ("" for root)
    role_name: str
    role: int
    acl: dict[str, list[str]]
    expires: int  # ms since epoch
    token: str
    user_id: str = ""  # the directory user ("" for root's own login)

    def login_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"key": self.key}
        if self.domain:
            body["domain"] = self.domain
        body.update(username=self.username, expires=self.expires, token=self.token,
                    role=self.role, roleName=self.role_name, acl=self.acl)
        return body

    def whoami_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"acl": self.acl, "id": self.username}
        if self.domain:
            body["domain"] = self.domain
        body.update(roleName=self.role_name, expires=self.expires)
        return body


SESSION_CODEC: Codec[Session] = Codec(lambda s: json.dumps(asdict(s)),
                                      lambda raw: Session(**json.loads(raw)))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class BadToken(Exception):
    """Malformed, forged, of another issuer, or signed with anything but HS256."""


class Sessions:
    """Sessions by key, in the dialect's state. `on_remove` hears of every session that ends
    (logout, expiry sweep, eviction), so sockets opened with it can end too."""

    def __init__(self, signer: TokenSigner, days: int, shared: SharedState | None = None
                 ) -> None:
        self._signer = signer
        self._ttl_ms = days * 86_400_000
        # shared: every gateway instance honours (and revokes) a session another one made
        self._by_key: MutableMapping[str, Session] = (
            {} if shared is None else shared.map("webitel.sessions", SESSION_CODEC, self._remote))
        self._by_user: dict[str, list[str]] = {}
        self._last_exp = 0
        self._decoded: dict[str, dict[str, Any]] = {}
        self.on_remove: list[Callable[[str], None]] = []

    def __len__(self) -> int:
        return len(self._by_key)

    def issue(self, token_acl: dict[str, list[str]], **fields: Any) -> Session:
        # the payload holds nothing but exp, acl and iss, so a distinct exp per session keeps
        # two logins in the same millisecond from sharing one token
        expires = self._last_exp = max(now_ms() + self._ttl_ms, self._last_exp + 1)
        token = self._signer.issue({"exp": expires, "acl": token_acl}, headers=HEADER,
                                   sort_headers=False)
        session = Session(key=str(uuid.uuid4()), expires=expires, token=token, **fields)
        self._by_key[session.key] = session
        owner = session.username.lower()
        keys = [k for k in self._by_user.get(owner, ()) if k in self._by_key]
        keys.append(session.key)
        for old in keys[:-MAX_PER_USER]:
            self._drop(old)
        self._by_user[owner] = keys[-MAX_PER_USER:]
        return session

    def decode(self, token: str) -> dict[str, Any]:
        """The claims of a well-signed token. Decoding is a pure function of the token (expiry
        and the session are checked by the guard on every use), so a poller's token is
        decoded once and its claims kept; only tokens that decoded are kept."""
        claims = self._decoded.get(token)
        if claims is None:
            try:
                claims = self._signer.verify(token, check_exp=False)
            except TokenInvalid:
                raise BadToken from None
            decoded = self._decoded
            if len(decoded) >= MAX_DECODED:
                del decoded[next(iter(decoded))]
            decoded[token] = claims
        return dict(claims)

    def _remote(self, key: str, session: Session | None) -> None:
        if session is None:  # logged out on another instance: its sockets end here too
            for hook in self.on_remove:
                hook(key)

    def get(self, key: str) -> Session | None:
        return self._by_key.get(key)

    def _drop(self, key: str) -> None:
        if self._by_key.pop(key, None) is not None:
            for hook in self.on_remove:
                hook(key)

    def remove(self, key: str) -> None:
        """Drop the session and, as the engine did, every expired one."""
        self._drop(key)
        now = now_ms()
        for k in [k for k, s in self._by_key.items() if s.expires <= now]:
            self._drop(k)
        for user in list(self._by_user):
            keys = [k for k in self._by_user[user] if k in self._by_key]
            if keys:
                self._by_user[user] = keys
            else:
                del self._by_user[user]
