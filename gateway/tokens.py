"""Signed tokens for every dialect: pyjwt, HS256 only, and an issuer each dialect must name and
verification requires. The dialects share the gateway's one secret, so the issuer is what keeps
a token minted by one dialect from opening another."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import jwt

ALGORITHM = "HS256"


class TokenInvalid(Exception):
    """Malformed, forged, of another issuer, or signed with anything but HS256."""


class TokenExpired(TokenInvalid):
    """Well signed but past its `exp` (only where `exp` is in seconds and checked here)."""


class TokenSigner:
    """Issues and verifies one dialect's tokens."""

    def __init__(self, secret: str, issuer: str) -> None:
        if not secret or not issuer:
            raise ValueError("a token signer needs a secret and an issuer")
        self._secret = secret
        self.issuer = issuer

    def issue(self, claims: Mapping[str, Any], *, headers: Mapping[str, Any] | None = None,
              sort_headers: bool = True) -> str:
        """A token carrying `claims` and this signer's `iss` (claims keep their order)."""
        payload = {**claims, "iss": self.issuer}
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM,
                          headers=dict(headers) if headers else None, sort_headers=sort_headers)

    def verify(self, token: str, *, require: Iterable[str] = (),
               check_exp: bool = True) -> dict[str, Any]:
        """The claims of a token this signer issued; `check_exp` False for a dialect whose
        `exp` is not in seconds (it checks expiry itself)."""
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], issuer=self.issuer,
                options={"require": ["iss", *require], "verify_exp": check_exp,
                         "verify_iat": False, "verify_nbf": False},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired from None
        except jwt.PyJWTError:
            raise TokenInvalid from None
        if not isinstance(claims, dict):
            raise TokenInvalid
        return claims
