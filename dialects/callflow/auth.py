"""Agent tokens: the `token` query parameter on every request, checked against the static
per-user tokens in the directory or, as the original did, with `GET <auth_server>/token/<token>`.

An external identity is tied to a directory user by its integer `id` (the user's `number`): the
auth server knows nothing of organizations, and tenancy must come from our own directory.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp

from gateway.context import Gateway
from gateway.credentials import same_secret

from .errors import not_authorized
from .settings import CallflowSettings

log = logging.getLogger("callgate.callflow")

RECEPTIONIST = "Receptionist"
ADMINISTRATOR = "Administrator"
#: The gateway's roles: agent = Receptionist, admin = Administrator (who also answers calls).
ROLE_GROUPS = {"agent": (RECEPTIONIST,), "admin": (RECEPTIONIST, ADMINISTRATOR)}
MAX_TOKEN = 512


@dataclass(frozen=True, slots=True)
class Agent:
    """The authenticated user, scoped to one organization (account)."""

    number: int  # the agent id clients see
    user_id: str
    name: str
    extension: str
    groups: tuple[str, ...]
    account_id: str
    realm: str

    @property
    def is_admin(self) -> bool:
        return ADMINISTRATOR in self.groups

    def allowed(self, groups: tuple[str, ...]) -> bool:
        return any(g in self.groups for g in groups)


class TokenAuth:
    """Resolves tokens; remote answers are cached for `token_cache_seconds`."""

    def __init__(self, gw: Gateway, options: CallflowSettings) -> None:
        self.gw = gw
        self.options = options
        self._cache: dict[str, tuple[float, Agent]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def agent(self, token: str) -> Agent | None:
        if not token or len(token) > MAX_TOKEN:
            return None
        if not self.options.auth_server:
            return self._static(token)
        hit = self._cache.get(token)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        agent = await self._remote(token)
        if agent is not None and self.options.token_cache_seconds > 0:
            if len(self._cache) > 10_000:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            self._cache[token] = (now + self.options.token_cache_seconds, agent)
        return agent

    def _static(self, token: str) -> Agent | None:
        user = self.gw.directory.user_by_token(token)
        if user is None or not same_secret(token, user.callflow_token):
            return None
        return self._make(user.number, user.extension, ROLE_GROUPS.get(user.role, ()), user.name)

    def _make(self, number: int, extension: str, groups: tuple[str, ...],
              name: str) -> Agent | None:
        d = self.gw.directory
        user = d.user_by_number(number)
        if user is None:
            return None
        account = d.account(user.account)
        return Agent(number=number, user_id=user.id, name=name or user.name,
                     extension=extension or user.extension, groups=groups,
                     account_id=user.account, realm=account.realm if account else "")

    async def _remote(self, token: str) -> Agent | None:
        """Any failure or non-200 answer means "no user", as in the original."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        url = f"{self.options.auth_server}/token/{quote(token, safe='')}"
        try:
            async with self._session.get(url) as resp:
                if resp.status != 200:
                    return None
                doc = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError):
            log.warning("callflow: auth server %s unreachable or answered garbage",
                        self.options.auth_server)
            return None
        if not isinstance(doc, dict):
            return None
        uid, groups = doc.get("id"), doc.get("groups", [])
        if isinstance(uid, str) and uid.isdigit():
            uid = int(uid)
        if isinstance(uid, bool) or not isinstance(uid, int) or not isinstance(groups, list):
            return None
        ext = doc.get("extension")
        name = doc.get("name")
        return self._make(uid, ext if isinstance(ext, str) else "",
                          tuple(g for g in groups if isinstance(g, str)),
                          name if isinstance(name, str) else "")


async def authenticate(auth: TokenAuth, token: str, groups: tuple[str, ...]) -> Agent:
    """The agent behind `token` holding one of `groups`, or the native 401."""
    agent = await auth.agent(token)
    if agent is None or not agent.allowed(groups):
        raise not_authorized()
    return agent
