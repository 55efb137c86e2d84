"""The one constant-time comparison of secrets (passwords, tokens, API keys, hashes), so no
dialect answers faster for a closer guess."""

from __future__ import annotations

import hmac


def same_secret(given: str | bytes, expected: str | bytes) -> bool:
    """True when `given` equals `expected`, in time independent of where they differ. Text is
    compared as UTF-8; a lone surrogate in `given` (from a percent-decoded query) never
    matches instead of raising."""
    a = given.encode("utf-8", "surrogatepass") if isinstance(given, str) else given
    b = expected.encode("utf-8", "surrogatepass") if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)
