"""Call recording end to end: `Control.record` through the real backends to the simulated
FreeSWITCH (`uuid_record`) and Asterisk (`MixMonitor` / `StopMixMonitor`) over loopback, checked
by the exact command that reached the switch and by the switch's own state; bad arguments never
leave the gateway; the `recordings_dir` key."""

from __future__ import annotations

import asyncio
import re
import tomllib
from typing import Any

import pytest

from gateway.config import ConfigError, parse
from gateway.control import InvalidArgument, NotFound, Rejected, Unavailable
from tests.harness import Live, live_gateway

BOTH = ("fs1", "ast1")
MIX_OPTIONS = "i(CALLGATE_MIXMONITOR_ID)"
BAD_PATHS = ["a b.wav", "../etc/passwd", "/tmp/../etc/x.wav", "/tmp/${uuid}.wav", "x\n.wav",
             "x\t.wav", "/tmp/x.wav;hangup", "{a=b}x.wav", "", "/tmp/dir/", "http://h/x.wav",
             "'x.wav'"]


async def fs_call(live: Live) -> str:
    a = await live.fs.place_call("201", "202", answer_after=0.05)
    await live.until(lambda: (ch := live.gw.store.get(a)) is not None and ch.answered)
    return a


async def ast_call(live: Live) -> str:
    a = await live.ast.place_call("401", "402", answer_after=0.05)
    await live.until(lambda: (ch := live.gw.store.get(a)) is not None and ch.answered)
    return a


def ami_sent(live: Live, since: int) -> list[dict[str, Any]]:
    return [{k: v for k, v in act.items() if k != "ActionID"} for act in live.ast.actions[since:]]


def fs_recordings(live: Live, uuid: str) -> set[str]:
    return set(live.fs.channel(uuid).recordings)


def ast_mixmonitors(live: Live, uuid: str) -> dict[str, str]:
    return dict(live.ast.model.find(uuid).mixmonitors)


# ---------------------------------------------------------------------------- FreeSWITCH
async def test_freeswitch_start_and_stop_reach_the_switch() -> None:
    async with live_gateway(switches=BOTH) as live:
        a = await fs_call(live)
        n = len(live.fs.commands)
        result = await live.gw.control.record(a, "start", path="/srv/rec/call-1.wav",
                                              time_limit=120)
        assert live.fs.commands[n:] == [f"api uuid_record {a} start /srv/rec/call-1.wav 120"]
        assert result.ok and result.extra["path"] == "/srv/rec/call-1.wav"
        assert result.detail == "+OK Success"
        assert fs_recordings(live, a) == {"/srv/rec/call-1.wav"}
        assert live.gw.control.recording(a) == "/srv/rec/call-1.wav"

        n = len(live.fs.commands)
        result = await live.gw.control.record(a, "stop")  # the one started here
        assert live.fs.commands[n:] == [f"api uuid_record {a} stop /srv/rec/call-1.wav"]
        assert result.extra["path"] == "/srv/rec/call-1.wav"
        assert fs_recordings(live, a) == set()
        assert live.gw.control.recording(a) is None


async def test_freeswitch_default_file_in_recordings_dir() -> None:
    async with live_gateway(switches=BOTH) as live:
        a = await fs_call(live)
        n = len(live.fs.commands)
        result = await live.gw.control.record(a)
        path = result.extra["path"]
        assert re.fullmatch(rf"/var/lib/callgate/recordings/{a}-\d{{10}}\.wav", path), path
        assert live.fs.commands[n:] == [f"api uuid_record {a} start {path}"]
        assert fs_recordings(live, a) == {path}


async def test_freeswitch_stop_without_a_known_recording_stops_all() -> None:
    async with live_gateway(switches=BOTH) as live:
        a = await fs_call(live)
        await live.fs.run_api(f"uuid_record {a} start /elsewhere/x.wav")  # not started by us
        n = len(live.fs.commands)
        result = await live.gw.control.record(a, "stop")
        assert live.fs.commands[n:] == [f"api uuid_record {a} stop all"]
        assert result.ok and fs_recordings(live, a) == set()
        with pytest.raises(Rejected) as info:  # nothing left to stop: the switch says so
            await live.gw.control.record(a, "stop")
        assert info.value.reply == "-ERR Cannot stop record session!"


