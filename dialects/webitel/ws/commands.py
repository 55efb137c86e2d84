"""The `exec-func` commands: each answers `(exec-complete, exec-response)` as the engine's
`getCommandResponseJSON` did (responseTemplate.js), with FreeSWITCH's reply texts, whichever
switch holds the channel.

A FreeSWITCH body decides the literal by its first word (`-ERR`/`-USAGE` -> "-ERR", else
"+OK"); a failure before any switch command is the engine's falsy answer ("-ERR: bad
response", no `exec-response`). Tenancy as in REST: a channel outside the caller's domain is
answered as a missing one, and nothing reaches the switch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from gateway.audit import set_actor
from gateway.control import CommandError, Endpoint, NotFound, Unavailable
from gateway.model import Channel, State

from .. import replies, scope
from ..acl import role_for
from ..auth import identify, login_attempt, session_for
from ..causes import cause
from ..channels import BAD_PARAMETERS as REST_BAD_PARAMETERS
from ..channels import listener_for, safe, text_of
from ..errors import WebitelError
from ..render import listing_json
from ..sessions import Session
from .events import REGISTERED
from .headers import event_headers

if TYPE_CHECKING:
    from .socket import Socket

MISSING: Any = object()  # no `exec-response` key at all
Answer = tuple[str, Any]
Command = Callable[["Socket", Session, dict[str, Any]], Awaitable["Answer | None"]]

AUTH_REQUIRED = "-ERR: Authentication required!"
BAD_PARAMETERS = "-ERR: Bad parameters."
INVALID_UUID = "-ERR Invalid uuid\n"
OPERATION_FAILED = "-ERR Operation failed\n"
SETVAR_UNSUPPORTED = "-ERR Operation not supported\n"
_DIGITS = re.compile(r"^[0-9*#A-Da-dwW]{1,64}$")


def body(text: str) -> Answer:
    return ("-ERR" if text.startswith(("-ERR", "-USAGE")) else "+OK", text)


def ok(value: Any) -> Answer:
    return ("+OK", value)


def error(message: str) -> Answer:
    return ("-ERR", message)


def bad() -> Answer:
    """The engine's answer when its service failed before any switch command."""
    return ("-ERR: bad response", MISSING)


def _from_rest(err: WebitelError) -> Answer:
    """A REST error's FreeSWITCH text as a socket answer; one that is not a switch's body
    (no reply, bad parameters) is the falsy answer."""
    return body(err.info) if err.info.startswith("-ERR") else bad()


def _command_error(exc: CommandError) -> Answer:
    if isinstance(exc, NotFound):
        return body(replies.NO_SUCH_CHANNEL)
    if isinstance(exc, Unavailable):
        return bad()
    return body(OPERATION_FAILED)


def _uuids(value: Any) -> list[str]:
    """`channel-uuid` as the browser library sends it: one uuid or several joined by commas."""
    text = text_of(value)
    return [u.strip() for u in text.split(",") if u.strip()] if text else []


def _owned(sock: Socket, who: Session, value: Any) -> Channel | None:
    uid = text_of(value)
    return scope.owned(sock.gw, who, uid) if uid else None


# ------------------------------------------------------------------ session
async def ping(sock: Socket, who: Session | None, args: dict[str, Any]) -> Answer:
    return ok("pong")


