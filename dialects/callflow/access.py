"""The `auth` step of every call-flow-control endpoint: the request's parameters (query and
form body) and the agent behind its `token`, who must hold one of the endpoint's groups."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from gateway.audit import set_actor

from .auth import Agent, authenticate
from .errors import not_authorized, too_many_failures
from .params import params
from .state import STATE, CallflowState


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler gets once the token is accepted."""

    agent: Agent
    params: dict[str, str]
    state: CallflowState


Groups = tuple[str, ...]


async def guarded(request: web.Request, state: CallflowState, token: str,
                  wanted: Groups) -> Agent:
    """`authenticate` behind the login throttle: a token that names nobody counts as a failed
    login of the client's address (a missing token does not); while locked every token is
    refused, a valid one included."""
    if not token:
        return await authenticate(state.auth, token, wanted)
    attempt = await state.auth.gw.logins.attempt(request, "callflow")
    if attempt.locked:
        raise too_many_failures()
    agent = await state.auth.agent(token)
    if agent is None:
        await attempt.failed()
        raise not_authorized()
    await attempt.succeeded()
    if not agent.allowed(wanted):
        raise not_authorized()
    return agent


def token_auth(groups: Groups | Mapping[str, Groups]) -> Callable[
        [web.Request], Awaitable[Context]]:
    """An endpoint's `auth`: `groups` may differ by method (DELETE of a call is a hangup)."""
    async def auth(request: web.Request) -> Context:
        state = request.app[STATE]
        values = await params(request, state.max_body)
        wanted = groups if isinstance(groups, tuple) else groups.get(request.method, ())
        agent = await guarded(request, state, values.get("token", ""), wanted)
        set_actor("callflow", agent.user_id, agent.name, agent.account_id)
        return Context(agent, values, state)
    return auth
