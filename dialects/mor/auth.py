"""Who is calling: the MOR hash (`sha1(values + API Secret Key)`), logins, and v2 JWTs.

The key is the caller owner's: the nearest `mor_api_secret` up the account tree (a reseller's own
key), else the admin's `api_secret`. Comparisons are constant-time so a hash cannot be guessed
byte by byte.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from functools import lru_cache

from aiohttp import BasicAuth, web

from gateway.context import Gateway
from gateway.credentials import same_secret
from gateway.directory import User
from gateway.tokens import TokenExpired, TokenInvalid

from .errors import FilterError, MethodError, RestError
from .settings import MorSettings
from .state import MorState

TOKEN_TTL = 15 * 60  # X19: access tokens live 15 minutes
ACCESS_DENIED = "Access Denied"


def sha1_hex(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=256)
def _key_hash(key: str) -> str:
    """`sha1(key)`, the same for every request signed with that key."""
    return sha1_hex(key)


def api_keys(gw: Gateway, opts: MorSettings, user: User) -> list[str]:
    """The keys a user may sign with: its owner's, plus the admin's for resellers' users when
    the admin allows that (MOR X8 `compare_system_and_hashes`)."""
    directory = gw.directory
    for account_id in (user.account, *directory.ancestors(user.account)):
        acc = directory.account(account_id)
        if acc is not None and acc.mor_api_secret:
            keys = [acc.mor_api_secret]
            if opts.resellers_accept_admin_key and opts.api_secret:
                keys.append(opts.api_secret)
            return keys
    return [opts.api_secret] if opts.api_secret else []


def hash_matches(opts: MorSettings, given: str, values: Sequence[str], keys: Sequence[str]
                 ) -> bool:
    """Exactly 40 lower-case hex of `sha1(values + key)`; with `lenient_hash` also
    `sha1(key)`, the form the wiki's own example uses."""
    if len(given) != 40:
        return False
    joined = "".join(values)
    ok = False
    for key in keys:
        ok |= same_secret(given, sha1_hex(joined + key))
        if opts.lenient_hash:
            ok |= same_secret(given, _key_hash(key))
    return ok


def find_users(gw: Gateway, login: str) -> list[User]:
    """By username; by e-mail as MOR's "Allow login by email" does when no username fits."""
    if not login:
        return []
    found = gw.directory.users_by_username(login)
    if not found and "@" in login:
        found = [u for u in gw.directory.users.values()
                 if u.email and u.email.lower() == login.lower()]
    return found


#: Signatures verified before, at most this many (then forgotten at once).
MAX_SIGNED = 1024

Signed = dict[tuple[str, ...], User]


def signature(params: dict[str, str], hashed: Sequence[str]) -> tuple[str, ...]:
    """What a signature is remembered by: the hash and the values it covers, named."""
    return (params.get("hash", ""), *hashed, *[params.get(name, "") for name in hashed])


def authenticate(gw: Gateway, opts: MorSettings, params: dict[str, str],
                 hashed: Sequence[str], signed: Signed | None = None) -> User:
    """MOR's before-filters for a hash-protected method: unknown user -> `Access Denied` (the
    method answers), no key -> `API must have Secret Key`, bad hash -> `Incorrect hash`.

    `signed` remembers signatures that passed (`signature`): the directory and the keys are
    fixed for the gateway's life, so the same signature over the same values names the same
    user, and a poller's next request may skip the SHA-1 (routes.signed_user). Only passes are
    kept; a lookup takes the whole signature, so a guess learns nothing byte by byte."""
    user = _authenticate(gw, opts, params, hashed)
    if signed is not None and not opts.disable_hash_checking:
        if len(signed) >= MAX_SIGNED:
            signed.clear()
        signed[signature(params, hashed)] = user
    return user


def _authenticate(gw: Gateway, opts: MorSettings, params: dict[str, str],
                  hashed: Sequence[str]) -> User:
    users = find_users(gw, params.get("u", ""))
    if not users:
        raise MethodError(ACCESS_DENIED)
    if opts.disable_hash_checking:
        if len(users) > 1:
            raise MethodError(ACCESS_DENIED)
        return users[0]
    given = params.get("hash", "")
    values = [params.get(name, "") for name in hashed]
    keyless = 0
    for user in users:
        keys = api_keys(gw, opts, user)
        if not keys:
            keyless += 1
            continue
        if hash_matches(opts, given, values, keys):
            return user
    if keyless == len(users):
        raise FilterError("API must have Secret Key")
    raise FilterError("Incorrect hash")


def check_password(user: User, password: str) -> bool:
    """The password, or MOR's own stored SHA1 of it for a user imported from MOR."""
    if user.password_sha1 and same_secret(sha1_hex(password), user.password_sha1):
        return True
    return bool(user.password) and same_secret(password, user.password)


# ------------------------------------------------------------------------------ v2 (JWT)


def issue_token(state: MorState, user: User) -> tuple[str, int]:
    """A 15-minute token with MOR's claims, in the order its own tokens list them."""
    now = int(time.time())
    devices = ",".join(str(d.number) for d in state.gw.directory.devices_of_owner(user.id))
    claims = {"assigned_devices": devices, "exp": now + TOKEN_TTL, "iat": now,
              "iss": state.signer.issuer, "sub": user.username, "uid": user.id}
    return state.signer.issue(claims), now + TOKEN_TTL


async def basic_login(gw: Gateway, request: web.Request) -> User:
    """Basic credentials behind the login throttle: while the address or the login is locked,
    MOR's REST JSON error with 429 and `Retry-After`, even for the right password."""
    header = request.headers.get("Authorization", "")
    try:
        creds = BasicAuth.decode(header) if header else None
    except ValueError:
        creds = None
    if creds is not None:
        attempt = await gw.logins.attempt(request, "mor", creds.login)
        if attempt.locked:
            raise RestError(429, "Too many login attempts",
                            {"Retry-After": str(attempt.retry_after)})
        for user in find_users(gw, creds.login):
            if check_password(user, creds.password):
                await attempt.succeeded()
                return user
        await attempt.failed()
    raise RestError(401, "Invalid username or password",
                    {"WWW-Authenticate": 'Basic realm="MOR API"'})


def bearer_user(state: MorState, request: web.Request) -> User:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise RestError(401, "Authorization token is missing")
    try:
        claims = state.signer.verify(token.strip(), require=("exp", "iat", "sub", "uid"))
    except TokenExpired:
        raise RestError(401, "Authorization token has expired") from None
    except TokenInvalid:
        raise RestError(401, "Authorization token is invalid") from None
    user = state.gw.directory.user(str(claims["uid"]))
    if user is None or user.username != claims["sub"]:
        raise RestError(401, "Authorization token is invalid")
    return user