async def login(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    sock.logged = True
    sock.hub.set_logged(sock, True)
    return ok("+OK: logged: true")


async def logout(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    sock.logged = False
    sock.hub.set_logged(sock, False)
    return ok("+OK: logged: false")


async def whoami(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    return ok(json.dumps(who.whoami_body(), separators=(",", ":"), ensure_ascii=False))


async def auth(sock: Socket, who: Session | None, args: dict[str, Any]) -> Answer | None:
    if sock.who is not None:
        return None  # only the first successful auth is processed; a later one is not answered
    state = sock.state
    if "key" in args or "token" in args:
        token, key = text_of(args.get("token")) or "", text_of(args.get("key")) or ""
        try:
            session = session_for(state.sessions, token, key, state.options.expired_status)
        except WebitelError as exc:
            return error("Token Expired" if exc.info == "Token Expired" else
                         "Invalid Token or Key")
        token_form = True
    else:
        try:
            attempt = await login_attempt(sock.request, args.get("account"))
            try:
                _acl, fields = identify(sock.gw.directory, args.get("account"),
                                        args.get("secret"))
            except WebitelError:
                await attempt.failed()
                raise
            await attempt.succeeded()
        except WebitelError as exc:
            return ("+ERR", {"login": {"status": exc.status, "message": exc.info}})
        session = Session(key="", expires=0, token="", **fields)
        token_form = False
    limit = state.options.max_socket_per_user
    if session.role_name != "root" and sock.hub.count(session.username) >= limit:
        sock.refused = True  # answered, then closed
        return error(f"Maximum opened socket {limit}")
    sock.who = session
    count = sock.hub.joined(sock)
    return ok(_session_object(sock, session, count, token_form))


def _session_object(sock: Socket, who: Session, count: int, token_form: bool) -> dict[str, Any]:
    obj: dict[str, Any] = {"login": who.username, "role": who.role_name}
    if token_form:
        obj.update({"domain": who.domain, "state": "", "status": "", "cc-agent": False})
    elif who.domain:
        busy = any(ch.state is not State.HUNGUP for ch in sock.gw.store.by_owner(who.user_id))
        obj.update({"domain": who.domain, "state": "NONE",
                    "status": "ISBUSY" if busy else "ONHOOK", "cc-agent": False})
    obj.update({"session": sock.id, "ws-count": count, "cc-logged": False, "acl": who.acl})
    return obj


# ----------------------------------------------------------------- events
def _event_name(args: dict[str, Any]) -> str | None:
    name = args.get("event")
    return name if isinstance(name, str) and name else None


async def subscribe(sock: Socket, who: Session | None, args: dict[str, Any]) -> Answer:
    if who is None:
        return error(AUTH_REQUIRED)
    name = _event_name(args)
    if name is None:
        return error(BAD_PARAMETERS)
    if name not in REGISTERED:
        return error("-ERR: Event unregistered")
    if name in sock.events:
        return error("-ERR: event subscribed!")
    sock.events.add(name)
    sock.hub.subscribers.setdefault(name, set()).add(sock)
    return ok(f"+OK: subscribe {name}")


async def unsubscribe(sock: Socket, who: Session | None, args: dict[str, Any]) -> Answer:
    if who is None:
        return error(AUTH_REQUIRED)
    name = _event_name(args)
    if name is None:
        return error(BAD_PARAMETERS)
    sock.events.discard(name)
    subs = sock.hub.subscribers.get(name)
    if subs is not None:
        subs.discard(sock)
    return ok(f"+OK: unsubscribe {name}")


# -------------------------------------------------------------- originate
def _pairs(value: Any) -> list[tuple[str, str]] | None:
    """`k=v` strings (one or a list) as variables; None when one is not safe to pass on."""
    items = value if isinstance(value, list) else [value] if value else []
    out = []
    for item in items:
        text = text_of(item)
        if text is None:
            return None
        name, sep, val = text.partition("=")
        if not sep or not scope.is_word(name) or not safe(val):
            return None
        out.append((name, val))
    return out


def _variables(who: Session, number: str, args: dict[str, Any]) -> dict[str, str] | None:
    variables = {"w_jsclient_originate_number": number}
    extra = [*(_pairs(args.get("params")) or []), *(_pairs(args.get("auto_answer_param")) or [])]
    if _pairs(args.get("params")) is None or _pairs(args.get("auto_answer_param")) is None:
        return None
    given = args.get("variables")
    if isinstance(given, dict):
        for k, v in given.items():
            text = text_of(v)
            if not scope.is_word(k) or text is None or not safe(text):
                return None
            extra.append((k, text))
    variables.update(extra)
    if who.domain:
        variables["domain_name"] = who.domain
    variables.update(webitel_direction="outbound", ignore_early_media="true")
    return variables


async def _originate(sock: Socket, who: Session, args: dict[str, Any], number: str,
                     more: dict[str, str] | None = None) -> Answer:
    if not safe(number) or not scope.is_word(number):
        return bad()
    user = text_of(args.get("user")) or who.username
    endpoint = scope.phone(sock.gw, who, user)
    variables = _variables(who, number, args)
    if endpoint is None or variables is None:
        return bad()
    variables.update(more or {})
    try:
        result = await sock.gw.control.originate(
            endpoint, number, context="default", caller_id_number=number,
            caller_id_name=number, variables=variables)
    except CommandError as exc:
        return _from_rest(replies.originate_error(exc))
    return body(replies.new_leg(result.channel_id))


async def call(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    number = text_of(args.get("extension"))
    if not number:
        return bad()
    return await _originate(sock, who, args, number)


async def att_xfer2(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    """The browser library's attended transfer: a new call from the agent's phone to the
    target, tagged with the call it transfers."""
    number = (text_of(args.get("extension")) or "").partition("@")[0]
    if not number:
        return bad()
    more: dict[str, str] = {}
    for key in ("channel-uuid", "parent_call_uuid"):
        if args.get(key) is not None and _owned(sock, who, args.get(key)) is None:
            return body(replies.NO_SUCH_CHANNEL)
    parent = text_of(args.get("parent_call_uuid"))
    if parent:
        more["w_jsclient_xtransfer"] = parent
    return await _originate(sock, who, args, number, more)


# --------------------------------------------------------- channel commands
async def hangup(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    ch = _owned(sock, who, args.get("channel-uuid"))
    if ch is None:
        return body(replies.NO_SUCH_CHANNEL)
    try:
        await sock.gw.control.hangup(ch.id, cause(text_of(args.get("cause")), "NORMAL_CLEARING"))
    except CommandError as exc:
        return _from_rest(replies.kill_error(exc))
    return body(replies.KILL_OK)


async def _hold(sock: Socket, who: Session, args: dict[str, Any], mode: str) -> Answer:
    uuids = _uuids(args.get("channel-uuid"))
    if not uuids:
        return bad()
    answer = body(replies.HOLD_OK)
    for uid in uuids:
        ch = scope.owned(sock.gw, who, uid)
        if ch is None:
            answer = body(replies.HOLD_OK)  # FreeSWITCH 1.11's answer for an unknown uuid
            continue
        on = (not ch.held) if mode == "toggle" else mode == "on"
        try:
            if on:
                await sock.gw.control.hold(ch.id)
            else:
                await sock.gw.control.unhold(ch.id)
            answer = body(replies.HOLD_OK)
        except CommandError as exc:
            err = replies.hold_error(exc)
            answer = body(replies.HOLD_OK) if err is None else _from_rest(err)
    return answer


async def hold(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    return await _hold(sock, who, args, "on")


async def unhold(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    return await _hold(sock, who, args, "off")


async def toggle_hold(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    return await _hold(sock, who, args, "toggle")


async def transfer(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    destination = text_of(args.get("destination"))
    ch = _owned(sock, who, args.get("channel-uuid"))
    if ch is None:
        return body(replies.NO_SUCH_CHANNEL)
    if not destination or not scope.is_word(destination):
        return bad()
    try:
        await sock.gw.control.transfer(ch.id, destination)
    except CommandError as exc:
        return _command_error(exc)
    return body("+OK\n")


async def _bridge(sock: Socket, who: Session, a: Any, b: Any) -> Answer:
    one, other = _owned(sock, who, a), _owned(sock, who, b)
    if one is None or other is None or one is other:
        return body(INVALID_UUID)
    try:
        await sock.gw.control.bridge(one.id, other.id)
    except CommandError as exc:
        return _command_error(exc)
    return body(f"+OK {other.id}\n")


async def bridge(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    return await _bridge(sock, who, args.get("channel_uuid_A"), args.get("channel_uuid_B"))


async def att_xfer_bridge(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    for key in ("channel-uuid-leg-a", "channel-uuid-leg-d"):
        if args.get(key) is not None and _owned(sock, who, args.get(key)) is None:
            return body(INVALID_UUID)
    return await _bridge(sock, who, args.get("channel-uuid-leg-b"),
                         args.get("channel-uuid-leg-c"))


async def att_xfer_cancel(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    return await hangup(sock, who, {"channel-uuid": args.get("channel-uuid-leg-c")})


async def dtmf(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    digits = text_of(args.get("digits"))
    uuids = _uuids(args.get("channel-uuid"))
    if not digits or not _DIGITS.match(digits) or not uuids:
        return bad()
    for uid in uuids:
        ch = scope.owned(sock.gw, who, uid)
        if ch is None:
            return body(replies.NO_SUCH_CHANNEL)
        try:
            await sock.gw.control.send_dtmf(ch.id, digits)
        except CommandError as exc:
            return _command_error(exc)
    return body(f"+OK {digits}")  # the engine's rewrite of uuid_recv_dtmf's empty body


async def eavesdrop(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    target_id = text_of(args.get("channel-uuid"))
    if not target_id or target_id == "all":
        return bad()  # `all` is root's, and no normalized command listens to every call
    user = text_of(args.get("user")) or who.username
    try:
        listener, variables = listener_for(sock.gw, who, user, args, text_of(args.get("side")))
    except WebitelError as exc:
        if exc.info == REST_BAD_PARAMETERS:
            return bad()
        raise
    target = scope.owned(sock.gw, who, target_id)
    if target is None:
        return body(replies.NO_SUCH_CHANNEL)
    return await _listen(sock, target, listener, variables)


async def _listen(sock: Socket, target: Channel, listener: Endpoint,
                  variables: dict[str, str]) -> Answer:
    try:
        result = await sock.gw.control.eavesdrop(target.id, listener, variables=variables)
    except CommandError as exc:
        return _from_rest(replies.originate_error(exc))
    return body(replies.new_leg(result.channel_id))


async def channel_dump(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    """`uuid_dump <uuid> json`, from the store: the channel's event headers as a JSON text."""
    ch = _owned(sock, who, args.get("uuid"))
    if ch is None:
        return body(replies.NO_SUCH_CHANNEL)
    headers = event_headers(ch, "CHANNEL_DATA", scope.realm_of(sock.gw, ch))
    return body(json.dumps(headers, separators=(",", ":"), ensure_ascii=False))


async def getvar(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    ch = _owned(sock, who, args.get("channel-uuid"))
    if ch is None:
        return body(replies.NO_SUCH_CHANNEL)
    name = text_of(args.get("variable"))
    if not name:
        return body("-ERR No variable name specified!\n")
    headers = event_headers(ch, "CHANNEL_DATA", scope.realm_of(sock.gw, ch))
    return body(headers.get(f"variable_{name}") or "_undef_")


async def setvar(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    ch = _owned(sock, who, args.get("channel-uuid"))
    if ch is None:
        return body(replies.NO_SUCH_CHANNEL)
    if not text_of(args.get("variable")):
        return body("-ERR No variable specified\n")
    return body(SETVAR_UNSUPPORTED)  # no normalized command writes switch variables


async def show_channel(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    channels = scope.visible(sock.gw, who, text_of(args.get("domain")) or None)
    rows = sock.state.rows
    text = listing_json([rows.get(ch) for ch in sorted(channels, key=lambda c: c.created)],
                        envelope=False)
    return ok(json.loads(text))


async def account_list(sock: Socket, who: Session, args: dict[str, Any]) -> Answer:
    """`api account list`: the domain's users, which the browser library waits for before it
    is ready. A domain user lists its own domain whatever it names."""
    directory = sock.gw.directory
    realm = who.domain or text_of(args.get("domain")) or ""
    account = directory.account_by_realm(realm) if realm else None
    if account is None:
        return ok({"response": "{}"})
    users: dict[str, Any] = {}
    for user in directory.users_of(account.id):
        login = f"{user.username}@{account.realm}"
        busy = any(ch.state is not State.HUNGUP for ch in sock.gw.store.by_owner(user.id))
        users[user.username] = {
            "id": user.username, "domain": account.realm, "name": user.name,
            "role": _role_name(user.role), "extension": user.extension,
            "online": sock.hub.online(login), "state": "NONE",
            "status": "ISBUSY" if busy else "ONHOOK",
        }
    return ok({"response": json.dumps(users, separators=(",", ":"), ensure_ascii=False)})


def _role_name(callgate_role: str) -> str:
    return role_for(callgate_role).name


# ------------------------------------------------------------------ table
_OPEN: dict[str, Callable[..., Awaitable[Answer | None]]] = {"auth": auth, "ping": ping}
_AUTHED: dict[str, Command] = {
    "login": login, "logout": logout, "whoami": whoami,
    "call": call, "hangup": hangup, "hold": hold, "unhold": unhold, "toggle_hold": toggle_hold,
    "transfer": transfer, "bridge": bridge, "dtmf": dtmf, "eavesdrop": eavesdrop,
    "channel_dump": channel_dump, "getvar": getvar, "setvar": setvar,
    "att_xfer2": att_xfer2, "att_xfer_bridge": att_xfer_bridge,
    "att_xfer_cancel": att_xfer_cancel, "show_channel": show_channel,
    "api account list": account_list,
}
_EVENTS = {"subscribe": subscribe, "unsubscribe": unsubscribe}


def _js_string(value: Any) -> str:
    """How a JavaScript template literal prints a JSON value."""
    if value is None:
        return "undefined"  # an absent `exec-func` (and null prints "null", rarely sent)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join("" if v is None else _js_string(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


async def run(sock: Socket, name: Any, args: dict[str, Any]) -> Answer | None:
    """The answer to one request, or None when the engine sent none."""
    who = sock.who
    if isinstance(name, str) and name in _OPEN:
        return await _OPEN[name](sock, who, args)
    if isinstance(name, str) and name in _EVENTS:
        return await _EVENTS[name](sock, who, args)
    if not isinstance(name, str) or name not in _AUTHED:
        return ("+ERR", f"{_js_string(name)} - not found.")
    if who is None:
        return error(AUTH_REQUIRED)
    set_actor("webitel", who.user_id or who.username, who.username, who.account_id)
    return await _AUTHED[name](sock, who, args)
