"""Call control of the simulated FreeSWITCH: originate, apps, transfer, intercept, attended
transfer, uuid_bridge, DTMF and session recording, built on the call model's primitives.
"""

from __future__ import annotations

import asyncio
import uuid as uuidlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from simswitch.esl_wire import Event
from simswitch.fs_channel import (
    Channel,
    now_us,
)


class CallControl:
    """What api commands and dialplan apps do to calls. Mixed into SwitchModel."""

    channels: dict[str, Channel]
    answer_after: float

    if TYPE_CHECKING:  # the call model's primitives, from SwitchModel and its other mixins
        def leg_for(
            self, target: str, *, caller: Channel | None, cid_num: str, cid_name: str,
            variables: dict[str, str], uid: str | None = None,
        ) -> tuple[Channel | None, str]: ...
        def dialstring_for(self, dest: str, *, from_internal: bool,
                           realm: str = "") -> str | None: ...
        def fire(
            self, name: str, ch: Channel, before: list[tuple[str, str]] | None = None,
            after: list[tuple[str, str]] | None = None, source: str = "",
        ) -> Event: ...
        def originate_leg(self, b: Channel) -> None: ...
        def _later(self, ch: Channel, delay: float, fn: Callable[[], None]) -> None: ...
        def _ring(self, b: Channel, answer_after: float | None, a: Channel | None) -> None: ...
        def mark_answered(self, ch: Channel) -> None: ...
        def answer(self, ch: Channel) -> None: ...
        def _call_update_row(
            self, ch: Channel, direction: str, sent_name: str, sent_num: str,
        ) -> None: ...
        def set_state(self, ch: Channel, state: str) -> None: ...
        def set_callstate(self, ch: Channel, callstate: str) -> None: ...
        def park(self, ch: Channel) -> None: ...
        def bridge_out(
            self, a: Channel, dialstring: str, *, answer_after: float | None,
            on_fail: Callable[[str], None] | None = None, app: str = "bridge",
        ) -> Channel | None: ...
        def execute(self, ch: Channel, app: str, data: str = "") -> None: ...
        def complete_app(self, ch: Channel, response: str = "_none_") -> None: ...
        def hangup(self, ch: Channel, cause: str = "NORMAL_CLEARING") -> None: ...
        def bridge(self, a: Channel, b: Channel, *, owner: bool) -> None: ...
        def unbridge(self, ch: Channel) -> Channel | None: ...
        def leave_bridge(self, ch: Channel, cause: str = "NORMAL_CLEARING") -> None: ...
        def start_inbound(
            self, caller: str, callee: str, *, realm: str | None, variables: dict[str, str],
        ) -> Channel: ...

    def originate(
        self, dialstring: str, variables: dict[str, str], app: str, app_arg: str,
        exten: str = "", context: str = "default",
    ) -> asyncio.Future[str]:
        """`originate`: dial a leg, then run an app or an extension once it answers."""
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        cid_num = variables.get("origination_caller_id_number", "0000000000")
        cid_name = variables.get("origination_caller_id_name", "")
        ch, cause = self.leg_for(dialstring, caller=None, cid_num=cid_num, cid_name=cid_name,
                                 variables=variables, uid=variables.get("origination_uuid"))
        if ch is None:
            fut.set_result(f"-ERR {cause}\n")
            return fut
        ch.pending_result = fut
        if exten:
            ch.on_answer = lambda: self.run_dialplan(ch, exten, context)
        else:
            ch.on_answer = lambda: self.run_app(ch, app, app_arg)
        self.originate_leg(ch)
        if ch.kind == "loopback":
            self._later(ch, 0.0, lambda: self._loopback_answer(ch))
        else:
            self._ring(ch, self.answer_after, None)
        return fut

    def _loopback_answer(self, ch: Channel) -> None:
        """The originated loopback A side answers and flips its caller id, then runs on."""
        if not ch.alive:
            return
        self.mark_answered(ch)
        self.flip_cid(ch)
        self.answer(ch)

    def flip_cid(self, ch: Channel) -> None:
        """switch_channel_flip_cid: caller and callee ids swap, then CALL_UPDATE RECV.

        As captured on loopback/<ext>-a: the callee FreeSWITCH gave the leg ("Outbound
        Call" / its context) becomes the caller id, the old caller id becomes the callee.
        """
        p, v = ch.profile, ch.variables
        old_name, old_num = p.get("Caller-ID-Name", ""), p.get("Caller-ID-Number", "")
        if old_name:
            v["pre_transfer_caller_id_name"] = old_name
        v["pre_transfer_caller_id_number"] = old_num
        p["Caller-ID-Name"] = p.get("Callee-ID-Name") or "Outbound Call"
        p["Caller-ID-Number"] = p.get("Callee-ID-Number") or p.get("Context", "default")
        p["Callee-ID-Name"], p["Callee-ID-Number"] = old_name, old_num
        v["channel_cid_flipped"] = "yes"
        self.fire("CALL_UPDATE", ch, before=[("Direction", "RECV")])
        self._call_update_row(ch, "RECV", "", "")

    def run_app(self, ch: Channel, app: str, arg: str) -> None:
        if not ch.alive:
            return
        if ch.state != "CS_EXECUTE":
            self.set_state(ch, "CS_EXECUTE")
        if app == "park":
            self.park(ch)
        elif app == "bridge":
            self.bridge_out(ch, arg, answer_after=self.answer_after)
        elif app == "intercept":
            self.intercept(ch, arg)
        elif app in ("playback", "hangup"):
            self.execute(ch, app, arg)
            delay = 0.5 if app == "playback" else 0.0
            self._later(ch, delay, lambda: self.hangup(ch, "NORMAL_CLEARING"))
        else:  # echo, eavesdrop, sleep...: run until hung up
            self.execute(ch, app, arg)

    def send_app(self, ch: Channel, app: str, arg: str) -> None:
        """An app sent to a live channel: `sendmsg` execute and `uuid_broadcast <uuid> app::arg`
        both land here, so the two agree.

        Unlike an originate's app (run_app, where the app is the whole call), a media app sent
        to a call runs in place until hangup, uuid_break or a transfer: a broadcast never hangs
        a live call up. `transfer` takes FreeSWITCH's `<dest> [<dialplan> [<context>]]`."""
        if not ch.alive:
            return
        if app == "att_xfer":
            self.att_xfer(ch, arg)
        elif app == "transfer":
            words = arg.split()
            self.transfer(ch, words[0] if words else "", words[1] if len(words) > 1 else "XML",
                          words[2] if len(words) > 2 else "default")
        elif app == "park":
            self.park(ch)  # as uuid_park does it
        elif app in ("bridge", "intercept", "hangup"):
            self.run_app(ch, app, arg)
        else:  # playback, echo, eavesdrop, sleep...
            self.execute(ch, app, arg)

    def run_dialplan(self, ch: Channel, dest: str, context: str = "default") -> None:
        """Route `dest`: an extension rings that phone, `park` parks, else NO_ROUTE."""
        if not ch.alive:
            return
        if ch.state != "CS_EXECUTE":
            self.set_state(ch, "CS_EXECUTE")
        if dest == "park" or dest.startswith("park"):
            self.park(ch)
            return
        ds = self.dialstring_for(dest, from_internal=ch.kind != "external" or context != "public",
                                 realm=ch.realm or ch.variables.get("domain_name", ""))
        if ds is None:
            self.complete_app(ch)
            self.hangup(ch, "NO_ROUTE_DESTINATION")
            return
        self.bridge_out(ch, ds, answer_after=self.answer_after)

    def transfer(self, ch: Channel, dest: str, dialplan: str, context: str,
                 *, keep_peer: bool = False) -> None:
        """uuid_transfer of one leg: it leaves its bridge and runs the dialplan again."""
        if ch.partner is not None:
            if keep_peer:
                self.unbridge(ch)
            else:
                self.leave_bridge(ch)
        if ch.pending is not None:
            pending, ch.pending = ch.pending, None
            self.hangup(pending, "ORIGINATOR_CANCEL")
        if not ch.alive:
            return
        self.complete_app(ch)
        p, t = ch.profile, now_us()
        p["Transfer-Source"] = f"{t // 1_000_000}:{uuidlib.uuid4()}:uuid_transfer"
        p["RDNIS"] = p.get("Destination-Number", "")
        p["Destination-Number"] = dest
        p["Context"] = context
        ch.profile_index += 1
        ch.times["Profile-Created-Time"] = t
        ch.times["Channel-Transfer-Time"] = t
        ch.row["dest"] = dest
        ch.variables["transfer_source"] = p["Transfer-Source"]
        ch.hit_dialplan = "true"
        self.set_state(ch, "CS_ROUTING")
        self.set_state(ch, "CS_EXECUTE")
        if dialplan == "inline":
            self.run_app(ch, "park" if "park" in dest else dest.split(":", 1)[0], "")
        else:
            self.run_dialplan(ch, dest, context)

    def intercept(self, ch: Channel, target_id: str) -> None:
        """ch picks up `target_id`; the target's former partner hangs up PICKED_OFF."""
        self.execute(ch, "intercept", target_id)
        target = self.channels.get(target_id.replace("-bleg", "").strip())
        if target is None or not target.alive:
            self.complete_app(ch, "FAIL")
            self.hangup(ch, "NORMAL_CLEARING")
            return
        if target.pending is not None:
            pending, target.pending = target.pending, None
            self.hangup(pending, "PICKED_OFF")
        elif target.partner is not None:
            old = self.unbridge(target)
            if old is not None:
                self.hangup(old, "PICKED_OFF")
        if target.app in ("bridge", "att_xfer"):
            self.complete_app(target, "PICKED_OFF")
        elif target.parked:
            self.complete_app(target)  # the park loop ends: CHANNEL_UNPARK before the bridge
        self.mark_answered(target)
        self.complete_app(ch)
        self.bridge(ch, target, owner=True)

    def att_xfer(self, ch: Channel, dialstring: str) -> None:
        """Attended transfer started on the transferor `ch`: its partner waits on hold."""
        peer = ch.partner
        if peer is not None:
            self.unbridge(ch)
            ch.attxfer_peer = peer
        self.bridge_out(ch, dialstring, answer_after=self.answer_after, app="att_xfer")

    def uuid_bridge(self, a: Channel, b: Channel) -> None:
        for x in (a, b):
            if x.partner is not None and x.partner not in (a, b):
                self.leave_bridge(x)
            elif x.partner is not None:
                self.unbridge(x)
            if x.pending is not None:
                pending, x.pending = x.pending, None
                self.hangup(pending, "ORIGINATOR_CANCEL")
            self.complete_app(x)
            self.mark_answered(x)
        if a.alive and b.alive:
            self.bridge(a, b, owner=True)

    def send_dtmf(self, ch: Channel, digits: str) -> None:
        for d in digits:
            self.fire("DTMF", ch, after=[
                ("DTMF-Digit", d), ("DTMF-Duration", "2000"), ("DTMF-Source", "APP")])

    def flash_call(self, caller: str, callee: str) -> None:
        """A complete answered-then-hung-up bridged call with no timers (load generation)."""
        a = self.start_inbound(caller, callee, realm=None, variables={})
        ds = self.dialstring_for(callee, from_internal=True) or f"user/{callee}"
        self.execute(a, "bridge", ds)
        b, _ = self.leg_for(ds, caller=a, cid_num=caller, cid_name=caller, variables={})
        if b is None:
            self.hangup(a, "NO_ROUTE_DESTINATION")
            return
        b.originator = a
        b.call_uuid = a.uuid
        a.pending = b
        self.originate_leg(b)
        b.times["Channel-Progress-Time"] = now_us()
        self.fire("CHANNEL_PROGRESS", b)
        self.set_callstate(b, "RINGING")
        self.answer(b)
        self.hangup(a, "NORMAL_CLEARING")

    def record_start(self, ch: Channel, path: str) -> bool:
        """`uuid_record start`: one media bug per path; RECORD_START names the file first.

        A path already being recorded succeeds without a second bug (FreeSWITCH logs
        "Already recording").
        """
        if not ch.alive:
            return False
        if path in ch.recordings:
            return True
        ch.recordings[path] = False
        self.fire("RECORD_START", ch, before=[("Record-File-Path", path)])
        return True

    def record_stop(self, ch: Channel, path: str) -> bool:
        """`uuid_record stop <path|all>`: RECORD_STOP after the record_* variables are set."""
        paths = list(ch.recordings) if path == "all" else [path]
        if not paths or any(p not in ch.recordings for p in paths):
            return False
        for p in paths:
            del ch.recordings[p]
            # the simulator writes no audio: zero samples, as a real empty recording reports
            ch.variables.update(record_samples="0", record_seconds="0", record_ms="0")
            self.fire("RECORD_STOP", ch, after=[("Record-File-Path", p)])
        return True

    def record_mask(self, ch: Channel, path: str, masked: bool) -> bool:
        if path not in ch.recordings:
            return False
        ch.recordings[path] = masked
        return True
