"""Crossbar auth tokens as JWTs (reference 4.3): HS256 with the gateway's secret instead of
Kazoo's RS256 key pair, same claims, absolute expiry. The configuration guarantees the secret
(at least 16 characters), so there is no fallback to a random one."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import jwt

from gateway.context import Gateway

from . import errors

ALGORITHM = "HS256"
ISSUER = "kazoo"
_REVOKED = "kazoo.revoked"


def issue(gw: Gateway, account_id: str, owner_id: str, method: str) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "account_id": account_id,
        "method": method,
        "iat": now,
        "exp": now + gw.settings.gateway.token_ttl,
        "iss": ISSUER,
        "jti": secrets.token_hex(8),
    }
    if owner_id:
        claims["owner_id"] = owner_id
    return jwt.encode(claims, gw.settings.gateway.token_secret, algorithm=ALGORITHM,
                      headers={"typ": "JWT"})


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def revoke(gw: Gateway, token: str, exp: int) -> None:
    revoked: dict[str, int] = gw.extras.setdefault(_REVOKED, {})
    now = int(time.time())
    for key in [k for k, e in revoked.items() if e < now]:
        del revoked[key]  # expired tokens are refused anyway
    revoked[_fingerprint(token)] = exp


def verify(gw: Gateway, token: str) -> dict[str, Any]:
    """The claims of a valid token; raises the 401 Kazoo gives for its failure."""
    try:
        claims = jwt.decode(
            token, gw.settings.gateway.token_secret, algorithms=[ALGORITHM], issuer=ISSUER,
            options={"require": ["exp", "iss", "account_id", "method"]},
        )
    except jwt.ExpiredSignatureError:
        raise errors.expired_credentials() from None
    except jwt.InvalidTokenError:
        raise errors.invalid_credentials() from None
    if _fingerprint(token) in gw.extras.get(_REVOKED, {}):
        raise errors.expired_credentials()
    account = gw.directory.account(str(claims["account_id"]))
    owner = claims.get("owner_id")
    if account is None or (owner and (gw.directory.user(owner) is None
                                      or gw.directory.user(owner).account != account.id)):
        raise errors.expired_credentials()  # the identity no longer exists: token not found
    return claims
