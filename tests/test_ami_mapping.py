"""AMI events -> store, checked against real Asterisk 22 captures and Asterisk 13 scenarios."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from panoramisk.message import Message

from backends.ami_mapping import AmiMapper, cause_code, clean, endpoint_of
from backends.ami_session import AmiFramer
from gateway.context import Gateway
from gateway.demo import load_demo
from gateway.model import State
from gateway.store import ChannelStore
from tests.conftest import FIXTURES, missing_fixtures

REAL = "asterisk-22-real"
CAPTURES = ["ami_01_login_originate_coreshowchannels", "ami_03_hangup",
            "ami_04_redirect_transfer", "ami_05_park", "ami_06_misc_actions",
            "ami_07_pjsip_calls_with_freeswitch"]


def replay_real(fixtures_dir: Path, name: str) -> tuple[ChannelStore, list[tuple[dict, dict]]]:
    """Feed the switch's bytes, in 1 KiB chunks, through framing and mapping. At every
    CoreShowChannelsComplete, record (what our events built, what the switch listed)."""
    data = (fixtures_dir / REAL / f"{name}.server_raw.txt").read_bytes()
    store = ChannelStore()
    framer = AmiFramer()
    mapper: AmiMapper | None = None
    listing: list[Message] = []
    checks: list[tuple[dict, dict]] = []
    for i in range(0, len(data), 1024):
        for msg in framer.feed(data[i:i + 1024]):
            if mapper is None:
                mapper = AmiMapper("ast1", store, version=framer.version or "")
            event = clean(msg.get("Event"))
            if event == "CoreShowChannel":
                listing.append(msg)
            elif event == "CoreShowChannelsComplete":
                checks.append(({c.id: dataclasses.replace(c) for c in store.all()},
                               {clean(m["Uniqueid"]): m for m in listing}))
                listing = []
            else:
                mapper.handle(msg)
    return store, checks


@pytest.mark.parametrize("name", CAPTURES)
def test_real_capture_table_matches_coreshowchannels(fixtures_dir: Path, name: str) -> None:
    """Our event-built table equals the switch's own listing taken at that moment: the same
    Uniqueids, and per channel the same name, Linkedid, state, caller, connected line,
    context and application (when events named one), with `other_leg` the other member of its
    two-party BridgeId."""
    _, checks = replay_real(fixtures_dir, name)
    assert checks, "capture has a CoreShowChannels listing"
    for ours, listed in checks:
        assert set(ours) == set(listed)
        bridges: dict[str, list[str]] = {}
        for uid, item in listed.items():
            ch = ours[uid]
            assert ch.name == item["Channel"]
            assert ch.call_id == item["Linkedid"]
            assert ch.switch_state == item["ChannelStateDesc"]
            assert ch.answered == (item["ChannelStateDesc"] == "Up")
            assert ch.caller_id_number == clean(item["CallerIDNum"])
            assert ch.callee_number == clean(item["ConnectedLineNum"])
            assert ch.context == item["Context"]
            if ch.application:  # an Originate'd Application runs without a Newexten event
                assert ch.application == clean(item["Application"])
            if clean(item["BridgeId"]):
                bridges.setdefault(item["BridgeId"], []).append(uid)
        for members in bridges.values():
            if len(members) == 2 and not any(ours[m].parked for m in members):
                a, b = members
                assert (ours[a].other_leg, ours[b].other_leg) == (b, a)


def test_real_capture_ends_empty_after_teardown(fixtures_dir: Path) -> None:
    """ami_03 hangs everything up at the end: every row created by events is removed again."""
    store, _ = replay_real(fixtures_dir, "ami_03_hangup")
    assert len(store) == 0


def test_real_capture_park_marks_parkee(fixtures_dir: Path) -> None:
    data = (fixtures_dir / REAL / "ami_05_park.server_raw.txt").read_bytes()
    store = ChannelStore()
    mapper = AmiMapper("ast1", store)
    framer = AmiFramer()
    seen_parked = set()
    for msg in framer.feed(data):
        mapper.handle(msg)
        if clean(msg.get("Event")) == "ParkedCall":
            ch = store.get(clean(msg["ParkeeUniqueid"]))
            assert ch is not None and ch.parked and ch.state == State.PARKED
            seen_parked.add(ch.id)
    assert seen_parked


# ------------------------------------------------------------------ cacofonisk (Asterisk 13)
CACOFONISK_DIR = FIXTURES / "asterisk-13-cacofonisk"
CACOFONISK = sorted(CACOFONISK_DIR.glob("*/*.json"))


def wire(messages: list[dict[str, Any]]) -> bytes:
    """Rebuild the CRLF wire text of parsed messages (lists are repeated keys)."""
    out = [b"Asterisk Call Manager/2.10.5\r\n"]
    for m in messages:
        for k, v in m.items():
            if k == "content":
                continue
            for item in v if isinstance(v, list) else [v]:
                out.append(f"{k}: {item}\r\n".encode())
        out.append(b"\r\n")
    return b"".join(out)


def test_cacofonisk_corpus_present() -> None:
    assert len(CACOFONISK) == 51, missing_fixtures(CACOFONISK_DIR)


@pytest.mark.parametrize("path", CACOFONISK, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_cacofonisk_scenario(path: Path) -> None:
    """No crash; two-party bridges link their members both ways while they last; nothing is
    left once the last Hangup has been seen."""
    framer = AmiFramer()
    msgs = framer.feed(wire(json.loads(path.read_text())))
    store = ChannelStore()
    mapper = AmiMapper("ast1", store, version=framer.version or "")
    bridges: dict[str, set[str]] = {}
    linked = 0
    last_hangup = max(i for i, m in enumerate(msgs) if clean(m.get("Event")) == "Hangup")
    for i, msg in enumerate(msgs):
        mapper.handle(msg)
        event, bid = clean(msg.get("Event")), clean(msg.get("BridgeUniqueid"))
        if event == "BridgeEnter":
            bridges.setdefault(bid, set()).add(clean(msg["Uniqueid"]))
        elif event == "BridgeLeave":
            bridges.get(bid, set()).discard(clean(msg["Uniqueid"]))
        if event == "BridgeEnter" and len(bridges[bid]) == 2:
            a, b = sorted(bridges[bid])
            ca, cb = store.get(a), store.get(b)
            assert ca is not None and cb is not None
            assert (ca.other_leg, cb.other_leg) == (b, a)
            assert ca.call_id == clean(msg["Linkedid"]) or cb.call_id == clean(msg["Linkedid"])
            linked += 1
        if i == last_hangup:
            assert len(store) == 0, [c.name for c in store.all()]
    if any(clean(m.get("Event")) == "BridgeEnter" for m in msgs):
        assert linked or all(len(v) < 2 for v in bridges.values())


# ------------------------------------------------------------------ unit behaviour
def ev(event: str, **fields: Any) -> Message:
    return Message({"Event": event, **fields})


def snap(uid: str, name: str, state: str = "4", desc: str = "Ring", **extra: str) -> dict:
    base = {"Channel": name, "ChannelState": state, "ChannelStateDesc": desc,
            "CallerIDNum": "201", "CallerIDName": "<unknown>", "ConnectedLineNum": "<unknown>",
            "ConnectedLineName": "<unknown>", "AccountCode": "", "Context": "from-internal",
            "Exten": "202", "Priority": "1", "Uniqueid": uid, "Linkedid": "L1"}
    base.update(extra)
    return base


def test_newchannel_fields_and_unknown_caller_ids() -> None:
    store = ChannelStore()
    m = AmiMapper("ast1", store)
    m.handle(ev("Newchannel", Timestamp="1700000000.5", SystemName="pbx1",
                **snap("u1", "PJSIP/201-0000001a", CallerIDNum="<unknown>")))
    ch = store.get("u1")
    assert ch is not None
    assert (ch.caller_id_number, ch.caller_id_name, ch.callee_number) == ("", "", "")
    assert (ch.username, ch.gateway, ch.destination) == ("201", "", "202")
    assert (ch.created, ch.hostname, ch.call_id, ch.direction) == (1700000000.5, "pbx1", "L1",
                                                                   "inbound")
    assert (ch.state, ch.callstate, ch.switch_state) == (State.RINGING, "RINGING", "Ring")


def test_trunk_leg_sets_gateway_not_username() -> None:
    store = ChannelStore()
    m = AmiMapper("ast1", store)
    m.handle(ev("Newchannel", **snap("a", "PJSIP/201-00000001")))
    m.handle(ev("DialBegin", **snap("a", "PJSIP/201-00000001"),
                **{f"Dest{k}": v for k, v in snap("b", "PJSIP/carrier2-00000002").items()},
                DialString="+447700900123@carrier2"))
    b = store.get("b")
    assert b is not None
    assert (b.gateway, b.username, b.direction, b.other_leg) == ("carrier2", "", "outbound", "a")
    assert store.get("a").other_leg == "b"  # type: ignore[union-attr]


def test_configured_trunk_is_known_on_an_inbound_leg() -> None:
    # an inbound carrier leg has no DialString naming it: only the configuration knows
    for trunks, expected in (((), ("", "carrier9")), (("carrier9",), ("carrier9", ""))):
        store = ChannelStore()
        AmiMapper("ast1", store, trunks=trunks).handle(
            ev("Newchannel", **snap("in", "PJSIP/carrier9-00000007")))
        ch = store.get("in")
        assert ch is not None and (ch.gateway, ch.username) == expected


def test_answer_hold_hangup_lifecycle() -> None:
    store = ChannelStore()
    m = AmiMapper("ast1", store, clock=lambda: 50.0)
    m.handle(ev("Newchannel", **snap("u1", "PJSIP/201-00000001")))
    m.handle(ev("Newstate", **snap("u1", "PJSIP/201-00000001", "6", "Up")))
    ch = store.get("u1")
    assert ch is not None and ch.answered and ch.answered_at == 50.0 and ch.state == "answered"
    m.handle(ev("Hold", **snap("u1", "PJSIP/201-00000001", "6", "Up")))
    assert (ch.held, ch.state, ch.callstate) == (True, State.HELD, "HELD")
    m.handle(ev("Unhold", **snap("u1", "PJSIP/201-00000001", "6", "Up")))
    assert (ch.held, ch.state, ch.callstate) == (False, State.ANSWERED, "ACTIVE")
    sub = store.subscribe()
    m.handle(ev("Hangup", Cause="17", **snap("u1", "PJSIP/201-00000001", "6", "Up")))
    assert store.get("u1") is None
    changes = [sub.get_nowait(), sub.get_nowait()]
    assert changes[-1].kind == "removed" and changes[-1].channel.hangup_cause == "USER_BUSY"
    m.handle(ev("Newstate", **snap("u1", "PJSIP/201-00000001", "6", "Up")))
    assert store.get("u1") is None  # a late event never resurrects a hung-up channel


def test_kept_variables_only() -> None:
    store = ChannelStore()
    m = AmiMapper("ast1", store)
    m.handle(ev("Newchannel", **snap("u1", "PJSIP/201-00000001")))
    m.handle(ev("VarSet", Variable="callgate_account_id", Value="abc", **snap("u1", "x")))
    m.handle(ev("VarSet", Variable="SIPCALLID", Value="zzz", **snap("u1", "x")))
    assert store.get("u1").variables == {"callgate_account_id": "abc"}  # type: ignore[union-attr]


def test_accountcode_and_username_attribute_to_account() -> None:
    gw = Gateway.build(load_demo(), backends=False)
    acme = next(a for a in gw.settings.accounts if a.name == "Acme")
    m = AmiMapper("ast1", gw.store)
    m.handle(ev("Newchannel", **snap("u1", "PJSIP/205-00000001", AccountCode=acme.id)))
    m.handle(ev("Newchannel", **snap("u2", "PJSIP/carrier2-00000002", Exten="s",
                                     AccountCode="unknown-code", Linkedid="L2")))
    beta = next(a for a in gw.settings.accounts if a.name == "Beta")
    m.handle(ev("Newchannel", **snap("u3", "PJSIP/carrier2-00000003", Exten="s",
                                     AccountCode=beta.id, Linkedid="L3")))
    assert [c.id for c in gw.store.by_account(acme.id)] == ["u1"]
    assert [c.id for c in gw.store.by_account(beta.id)] == ["u3"]
    assert gw.store.get("u2").account_id == ""  # type: ignore[union-attr]


def test_coreshowchannel_snapshot_and_legacy_ami1() -> None:
    store = ChannelStore()
    m = AmiMapper("ast1", store, clock=lambda: 1000.0)
    items = [ev("CoreShowChannel", Application="Dial", ApplicationData="PJSIP/202,30",
                Duration="00:01:07", BridgeId="br1", **snap("a", "PJSIP/201-00000001", "6", "Up")),
             ev("CoreShowChannel", Application="AppDial", ApplicationData="(Outgoing Line)",
                Duration="00:01:05", BridgeId="br1",
                **snap("b", "PJSIP/202-00000002", "6", "Up"))]
    chans = {c.id: c for c in m.snapshot(items)}
    assert chans["a"].created == 1000.0 - 67 and chans["a"].other_leg == "b"
    assert (chans["b"].direction, chans["b"].other_leg, chans["b"].state) == ("outbound", "a",
                                                                            State.ANSWERED)
    legacy = AmiMapper("ast1", ChannelStore(), version="1.3", clock=lambda: 10.0)
    old = Message({"Event": "CoreShowChannel", "Channel": "SIP/201-00000001",
                   "UniqueID": "1400.1", "Context": "default", "Extension": "202",
                   "ChannelState": "6", "ChannelStateDesc": "Up", "CallerIDnum": "201",
                   "Duration": "00:00:03", "BridgedChannel": "SIP/202-00000002",
                   "BridgedUniqueID": "1400.2"})
    (c,) = legacy.snapshot([old])
    assert (c.id, c.destination, c.caller_id_number, c.other_leg) == ("1400.1", "202", "201",
                                                                      "1400.2")


def test_legacy_bridge_and_hold_events() -> None:
    store = ChannelStore()
    m = AmiMapper("ast1", store, version="1.3")
    for uid in ("1.1", "1.2"):
        m.handle(Message({"Event": "Newchannel", "Channel": f"SIP/x-{uid}", "Uniqueid": uid,
                          "ChannelState": "6", "ChannelStateDesc": "Up"}))
    m.handle(Message({"Event": "Bridge", "Bridgestate": "Link", "Uniqueid1": "1.1",
                      "Uniqueid2": "1.2"}))
    assert store.get("1.1").other_leg == "1.2"  # type: ignore[union-attr]
    m.handle(Message({"Event": "Hold", "Status": "On", "Uniqueid": "1.1", "Channel": "SIP/x"}))
    assert store.get("1.1").held  # type: ignore[union-attr]
    m.handle(Message({"Event": "Hold", "Status": "Off", "Uniqueid": "1.1", "Channel": "SIP/x"}))
    assert not store.get("1.1").held  # type: ignore[union-attr]


def test_helpers() -> None:
    assert endpoint_of("PJSIP/201-0000001a") == ("PJSIP", "201")
    assert endpoint_of("Local/100@demo-00000009;2") == ("Local", "100@demo")
    assert cause_code("NORMAL_CLEARING") == 16 and cause_code("17") == 17
    assert cause_code("NOT_A_CAUSE") is None