async def test_freeswitch_channel_gone_on_the_switch_is_not_found() -> None:
    async with live_gateway(switches=BOTH) as live:
        a = await fs_call(live)
        live.fs.stall(0.4)  # events (and replies) held back: the store still shows the call
        await live.fs.hangup(a)
        assert live.gw.store.get(a) is not None
        n = len(live.fs.commands)
        with pytest.raises(NotFound) as info:
            await live.gw.control.record(a, "start", path="/srv/rec/x.wav")
        assert live.fs.commands[n:] == [f"api uuid_record {a} start /srv/rec/x.wav"]
        assert info.value.reply == "-ERR Cannot locate session!"


# ------------------------------------------------------------------------------ Asterisk
async def test_asterisk_start_and_stop_reach_the_switch() -> None:
    async with live_gateway(switches=BOTH) as live:
        a = await ast_call(live)
        name = live.gw.store.get(a).name
        n = len(live.ast.actions)
        result = await live.gw.control.record(a, "start", path="/srv/rec/call-2.wav")
        assert ami_sent(live, n) == [{"Action": "MixMonitor", "Channel": name,
                                      "File": "/srv/rec/call-2.wav", "Options": MIX_OPTIONS,
                                      "Async": "false"}]
        mid = result.extra["mixmonitor_id"]
        assert result.extra["path"] == "/srv/rec/call-2.wav"
        assert ast_mixmonitors(live, a) == {mid: "/srv/rec/call-2.wav"}

        n = len(live.ast.actions)
        result = await live.gw.control.record(a, "stop")
        assert ami_sent(live, n) == [{"Action": "StopMixMonitor", "Channel": name,
                                      "MixMonitorID": mid, "Async": "false"}]
        assert result.extra["path"] == "/srv/rec/call-2.wav"
        assert ast_mixmonitors(live, a) == {}
        with pytest.raises(Rejected) as info:  # nothing left: Asterisk's own refusal
            await live.gw.control.record(a, "stop")
        assert info.value.reply == "Could not stop monitoring channel"


async def test_asterisk_stop_names_our_recording_not_another() -> None:
    async with live_gateway(switches=BOTH) as live:
        a = await ast_call(live)
        first = (await live.gw.control.record(a, "start", path="first.wav")).extra
        second = (await live.gw.control.record(a, "start", path="second.wav")).extra
        assert first["mixmonitor_id"] and second["mixmonitor_id"]
        assert ast_mixmonitors(live, a) == {first["mixmonitor_id"]: "first.wav",
                                            second["mixmonitor_id"]: "second.wav"}
        # the newer one is tracked; without its MixMonitorID Asterisk would stop the first
        n = len(live.ast.actions)
        result = await live.gw.control.record(a, "stop")
        assert ami_sent(live, n)[0]["MixMonitorID"] == second["mixmonitor_id"]
        assert result.extra["path"] == "second.wav"
        assert ast_mixmonitors(live, a) == {first["mixmonitor_id"]: "first.wav"}
        await live.gw.control.record(a, "stop", path="first.wav")  # not tracked: Asterisk picks
        assert ast_mixmonitors(live, a) == {}


async def test_asterisk_default_file_is_relative_to_the_monitor_dir() -> None:
    async with live_gateway(switches=BOTH) as live:
        a = await ast_call(live)
        n = len(live.ast.actions)
        path = (await live.gw.control.record(a)).extra["path"]
        assert re.fullmatch(rf"{a}-\d{{10}}\.wav", path), path
        assert ami_sent(live, n)[0]["File"] == path


async def test_asterisk_time_limit_sends_the_stop() -> None:
    async with live_gateway(switches=BOTH) as live:
        a = await ast_call(live)
        mid = (await live.gw.control.record(a, "start", path="short.wav",
                                            time_limit=1)).extra["mixmonitor_id"]
        n = len(live.ast.actions)
        await live.until(lambda: ast_mixmonitors(live, a) == {}, wait=3.0)
        assert ami_sent(live, n) == [{"Action": "StopMixMonitor",
                                      "Channel": live.gw.store.get(a).name,
                                      "MixMonitorID": mid, "Async": "false"}]
        assert live.gw.control.recording(a) is None  # so a Kazoo toggle starts a new one


