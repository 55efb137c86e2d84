"""What POST actions and PUT metaflows do, executed for real through `gw.control` (where Kazoo
only casts to Konami): parameters read as cb_channels reads them (reference 1.5), the 400 bodies
it sends, and switch failures reported instead of a false success."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from gateway import control
from gateway.control import Endpoint
from gateway.model import Channel

from . import errors
from .crossbar import Crossbar

Lookup = Callable[[str], Any]
Runner = Callable[[Crossbar, Channel, Lookup], Awaitable[None]]


def _type_error(key: str, kind: str) -> errors.KazooError:
    return errors.validation(key, "type", f"Value did not match type(s): {kind}", target=[kind])


def _text(get: Lookup, key: str) -> str:
    value = get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _type_error(key, "string")
    return str(value).strip()


def _flag(get: Lookup, key: str, default: bool) -> bool:
    value = get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _type_error(key, "boolean")


async def _run(ch: Channel, command: Awaitable[control.Result]) -> None:
    try:
        await command
    except control.CommandError as exc:
        raise errors.from_command(exc, ch.id) from None


# ------------------------------------------------------------------ transfer, hangup, break
def _leg(get: Lookup) -> str:
    leg = _text(get, "leg") or "self"
    if leg not in ("self", "bleg", "both"):
        raise errors.validation("leg", "enum", "Value not found in enumerated list of values",
                                target=["self", "bleg", "both"])
    return leg


def _transfer_type(get: Lookup) -> str:
    for key in ("transfer-type", "transfer_type", "Transfer-Type"):
        if get(key) is not None:
            kind = _text(get, key).lower()
            if kind not in ("attended", "blind"):
                raise errors.validation(key, "enum", "Value not found in enumerated list of "
                                        "values", target=["attended", "blind"])
            return kind
    return "blind"


def _need_peer(cb: Crossbar, ch: Channel, key: str, value: str) -> None:
    """A command on the other leg of a channel that has none is the client's mistake: 400,
    before anything reaches the switch (whose refusal would read as a 500)."""
    if cb.gw.store.peer(ch) is None:
        raise errors.validation(key, "invalid", "Channel has no other leg", target=value)


async def transfer(cb: Crossbar, ch: Channel, get: Lookup, *, need_bridge: bool = True) -> None:
    if need_bridge and not ch.bridged:
        raise errors.validation("other_leg_call_id", "required", "Channel is not bridged")
    target = _text(get, "target")
    if not target:
        raise errors.validation("target", "required", "No target destination specified")
    kind, leg = _transfer_type(get), _leg(get)
    if leg != "self":
        _need_peer(cb, ch, "leg", leg)
    if kind == "attended":
        await _run(ch, cb.gw.control.attended_transfer(ch.id, target))
    else:
        await _run(ch, cb.gw.control.transfer(ch.id, target, leg=leg))


async def hangup(cb: Crossbar, ch: Channel, get: Lookup) -> None:
    await _run(ch, cb.gw.control.hangup(ch.id))


async def break_media(cb: Crossbar, ch: Channel, get: Lookup) -> None:
    await _run(ch, cb.gw.control.break_media(ch.id))


async def callflow(cb: Crossbar, ch: Channel, get: Lookup) -> None:
    """A Kazoo callflow id runs the dialplan extension it is mapped to in the settings."""
    flow_id = _text(get, "id")
    if not flow_id:
        raise errors.validation("id", "required", errors.REQUIRED)
    flow = next((f for f in cb.state.options.callflows if f.id == flow_id), None)
    if flow is None:
        raise errors.bad_identifier(flow_id)
    await _run(ch, cb.gw.control.transfer(ch.id, flow.extension, context=flow.context))


# ------------------------------------------------------------------------ intercept, move
def _device_endpoint(cb: Crossbar, device_id: str) -> Endpoint:
    dev = cb.device(device_id)  # never ring another tenant's phone
    if not dev.sip_username:
        raise errors.bad_identifier(device_id)
    account = cb.gw.directory.account(dev.account)
    return Endpoint("device", dev.sip_username, realm=account.realm if account else "")


def _owner_endpoint(cb: Crossbar, user_id: str, skip: str = "") -> Endpoint:
    cb.user(user_id)  # another tenant's user is unknown here
    devices = [d for d in cb.gw.directory.devices_of_owner(user_id)
               if d.sip_username and d.account == cb.account_id]
    preferred = [d for d in devices if d.id != skip] or devices
    if not preferred:
        raise errors.validation("target_id", "invalid", "User has no device to ring")
    return _device_endpoint(cb, preferred[0].id)


def _caller_side(cb: Crossbar, ch: Channel) -> Channel:
    """The leg that stays on the call when a new phone takes it over: the channel itself when
    it is the caller's (inbound) leg, else its bridged or ringing peer."""
    if ch.direction == "inbound":
        return ch
    return _peer(cb, ch) or ch


def _peer(cb: Crossbar, ch: Channel) -> Channel | None:
    peer = cb.gw.store.peer(ch)
    if peer is not None:
        return peer
    if ch.call_id:
        for leg in cb.gw.store.by_call(ch.call_id):
            if leg.id != ch.id:
                return leg
    return None


