"""The channel routes (v2 and v1): list from the store, commands through `gw.control`, answers
in FreeSWITCH's words.

Stricter than the engine: every uuid route checks the channel's domain and answers a foreign
uuid exactly as FreeSWITCH answers an unknown one, without sending anything to the switch.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from gateway.context import GATEWAY, Gateway
from gateway.control import CommandError, Endpoint
from gateway.model import Channel, State

from . import replies, scope
from .body import body_of
from .causes import cause
from .errors import WebitelError, reply, reply_text
from .listing import listing
from .render import listing_json
from .replies import ok
from .sessions import Session
from .state import STATE

#: characters that would split or end an originate variable list or argument
_UNSAFE = frozenset(" \t\r\n,{}[]'\"")
BAD_PARAMETERS = "Bad parameters"


def _gw(request: web.Request) -> Gateway:
    return request.app[GATEWAY]


def text_of(value: Any) -> str | None:
    """A body field as the engine used it: strings and numbers, nothing else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        return str(value)
    return None


def safe(value: str) -> bool:
    return bool(value) and _UNSAFE.isdisjoint(value)


# ------------------------------------------------------------------------ list
async def list_channels(request: web.Request, who: Session) -> web.Response:
    gw, state = _gw(request), request.app[STATE]
    account = scope.visible_account(gw, who, request.query.get("domain") or None)
    if account == "":
        return reply_text(listing_json([], state.options.list_envelope))
    return reply_text(listing(gw, state, account))


# ------------------------------------------------------------------- originate
def _variables(body: dict[str, Any], called: str) -> dict[str, str]:
    variables = {"w_jsclient_originate_number": called}
    param = text_of(body.get("auto_answer_param"))
    if param:
        name, sep, value = param.partition("=")
        if not sep or not scope.is_word(name) or not safe(value):
            raise WebitelError(500, BAD_PARAMETERS)
        variables[name] = value
    return variables


async def originate(request: web.Request, who: Session) -> web.Response:
    gw = _gw(request)
    body = body_of(request)
    called = text_of(body.get("calledId"))
    if not called or not safe(called):
        raise WebitelError(500, BAD_PARAMETERS)
    caller = text_of(body.get("callerId")) or who.username
    endpoint = scope.phone(gw, who, caller)
    if endpoint is None or not safe(caller):
        raise WebitelError(500, BAD_PARAMETERS)
    try:
        result = await gw.control.originate(
            endpoint, called, context="default", caller_id_number=caller,
            caller_id_name=caller, variables=_variables(body, called))
    except CommandError as exc:
        raise replies.originate_error(exc) from None
    return reply(ok(replies.new_leg(result.channel_id)))


# ---------------------------------------------------------------------- hangup
async def hangup(request: web.Request, who: Session) -> web.Response:
    gw = _gw(request)
    ch = scope.owned(gw, who, request.match_info["id"])
    if ch is None:
        raise WebitelError(500, replies.NO_SUCH_CHANNEL)
    try:
        await gw.control.hangup(ch.id, cause(request.query.get("cause"), "NORMAL_CLEARING"))
    except CommandError as exc:
        raise replies.kill_error(exc) from None
    return reply(ok(replies.KILL_OK))


async def _hangup_all(gw: Gateway, channels: list[Channel], why: str) -> None:
    """hupall: FreeSWITCH answers +OK whatever happens to each channel."""
    async def kill(ch: Channel) -> None:
        try:
            await gw.control.hangup(ch.id, why)
        except CommandError:
            pass

    await asyncio.gather(*(kill(ch) for ch in channels))


async def hangup_domain(request: web.Request, who: Session) -> web.Response:
    gw = _gw(request)
    domain = who.domain or request.match_info["domain"]
    why = cause(request.query.get("cause"), "MANAGER_REQUEST")
    await _hangup_all(gw, [c for c in scope.visible(gw, who, domain) if c.state != State.HUNGUP],
                      why)
    return reply(ok(replies.hupall(why, domain)))


async def hangup_everything(request: web.Request, who: Session) -> web.Response:
    """`DELETE /api/v1/channels`: root's `hupall` without a filter."""
    gw = _gw(request)
    why = cause(request.query.get("cause"), "MANAGER_REQUEST")
    await _hangup_all(gw, [c for c in scope.visible(gw, who) if c.state != State.HUNGUP], why)
    return reply(ok(replies.hupall(why, None)))


