"""Replaying recorded FreeSWITCH event streams into the store: after each step the store must
equal what `show channels as json` in the same capture reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.esl_protocol import FrameParser, decode_event
from backends.fs_mapping import FsMapper, parse_show_channels, row_to_channel
from gateway.model import State
from gateway.store import ChangeKind, ChannelStore

#: show-channels column -> Channel field, for captures subscribed to every table event
FULL = {"name": "name", "direction": "direction", "state": "switch_state",
        "callstate": "callstate", "cid_num": "caller_id_number", "cid_name": "caller_id_name",
        "dest": "destination", "application": "application",
        "application_data": "application_data", "dialplan": "dialplan", "context": "context",
        "read_codec": "read_codec", "read_rate": "read_rate", "write_codec": "write_codec",
        "write_rate": "write_rate", "presence_id": "presence_id", "accountcode": "accountcode",
        "callee_num": "callee_number", "callee_name": "callee_name", "hostname": "hostname",
        "ip_addr": "ip_addr", "callee_direction": "callee_direction"}
#: capture 03 does not subscribe to CALL_UPDATE, 04/05 not to STATE/CALLSTATE/EXECUTE either
NO_CALL_UPDATE = {k: v for k, v in FULL.items()
                  if k not in ("cid_num", "cid_name", "callee_num", "callee_name",
                               "callee_direction")}
IDENTITY = {"name": "name", "direction": "direction", "dest": "destination",
            "context": "context", "hostname": "hostname"}
INITIAL = ("initial_cid_name", "initial_cid_num", "initial_ip_addr", "initial_dest",
           "initial_dialplan", "initial_context")


def _commands(path: Path) -> list[str]:
    lines = path.read_text().split("\n")
    return [lines[i + 1] for i, line in enumerate(lines)
            if line.startswith("#### ") and line.endswith("C->S")]


def replay(fixtures_dir: Path, name: str):  # type: ignore[no-untyped-def]
    """Yield (command, reply text, store) at every reply, events applied in wire order."""
    d = fixtures_dir / "freeswitch"
    commands = _commands(d / f"{name}.txt")
    store = ChannelStore()
    mapper = FsMapper(store, "fs1")
    n = 0
    for msg in FrameParser().feed((d / f"{name}.server_raw.txt").read_bytes()):
        ev = decode_event(msg)
        if ev is not None:
            mapper.handle(ev)
        elif msg.content_type in ("command/reply", "api/response"):
            yield commands[n], msg.text() or msg.reply_text, store
            n += 1
    assert n == len(commands)
    yield "", "", store


def _diff(row: dict[str, str], store: ChannelStore, cols: dict[str, str]) -> dict[str, object]:
    ch = store.get(row["uuid"])
    assert ch is not None, f"{row['uuid']} missing from the store"
    out: dict[str, object] = {k: (row[k], getattr(ch, f)) for k, f in cols.items()
                              if row[k] != getattr(ch, f)}
    if tuple(row[k] for k in INITIAL) != ch.initial:
        out["initial"] = ch.initial
    if row["call_uuid"] and row["call_uuid"] != ch.call_id:
        out["call_uuid"] = (row["call_uuid"], ch.call_id)
    return out


@pytest.mark.parametrize(("name", "cols", "snapshots"), [
    ("fs-1.11-esl_01_event_plain_originate_park_kill", FULL, 2),
    ("fs-1.11-esl_02_event_json_bridged_call", FULL, 1),
    ("fs-1.11-esl_03_transfer_bridge_valetpark", NO_CALL_UPDATE, 4),
    ("fs-1.11-esl_04_misc_api_sip_loopback", IDENTITY, 1),
    ("fs-1.11-esl_05_sip_calls_with_asterisk", IDENTITY, 3),
])
def test_store_equals_show_channels(fixtures_dir: Path, name: str, cols: dict[str, str],
                                    snapshots: int) -> None:
    seen = 0
    for cmd, reply, store in replay(fixtures_dir, name):
        if cmd != "api show channels as json":
            continue
        rows = parse_show_channels(reply)
        assert {r["uuid"] for r in rows} == {c.id for c in store.all()}
        for row in rows:
            assert _diff(row, store, cols) == {}, row["uuid"]
        seen += 1
    assert seen == snapshots
    assert len(store) == 0  # every call ended with CHANNEL_DESTROY: no ghost


def test_originate_park_kill_steps(fixtures_dir: Path) -> None:
    steps = {}
    name = "fs-1.11-esl_01_event_plain_originate_park_kill"
    for cmd, _reply, store in replay(fixtures_dir, name):
        steps.setdefault(cmd, {c.id: (c.state, c.parked, c.answered, c.application)
                               for c in store.all()})
    listed = steps["api show channels as json"]
    a = listed["de9bcc9d-0ca9-46d1-9d58-5168469e1e5f"]
    assert a == (State.PARKED, True, True, "park")
    killed = steps["api uuid_kill 00000000-0000-0000-0000-000000000000"]
    assert killed == {}


def test_bridged_call_legs_json(fixtures_dir: Path) -> None:
    for cmd, _reply, store in replay(fixtures_dir, "fs-1.11-esl_02_event_json_bridged_call"):
        if cmd == "api show channels as json":
            b = store.get("8e00ced4-f14d-4adf-9870-6b95c0899a6c")
            peer = store.get("8c3aa741-decd-46e4-a0fd-76d8ac2e9cba")
            assert b is not None and peer is not None
            assert (b.other_leg, peer.other_leg) == (peer.id, b.id)
            assert b.call_id == peer.call_id == b.id
            assert b.state is peer.state is State.ANSWERED
            assert b.answered_at >= b.created > 1.7e9  # µs became seconds
            origin = store.get("93a20405-8abc-40a6-88a3-b8aba6750dfb")
            assert origin is not None and origin.state is State.PARKED
            return
    pytest.fail("no snapshot in capture")


def test_failed_originates_leave_nothing(fixtures_dir: Path) -> None:
    """Each `-ERR` originate, checked on its own: FreeSWITCH sends the reply first and the
    legs' events after it, so by the next reply the legs it created were seen and are gone."""
    failed: list[str] = []
    sub = None
    checking = ""  # the failed originate whose legs the next reply must find gone
    for cmd, reply, store in replay(fixtures_dir, "fs-1.11-esl_02_event_json_bridged_call"):
        sub = sub or store.subscribe()
        added = set()
        while (change := sub.get_nowait()) is not None:
            if change.kind is ChangeKind.ADDED:
                added.add(change.channel.id)
        if checking:
            assert len(added) == 2, f"{checking}: its legs were never seen"
            assert not any(uid in store for uid in added), f"{checking} left a leg behind"
            assert len(store) == 0, checking
        checking = ""
        if cmd.startswith("api originate"):
            assert reply.startswith("-ERR "), (cmd, reply)
            assert len(store) == 0, cmd
            failed.append(reply.split()[1])
            checking = cmd
    assert failed == ["NO_ANSWER", "USER_BUSY", "NO_ROUTE_DESTINATION"]