async def test_asterisk_channel_gone_on_the_switch_is_not_found() -> None:
    async with live_gateway(switches=BOTH) as live:
        a = await ast_call(live)
        live.ast.stall(0.4)
        await live.ast.hangup(a)
        assert live.gw.store.get(a) is not None
        n = len(live.ast.actions)
        with pytest.raises(NotFound) as info:
            await live.gw.control.record(a, "start", path="x.wav")
        assert [act["Action"] for act in ami_sent(live, n)] == ["MixMonitor"]
        assert info.value.reply == "No such channel"


# ----------------------------------------------------------------------------- both
async def test_unknown_channel_is_not_found_and_nothing_sent() -> None:
    async with live_gateway(switches=BOTH) as live:
        await fs_call(live)
        await ast_call(live)
        n, m = len(live.fs.commands), len(live.ast.actions)
        for action in ("start", "stop"):
            with pytest.raises(NotFound):
                await live.gw.control.record("no-such-channel", action)
        assert live.fs.commands[n:] == [] and ami_sent(live, m) == []


async def test_bad_arguments_are_refused_before_the_switch() -> None:
    async with live_gateway(switches=BOTH) as live:
        calls = [await fs_call(live), await ast_call(live)]
        n, m = len(live.fs.commands), len(live.ast.actions)
        for a in calls:
            for path in BAD_PATHS:
                for action in ("start", "stop"):
                    with pytest.raises(InvalidArgument):
                        await live.gw.control.record(a, action, path=path)
            for action in ("pause", "mask", "toggle", ""):
                with pytest.raises(InvalidArgument):
                    await live.gw.control.record(a, action)
            for limit in (0, -5, True):
                with pytest.raises(InvalidArgument):
                    await live.gw.control.record(a, "start", time_limit=limit)
        # an unknown channel with a bad path is still the bad path: nothing is looked up
        with pytest.raises(InvalidArgument):
            await live.gw.control.record("no-such-channel", "start", path="a b")
        assert live.fs.commands[n:] == [] and ami_sent(live, m) == []


@pytest.mark.parametrize("node", BOTH)
async def test_node_down_is_unavailable(node: str) -> None:
    async with live_gateway(switches=BOTH) as live:
        a = await (fs_call(live) if node == "fs1" else ast_call(live))
        sim = live.switches.sims[node]
        sent = sim.commands if node == "fs1" else sim.actions
        await live.gw.backends[node].stop()
        n = len(sent)
        for action in ("start", "stop"):
            with pytest.raises(Unavailable):
                await live.gw.control.record(a, action)
        await asyncio.sleep(0.05)
        assert sent[n:] == []


# ----------------------------------------------------------------------------- config
BACKENDS = """
[gateway]
token_secret = "0123456789abcdef0123"
[[backends]]
name = "fs1"
type = "freeswitch"
password = "ClueCon"
[[backends]]
name = "ast1"
type = "asterisk"
username = "u"
secret = "s"
"""


def test_recordings_dir_defaults_per_switch_type() -> None:
    settings = parse(tomllib.loads(BACKENDS))
    fs, ast = settings.backends
    assert fs.recordings_dir == "/var/lib/callgate/recordings"
    assert ast.recordings_dir == ""


def test_recordings_dir_is_checked() -> None:
    text = BACKENDS.replace('password = "ClueCon"',
                            'password = "ClueCon"\nrecordings_dir = "/var/rec ordings"')
    text = text.replace('secret = "s"', 'secret = "s"\nrecordings_dir = "../up"')
    with pytest.raises(ConfigError) as info:
        parse(tomllib.loads(text), "x.toml")
    keys = [e.split(": ")[1] for e in info.value.errors]
    assert keys == ["backends[0].recordings_dir", "backends[1].recordings_dir"]
    ok = BACKENDS.replace('password = "ClueCon"', 'password = "ClueCon"\nrecordings_dir = "/r/"')
    assert parse(tomllib.loads(ok)).backends[0].recordings_dir == "/r/"
