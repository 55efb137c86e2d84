"""Tokens already verified, by token string: a list poller sends the same token every few
seconds, and decoding it (signature, base64, claims) costs more than serving the list.

An entry holds only what verification found (the claims, the integer `exp` and the token's
fingerprint); whatever can change after that is still checked on every use: expiry (pyjwt's
rule, `exp <= now` is expired), revocation (the fingerprint is looked up in the revocation map,
so a token revoked on another instance is refused here too), and the directory (the caller
looks the account and owner up each time). Only tokens that passed verification enter, so
forged tokens cannot fill it; it is bounded all the same.
"""

from __future__ import annotations

import time
from typing import Any

#: Entries kept at most; expired ones go first, then the oldest.
LIMIT = 4096


class VerifiedTokens:
    __slots__ = ("_entries", "limit")

    def __init__(self, limit: int = LIMIT) -> None:
        self._entries: dict[str, tuple[int, dict[str, Any], str]] = {}
        self.limit = limit

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> tuple[int, dict[str, Any], str] | None:
        """(exp, claims, fingerprint) of a token verified before, expired or revoked or not
        (the caller decides)."""
        return self._entries.get(token)

    def put(self, token: str, exp: int, claims: dict[str, Any], fingerprint: str) -> None:
        entries = self._entries
        if token not in entries and len(entries) >= self.limit:
            now = time.time()
            for key in [k for k, (e, _, _) in entries.items() if e <= now]:
                del entries[key]
            while len(entries) >= self.limit:
                del entries[next(iter(entries))]  # the oldest
        entries[token] = (exp, claims, fingerprint)

    def discard(self, token: str) -> None:
        self._entries.pop(token, None)