def test_hangup_marks_hungup_until_destroy(fixtures_dir: Path) -> None:
    d = fixtures_dir / "freeswitch"
    store = ChannelStore()
    mapper = FsMapper(store, "fs1")
    states = []
    data = (d / "fs-1.11-esl_01_event_plain_originate_park_kill.server_raw.txt").read_bytes()
    for msg in FrameParser().feed(data):
        ev = decode_event(msg)
        if ev is None:
            continue
        mapper.handle(ev)
        if ev["Event-Name"] in ("CHANNEL_HANGUP", "CHANNEL_DESTROY"):
            ch = store.get(ev["Unique-ID"])
            states.append((ev["Event-Name"], ch.state if ch else None))
    assert ("CHANNEL_HANGUP", State.HUNGUP) in states
    assert all(s is None for n, s in states if n == "CHANNEL_DESTROY")


def test_late_event_for_destroyed_channel_makes_no_ghost() -> None:
    store = ChannelStore()
    mapper = FsMapper(store, "fs1")
    base = {"Unique-ID": "u1", "Channel-Name": "sofia/internal/201@a.example",
            "Call-Direction": "inbound", "Answer-State": "ringing"}
    mapper.handle({"Event-Name": "CHANNEL_CREATE", **base})
    assert "u1" in store
    mapper.handle({"Event-Name": "CHANNEL_DESTROY", **base})
    mapper.handle({"Event-Name": "CHANNEL_CALLSTATE", "Channel-Call-State": "RINGING", **base})
    assert "u1" not in store and len(store) == 0


def test_event_for_unknown_channel_creates_it_whole() -> None:
    store = ChannelStore()
    FsMapper(store, "fs9").handle({
        "Event-Name": "CHANNEL_ANSWER", "Unique-ID": "u2", "Answer-State": "answered",
        "Channel-Name": "sofia/internal/202@acme.example.com", "Call-Direction": "outbound",
        "Caller-Channel-Created-Time": "1795344546573180",
        "Caller-Channel-Answered-Time": "1795344547573180", "variable_uuid": "u2",
        "variable_dialed_user": "202", "variable_dialed_domain": "acme.example.com",
        "variable_callgate_account_id": "acc1", "variable_not_kept": "x",
    })
    ch = store.get("u2")
    assert ch is not None and ch.node == "fs9"
    assert (ch.state, ch.username, ch.realm) == (State.ANSWERED, "202", "acme.example.com")
    assert ch.variables == {"callgate_account_id": "acc1"}
    assert ch.answered_at - ch.created == pytest.approx(1.0)


def test_empty_and_error_snapshots() -> None:
    assert parse_show_channels('{"row_count": 0}\n') == []
    with pytest.raises(ValueError):
        parse_show_channels("-ERR SQL Error [no such table]\n")
    ch = row_to_channel({"uuid": "x", "callstate": "HELD", "created_epoch": "17"}, "fs1")
    assert (ch.state, ch.held, ch.created, ch.call_id) == (State.HELD, True, 17.0, "x")


def test_reconcile_after_ringing_then_parked_stays_parked() -> None:
    """Events and the `show channels` row derive state by the same rule: a leg parked while
    still ringing reads `parked` both before and after a resync."""
    store = ChannelStore()
    mapper = FsMapper(store, "fs1")
    base = {"Unique-ID": "u3", "Channel-Name": "sofia/internal/201@a.example",
            "Call-Direction": "inbound", "Answer-State": "ringing"}
    mapper.handle({"Event-Name": "CHANNEL_CREATE", **base})
    mapper.handle({"Event-Name": "CHANNEL_PARK", **base})
    ch = store.get("u3")
    assert ch is not None and (ch.state, ch.parked, ch.answered) == (State.PARKED, True, False)
    row = {"uuid": "u3", "name": base["Channel-Name"], "direction": "inbound",
           "callstate": "RINGING", "state": "CS_EXECUTE", "application": "park"}
    store.begin_resync("fs1")
    store.reconcile("fs1", [row_to_channel(row, "fs1")])
    ch = store.get("u3")
    assert ch is not None and (ch.state, ch.parked) == (State.PARKED, True)