# ------------------------------------------------------------------------ hold
async def set_state(request: web.Request, who: Session) -> web.Response:
    gw = _gw(request)
    state = body_of(request).get("state")
    if state is None or state == "":
        raise WebitelError(400, "Bad request")
    if state not in ("hold", "unhold"):
        raise WebitelError(400, "Bad request.")
    ch = scope.owned(gw, who, request.match_info["id"])
    if ch is None:
        return reply(ok(replies.HOLD_OK))  # FreeSWITCH 1.11's answer for an unknown uuid
    try:
        if state == "hold":
            await gw.control.hold(ch.id)
        else:
            await gw.control.unhold(ch.id)
    except CommandError as exc:
        err = replies.hold_error(exc)
        if err is not None:
            raise err from None
    return reply(ok(replies.HOLD_OK))


# ------------------------------------------------------------------- eavesdrop
def _spy_variables(display: str | None, side: str) -> dict[str, str]:
    variables = {"origination_caller_id_name": side, "origination_caller_id_number": side}
    if display:
        variables["origination_callee_id_number"] = display
    return variables


async def _listen(gw: Gateway, target: Channel, listener: Endpoint,
                  variables: dict[str, str]) -> web.Response:
    try:
        result = await gw.control.eavesdrop(target.id, listener, variables=variables)
    except CommandError as exc:
        raise replies.originate_error(exc) from None
    return reply(ok(replies.new_leg(result.channel_id)))


def listener_for(gw: Gateway, who: Session, user: str, body: dict[str, Any],
              query_side: str | None) -> tuple[Endpoint, dict[str, str]]:
    """The listening phone and its caller-id variables. A domain caller's `user` is rewritten
    into its own domain, as the engine did."""
    if who.domain:
        user = f"{user.partition('@')[0]}@{who.domain}"
    listener = scope.phone(gw, who, user)
    display = text_of(body.get("display"))
    side = query_side or text_of(body.get("side")) or user
    if listener is None or not safe(side) or (display is not None and not safe(display)):
        raise WebitelError(500, BAD_PARAMETERS)
    return listener, _spy_variables(display, side)


async def eavesdrop(request: web.Request, who: Session) -> web.Response:
    gw = _gw(request)
    target_id = request.match_info["id"]
    if target_id == "all" and who.domain:
        raise WebitelError(500, "Permission denied.")
    body = body_of(request)
    user = text_of(body.get("user")) or who.username
    listener, variables = listener_for(gw, who, user, body, request.query.get("side"))
    target = scope.owned(gw, who, target_id)
    if target is None:
        raise WebitelError(500, replies.NO_SUCH_CHANNEL)
    return await _listen(gw, target, listener, variables)


def _spied_channel(gw: Gateway, domain: str, user: str) -> Channel | None:
    """The live call of phone `user` in `domain` that `userspy` would attach to: answered
    first, then the newest."""
    account = gw.directory.account_by_realm(domain)
    if account is None or not scope.is_word(user):
        return None
    dev = gw.directory.device_by_sip(user, account.realm) or gw.directory.device_by_extension(
        account.id, user)
    if dev is None:
        return None
    live = [ch for ch in gw.store.by_device(dev.id)
            if ch.state != State.HUNGUP and ch.account_id == account.id]
    if not live:
        return None
    return max(live, key=lambda ch: (ch.answered, ch.created))


async def spy(request: web.Request, who: Session) -> web.Response:
    gw = _gw(request)
    body = body_of(request)
    domain = who.domain or request.query.get("domain", "")
    if not domain:
        raise WebitelError(400, "Bad domain name")
    user = text_of(body.get("user"))
    if not user:
        raise WebitelError(400, "Bad spy user")
    # the listener is user/<user>@<dom>: always in the spied domain
    user = f"{user.partition('@')[0]}@{domain}"
    listener, variables = listener_for(gw, who, user, body, request.query.get("side"))
    target = _spied_channel(gw, domain, request.match_info["id"])
    if target is None:
        raise WebitelError(500, replies.NO_SUCH_CHANNEL)
    return await _listen(gw, target, listener, variables)
