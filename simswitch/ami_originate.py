"""Originate on the simulated Asterisk: PJSIP and Local channels, applications or extensions,
OriginateResponse reasons, and the spy / pickup applications a gateway originates into.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from simswitch.ami_session import AmiSession
from simswitch.ami_wire import Action, Fields
from simswitch.ast_model import (
    RING,
    RINGING,
    UP,
    AsteriskModel,
    Channel,
)


class OriginateActions:
    """Originate, mixed into AsteriskSimulator."""

    model: AsteriskModel
    originate_answer_after: float

    if TYPE_CHECKING:  # from AsteriskSimulator
        def _schedule(self, delay: float, fn: Callable[[], None]) -> asyncio.TimerHandle: ...
        def _emit(self, event: str, fields: Fields) -> None: ...

    async def _act_originate(self, s: AmiSession, act: Action) -> None:
        name = act.get("Channel")
        if not name:
            s.error(act, "Channel not specified")
            return
        tech, sep, data = name.partition("/")
        if not sep or not data or tech.upper() not in ("PJSIP", "LOCAL", "SIP"):
            s.error(act, "Invalid channel")
            return
        exten, context, app = act.get("Exten"), act.get("Context"), act.get("Application")
        if exten and not app and (not context or not act.get("Priority")):
            s.error(act, "Originate with 'Exten' requires 'Context' and 'Priority'")
            return
        if exten and not app and self.model.route(exten) is None:
            s.error(act, "Extension does not exist.")
            return
        is_async = act.get("Async").lower() in ("true", "yes", "1", "on")
        fut: asyncio.Future[tuple[bool, int, Channel | None]] = (
            asyncio.get_running_loop().create_future())
        if is_async:
            s.ok(act, "Originate successfully queued")
        try:
            self._originate(act, tech.upper(), data, fut)
        except LookupError:
            if not fut.done():
                fut.set_result((False, 0, None))
        if is_async:
            fut.add_done_callback(lambda f: self._originate_response(act, name, *f.result()))
            return
        ok, _reason, _ch = await fut
        if ok:
            s.ok(act, "Originate successfully queued")
        else:
            s.error(act, "Originate failed")

    def _originate_response(self, act: Action, name: str, ok: bool, reason: int,
                            ch: Channel | None) -> None:
        body: Fields = []
        if act.action_id is not None:
            body.append(("ActionID", act.action_id))
        body += [("Response", "Success" if ok else "Failure"),
                 ("Channel", ch.name if ok and ch is not None else name)]
        if act.get("Application"):
            body += [("Application", act.get("Application")), ("Data", act.get("Data"))]
        else:
            body += [("Context", act.get("Context")), ("Exten", act.get("Exten"))]
        num, cname = _parse_callerid(act.get("CallerID"))
        body += [("Reason", str(reason)),
                 ("Uniqueid", ch.uniqueid if ok and ch is not None else "<unknown>"),
                 ("CallerIDNum", num or "<unknown>"), ("CallerIDName", cname or "<unknown>")]
        self._emit("OriginateResponse", body)

    def _originate(self, act: Action, tech: str, data: str,
                   fut: asyncio.Future[tuple[bool, int, Channel | None]]) -> None:
        m = self.model
        variables: list[tuple[str, str]] = []
        for v in act.getall("Variable"):
            for part in v.split(","):
                k, _, val = part.partition("=")
                if k.strip():
                    variables.append((k.strip(), val))
        num, cname = _parse_callerid(act.get("CallerID"))
        timeout = int(act.get("Timeout") or 30000) / 1000.0

        def done(ok: bool, reason: int, ch: Channel | None) -> None:
            if not fut.done():
                fut.set_result((ok, reason, ch))

        def answered(ch: Channel) -> None:
            done(True, 4, ch)
            self._after_answer(ch, act)

        if tech == "LOCAL":
            exten, _, ctx = data.partition("@")
            ctx = ctx.split("/")[0] or m.context
            if m.route(exten) is None:
                raise LookupError(exten)
            o = self._local_pair(exten, ctx, act.get("ChannelId"), act.get("OtherChannelId"),
                                 variables, num, cname)
            two = o.dial_peer
            assert two is not None
            o.on_up.append(lambda: answered(o))
            o.on_gone.append(lambda cause: done(False, _reason_for(cause), None))
            m.run_exten(two, exten, context=ctx, ring_timeout=timeout)
            if two.alive and two.dial_peer is None and two.state == UP:
                m.answer(o)
            return
        endpoint, _, host = data.partition("@")
        trunk = host if host in m.trunks else None
        if trunk is None and endpoint not in m.extensions and endpoint not in m.trunks:
            raise LookupError(endpoint)
        ep = trunk or endpoint
        o = m.new_channel(ep, state=0, context=m.trunk_context if trunk else m.context,
                          exten="s", accountcode=act.get("Account") or m.extensions.get(ep, ""),
                          uniqueid=act.get("ChannelId") or None)
        o.is_callee = True
        for k, v in variables:
            m.set_var(o, k, v)
        m.newexten(o, "AppDial2", "(Outgoing Line)")
        if num or cname:
            m.set_callerid(o, num, cname)
            m.set_connected(o, num, cname)
        m.emit("DialBegin", [*m.snap(o, "Dest"), ("DialString", data)])
        o.on_up.append(lambda: answered(o))
        o.on_gone.append(lambda cause: done(False, _reason_for(cause), None))
        if endpoint in m.busy:
            m.set_state(o, 7)
            self._schedule(0.01, lambda: m.hangup(o, 17))
            return
        m.set_state(o, RINGING)
        m.emit("DialState", [*m.snap(o, "Dest"), ("DialStatus", "RINGING")])
        if endpoint not in m.no_answer:
            self._schedule(self.originate_answer_after, lambda: m.answer(o))
        self._schedule(timeout, lambda: m.hangup(o, 19) if o.alive and o.state != UP else None)

    def _local_pair(self, exten: str, ctx: str, id1: str, id2: str,
                    variables: list[tuple[str, str]], num: str, cname: str) -> Channel:
        """Create ``Local/exten@ctx-N;1`` (runs the app) and ``;2`` (runs the dialplan)."""
        m = self.model
        base = m.local_name(exten, ctx)
        one = m.new_channel("Local", state=0, context=ctx, exten=exten, name=f"{base};1",
                            uniqueid=id1 or None)
        two = m.new_channel("Local", state=RING, context=ctx, exten=exten, name=f"{base};2",
                            uniqueid=id2 or None, linkedid=one.linkedid)
        m.newexten(one, "AppDial2", "(Outgoing Line)")
        for k, v in variables:
            m.set_var(one, k, v)
            m.set_var(two, k, v)
        if num or cname:
            for c in (one, two):
                m.set_callerid(c, num, cname)
                m.set_connected(c, num, cname)
        m.emit("LocalBridge", [*m.snap(one, "LocalOne"), *m.snap(two, "LocalTwo"),
                               ("Context", ctx), ("Exten", exten), ("LocalOptimization", "Yes")])
        m.emit("DialBegin", [*m.snap(one, "Dest"), ("DialString", f"{exten}@{ctx}")])
        one.is_callee = True
        one.dial_peer = two  # the ;2 half; answered when ;2 comes up

        def two_up() -> None:
            one.dial_peer = None
            m.answer(one)

        def two_gone(cause: int) -> None:
            if one.alive and one.state != UP:
                one.dial_peer = None
                m.hangup(one, cause)

        two.on_up.append(two_up)
        two.on_gone.append(two_gone)
        return one

    def _after_answer(self, o: Channel, act: Action) -> None:
        """Run the Originate's Application or Exten on the answered channel."""
        m = self.model
        app, data = act.get("Application"), act.get("Data")
        if not app:
            m.run_exten(o, act.get("Exten"), context=act.get("Context"))
            return
        o.application, o.appdata = app, data
        lapp = app.lower()
        if lapp == "musiconhold":
            m.chan_event("MusicOnHoldStart", o, ("Class", data.split(",")[0] or "default"))
        elif lapp == "park":
            m.park(o)
        elif lapp == "chanspy":
            spyee = self._find_prefix(data.split(",")[0])
            if spyee is not None:
                spyee.spies.append(o)
                m.emit("ChanSpyStart", [*m.snap(o, "Spyer"), *m.snap(spyee, "Spyee")])
        elif lapp == "pickupchan":
            target = self._find_prefix(data.split(",")[0])
            if target is not None and target.is_callee and target.state == RINGING:
                m.pickup(o, target)
        elif lapp == "bridge":
            other = m.find(data.split(",")[0])
            if other is not None:
                m.bridge_pair(o, other)

    def _find_prefix(self, name: str) -> Channel | None:
        ch = self.model.find(name)
        if ch is not None or not name:
            return ch
        return next((c for c in self.model.all_channels() if c.name.startswith(name)), None)


def _reason_for(cause: int) -> int:
    """OriginateResponse Reason (last control frame): 5 busy, 3 ringing/no answer, 8 congestion,
    1 hangup, 0 failed."""
    return {17: 5, 19: 3, 18: 3, 34: 8, 16: 1, 1: 0}.get(cause, 0)


def _parse_callerid(cid: str) -> tuple[str, str]:
    """``"Name" <num>`` / ``Name <num>`` / ``num`` -> (num, name)."""
    cid = cid.strip()
    mt = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', cid)
    if mt:
        return mt.group(2).strip(), mt.group(1).strip()
    return cid, ""