async def intercept(cb: Crossbar, ch: Channel, get: Lookup) -> None:
    target_type = _text(get, "target_type")
    if not target_type:
        raise errors.validation("target_type", "required", "No target type specified")
    target_id = _text(get, "target_id")
    if not target_id:
        raise errors.validation("target_id", "required", "No target id specified")
    if target_type == "device":
        endpoint = _device_endpoint(cb, target_id)
    elif target_type == "user":
        endpoint = _owner_endpoint(cb, target_id)
    elif target_type == "number":
        endpoint = Endpoint("number", target_id)
    else:
        raise errors.validation("target_type", "enum", "Value not found in enumerated list of "
                                "values", target=["device", "user", "number"])
    if _flag(get, "unbridged_only", True) and ch.bridged:
        raise errors.validation("unbridged_only", "invalid", "Channel is already bridged")
    await _run(ch, cb.gw.control.intercept(_caller_side(cb, ch).id, endpoint))


async def move(cb: Crossbar, ch: Channel, get: Lookup) -> None:
    """Hand the call to another phone: the device given, else a phone of the owner."""
    device_id, owner_id = _text(get, "device_id"), _text(get, "owner_id")
    can_call_self = _flag(get, "can_call_self", True)
    _flag(get, "auto_answer", False)
    if device_id:
        if device_id == ch.authorizing_id and not can_call_self:
            raise errors.validation("device_id", "invalid", "Cannot move a call to itself")
        endpoint = _device_endpoint(cb, device_id)
    else:
        owner = owner_id or ch.owner_id
        if not owner:
            raise errors.validation("owner_id", "required", errors.REQUIRED)
        endpoint = _owner_endpoint(cb, owner, skip=ch.authorizing_id)
    keep = _peer(cb, ch) or ch
    await _run(ch, cb.gw.control.intercept(keep.id, endpoint))


POST_ACTIONS: dict[str, Runner] = {
    "transfer": transfer,
    "hangup": hangup,
    "break": break_media,
    "callflow": callflow,
    "intercept": intercept,
    "move": move,
}


# -------------------------------------------------------------------------- metaflows
async def _hold(cb: Crossbar, ch: Channel, get: Lookup) -> None:
    await _run(ch, cb.gw.control.hold(ch.id))


async def _resume(cb: Crossbar, ch: Channel, get: Lookup) -> None:
    await _run(ch, cb.gw.control.unhold(ch.id))


async def _hold_control(cb: Crossbar, ch: Channel, get: Lookup) -> None:
    action = _text(get, "action") or "toggle"
    hold_it = (not ch.held) if action == "toggle" else action == "hold"
    await _run(ch, cb.gw.control.hold(ch.id) if hold_it else cb.gw.control.unhold(ch.id))


async def _play(cb: Crossbar, ch: Channel, get: Lookup) -> None:
    media = _text(get, "id")
    if not media:
        raise errors.validation("data.id", "required", errors.REQUIRED)
    name = _text(get, "leg") or "both"
    leg = {"self": "aleg", "peer": "bleg", "both": "both"}[name]
    if name == "peer":
        _need_peer(cb, ch, "leg", name)
    await _run(ch, cb.gw.control.play(ch.id, media, leg=leg))


async def _record_call(cb: Crossbar, ch: Channel, get: Lookup) -> None:
    """start / stop / toggle (Kazoo's default) record the call to a file on the switch; Kazoo's
    upload of the result (`url`, `method`, `media_name`...) has no equivalent and is ignored.
    mask / unmask (pause) are refused, never faked."""
    action = _text(get, "action") or "toggle"
    if action in ("mask", "unmask"):
        raise errors.validation("action", "unsupported",
                                f"record_call action {action} cannot be executed by this "
                                "gateway", target=action)
    if action == "toggle":
        action = "stop" if cb.gw.control.recording(ch.id) is not None else "start"
    # the metaflow schema already refused a time_limit that is not an integer of at least 1
    try:
        await cb.gw.control.record(ch.id, action, time_limit=get("time_limit"))
    except control.Rejected:
        if action != "stop":
            raise errors.from_command(control.Rejected(), ch.id) from None
        # both switches refuse a stop only when nothing records the channel: the client's
        # mistake about the channel's state
        raise errors.validation("action", "invalid", "Nothing is recording the channel",
                                target=action) from None
    except control.CommandError as exc:
        raise errors.from_command(exc, ch.id) from None


async def _metaflow_transfer(cb: Crossbar, ch: Channel, get: Lookup) -> None:
    await transfer(cb, ch, get, need_bridge=False)


METAFLOWS: dict[str, Runner] = {
    "hangup": hangup,
    "transfer": _metaflow_transfer,
    "break": break_media,
    "hold": _hold,
    "hold_control": _hold_control,
    "resume": _resume,
    "intercept": intercept,
    "move": move,
    "play": _play,
    "record_call": _record_call,
    "callflow": callflow,
}


def unexecutable(module: str) -> errors.KazooError:
    return errors.validation("module", "unsupported",
                             f"metaflow module {module} cannot be executed by this gateway",
                             target=module)


async def run_metaflow(cb: Crossbar, ch: Channel, flow: dict[str, Any]) -> None:
    """Run the validated node's module now; its DTMF-keyed children need Konami's digit
    collection and are validated only."""
    module = flow["module"]
    runner = METAFLOWS.get(module)
    if runner is None:
        raise unexecutable(module)
    data = flow.get("data") or {}
    await runner(cb, ch, data.get)
