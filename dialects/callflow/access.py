"""The `auth` step of every call-flow-control endpoint: the request's parameters (query and
form body) and the agent behind its `token`, who must hold one of the endpoint's groups."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from .auth import Agent, authenticate
from .params import params
from .state import STATE, CallflowState


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler gets once the token is accepted."""

    agent: Agent
    params: dict[str, str]
    state: CallflowState


Groups = tuple[str, ...]


def token_auth(groups: Groups | Mapping[str, Groups]) -> Callable[
        [web.Request], Awaitable[Context]]:
    """An endpoint's `auth`: `groups` may differ by method (DELETE of a call is a hangup)."""
    async def auth(request: web.Request) -> Context:
        state = request.app[STATE]
        values = await params(request, state.max_body)
        wanted = groups if isinstance(groups, tuple) else groups.get(request.method, ())
        agent = await authenticate(state.auth, values.get("token", ""), wanted)
        return Context(agent, values, state)
    return auth
