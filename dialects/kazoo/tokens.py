"""Crossbar auth tokens as JWTs (reference 4.3): HS256 with the gateway's secret instead of
Kazoo's RS256 key pair, same claims, absolute expiry, issuer "kazoo" (so no other dialect's
token opens crossbar). Revoked tokens are remembered in the dialect's state until they expire;
tokens already verified are kept by their string (`verified.VerifiedTokens`), so a poller's
token is decoded once, while expiry, revocation and the directory are checked on every use."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from gateway.tokens import TokenExpired, TokenInvalid

from . import errors
from .state import KazooState

REQUIRED = ("exp", "account_id", "method")


def issue(state: KazooState, account_id: str, owner_id: str, method: str) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "account_id": account_id,
        "method": method,
        "iat": now,
        "exp": now + state.gw.settings.gateway.token_ttl,
        "jti": secrets.token_hex(8),
    }
    if owner_id:
        claims["owner_id"] = owner_id
    return state.signer.issue(claims, headers={"typ": "JWT"})


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def revoke(state: KazooState, token: str, exp: int) -> None:
    revoked = state.revoked
    now = int(time.time())
    for key in [k for k, e in revoked.items() if e < now]:
        del revoked[key]  # expired tokens are refused anyway
    revoked[_fingerprint(token)] = exp
    state.verified.discard(token)


def verify(state: KazooState, token: str) -> dict[str, Any]:
    """The claims of a valid token; raises the 401 Kazoo gives for its failure."""
    hit = state.verified.get(token)
    if hit is not None:
        exp, claims, fingerprint = hit
        if exp <= time.time():  # pyjwt's own rule, as on the first use
            state.verified.discard(token)
            raise errors.expired_credentials()
        if fingerprint in state.revoked:  # revoked here or on another instance
            state.verified.discard(token)
            raise errors.expired_credentials()
    else:
        try:
            claims = state.signer.verify(token, require=REQUIRED)
        except TokenExpired:
            raise errors.expired_credentials() from None
        except TokenInvalid:
            raise errors.invalid_credentials() from None
        fingerprint = _fingerprint(token)
        if fingerprint in state.revoked:
            raise errors.expired_credentials()
        # pyjwt checked that `exp` reads as an integer
        state.verified.put(token, int(claims["exp"]), claims, fingerprint)
    directory = state.gw.directory
    account = directory.account(str(claims["account_id"]))
    owner = claims.get("owner_id")
    user = directory.user(owner) if owner else None
    if account is None or (owner and (user is None or user.account != account.id)):
        raise errors.expired_credentials()  # the identity no longer exists: token not found
    return dict(claims)  # the cached claims stay as verified
