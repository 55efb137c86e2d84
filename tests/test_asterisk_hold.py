"""Asterisk hold of a leg in no bridge (a caller in an IVR, a Local `;1` leg), as FreeSWITCH's
uuid_hold takes it, and the connect-time ShowDialPlan check of the extensions hold and play
redirect to; the simulator's ShowDialPlan compared with the Asterisk 22 capture."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from backends.asterisk import AsteriskBackend
from gateway.control import Endpoint, Rejected
from simswitch.ami_server import AsteriskSimulator
from tests.harness import live_gateway, until
from tests.test_asterisk_backend import connected, last
from tests.test_sim_ami_server import Client

CAPTURE = (Path(__file__).resolve().parent / "fixtures" / "asterisk-22-real"
           / "ami_06_misc_actions.server_raw.txt")




@pytest.fixture
async def sim() -> AsyncIterator[AsteriskSimulator]:
    async with AsteriskSimulator(extensions={"201": "", "202": ""}, trunks=["carrier2"]) as s:
        yield s


@pytest.fixture
async def backend(sim: AsteriskSimulator) -> AsyncIterator[AsteriskBackend]:
    async with connected(sim) as b:
        yield b


async def test_a_caller_in_an_ivr_is_held_in_music_and_sent_back_where_it_was(
        backend: AsteriskBackend, sim: AsteriskSimulator) -> None:
    uid = await sim.place_call("+37060000001", "ivr")
    await until(lambda: (c := backend.store.get(uid)) is not None and c.answered
                and c.application == "Background")
    ch = backend.store.get(uid)
    assert ch is not None and ch.other_leg == ""
    assert sim.model.find(uid).priority == 2  # type: ignore[union-attr]

    await backend.hold(ch)
    status, redirect = last(sim, "Status"), last(sim, "Redirect")
    assert status["Channel"] == ch.name
    assert (redirect["Channel"], redirect["Exten"], redirect["Context"], redirect["Priority"]) \
        == (ch.name, "moh", "from-internal", "1") and "ExtraChannel" not in redirect
    await until(lambda: backend.store.get(uid).application == "MusicOnHold")  # type: ignore
    assert backend.store.get(uid).held  # type: ignore[union-attr]
    assert sim.model.find(uid).application == "MusicOnHold"  # type: ignore[union-attr]

    await backend.unhold(ch)
    back = last(sim, "Redirect")
    assert (back["Exten"], back["Context"], back["Priority"]) == ("ivr", "from-trunk", "2")
    await until(lambda: backend.store.get(uid).application == "Background")  # type: ignore
    live = sim.model.find(uid)
    assert live is not None and live.alive and (live.exten, live.priority) == ("ivr", 2)
    assert not backend.store.get(uid).held  # type: ignore[union-attr]
    with pytest.raises(Rejected):  # nothing left to take off hold
        await backend.unhold(ch)


async def test_a_local_one_leg_is_held_alone_and_its_other_half_stays(
        backend: AsteriskBackend, sim: AsteriskSimulator) -> None:
    result = await backend.originate(Endpoint("extension", "ivr"), "", application="Echo",
                                     ring_timeout=5)
    one_id = result.channel_id
    await until(lambda: (c := backend.store.get(one_id)) is not None and c.answered)
    one = backend.store.get(one_id)
    assert one is not None and one.name.endswith(";1")
    two = next(c for c in sim.model.all_channels() if c.name == one.name[:-1] + "2")

    await backend.hold(one)
    assert "ExtraChannel" not in last(sim, "Redirect")
    await until(lambda: sim.model.find(one_id).application == "MusicOnHold")  # type: ignore
    assert two.alive and backend.store.get(one_id).held  # type: ignore[union-attr]
    await backend.unhold(one)
    await until(lambda: sim.model.find(one_id).application != "MusicOnHold")  # type: ignore
    assert two.alive and sim.model.find(one_id).alive  # type: ignore[union-attr]
    assert not backend.store.get(one_id).held  # type: ignore[union-attr]


async def test_a_ringing_lone_leg_is_refused(backend: AsteriskBackend,
                                             sim: AsteriskSimulator) -> None:
    uid = await sim.place_call("201", "202", answer_after=None)
    await until(lambda: backend.store.get(uid) is not None)
    mark = len(sim.actions)
    with pytest.raises(Rejected, match="not answered"):
        await backend.hold(backend.store.get(uid))  # type: ignore[arg-type]
    assert sim.actions[mark:] == []


async def test_the_demo_dialplan_passes_the_connect_check(backend: AsteriskBackend,
                                                          sim: AsteriskSimulator) -> None:
    asked = [a for a in sim.actions if a["Action"] == "ShowDialPlan"]
    assert [(a["Context"], a["Extension"]) for a in asked] == [
        ("from-internal", "moh"), ("from-internal", "playback")]
    assert backend.health()["last_error"] == ""


async def test_missing_extensions_are_named_in_health_and_logged_once(
        sim: AsteriskSimulator, caplog: pytest.LogCaptureFixture) -> None:
    sim.model.absent = {"playback"}
    caplog.set_level(logging.WARNING, logger="callgate.asterisk")
    async with connected(sim) as b:
        error = b.health()["last_error"]
        assert "playback@from-internal" in error and "moh" not in error
        assert "callgate asterisk-dialplan" in error
        assert b.health()["state"] == "connected"
        connects = b.connects
        await sim.drop_connections()
        await until(lambda: b.connects > connects and b.ready.is_set())
        assert "playback@from-internal" in b.health()["last_error"]
        logged = [r for r in caplog.records if "playback@from-internal" in r.getMessage()]
        assert len(logged) == 1


def _capture_blocks(action_id: str) -> list[list[str]]:
    """The header names of each server block answering `action_id` in the capture."""
    blocks = CAPTURE.read_text().replace("\r\n", "\n").split("\n\n")
    out = []
    for block in blocks:
        lines = [ln for ln in block.split("\n") if ln and not ln.startswith("####")]
        if f"ActionID: {action_id}" in lines:
            out.append([ln.partition(":")[0] for ln in lines])
    return out


async def test_showdialplan_has_the_captures_shape_and_errors(sim: AsteriskSimulator) -> None:
    want = _capture_blocks("showdialplan-11")
    assert want and want[0][0] == "Response"
    c = await Client.connect(sim)
    try:
        await c.login(events="off")
        aid = c.send("ShowDialPlan", Context="from-internal", Extension="moh")
        seen, _ = await c.until(lambda d: d.get("Event") == "ShowDialPlanComplete")
        got = [[k for k, _ in m] for m in seen if dict(m).get("ActionID") == aid]
        assert [got[0], got[1], got[-1]] == [want[0], want[1], want[-1]]
        items = [dict(m) for m in seen if dict(m).get("Event") == "ListDialplan"]
        assert [(i["Priority"], i["Application"], i["AppData"]) for i in items] == [
            ("1", "Answer", ""), ("2", "MusicOnHold", "default")]
        assert dict(seen[-1])["ListItems"] == "2"
        aid = c.send("ShowDialPlan", Context="nowhere", Extension="moh")
        assert (await c.reply(aid))["Message"] == "Did not find context nowhere"
        sim.model.absent = {"moh"}
        aid = c.send("ShowDialPlan", Context="default", Extension="moh")
        reply = await c.reply(aid)
        assert (reply["Response"], reply["Message"]) == (
            "Error", "Did not find extension moh@default")
    finally:
        await c.close()


async def test_a_manager_user_without_dialplan_rights_concludes_nothing(
        sim: AsteriskSimulator, caplog: pytest.LogCaptureFixture) -> None:
    async def refuse(s: Any, act: Any) -> None:
        s.error(act, "Permission denied")

    sim._act_showdialplan = refuse  # type: ignore[method-assign]
    caplog.set_level(logging.INFO, logger="callgate.asterisk")
    async with connected(sim) as b:
        assert b.health()["last_error"] == "" and b.health()["state"] == "connected"
        assert any("could not check the dialplan: Permission denied" in r.getMessage()
                   for r in caplog.records)
        assert not any(r.levelno >= logging.WARNING for r in caplog.records)


async def test_webitel_holds_an_asterisk_phone_alone_in_an_ivr() -> None:
    """Through a dialect, as FreeSWITCH's uuid_hold would answer it: +OK, not -ERR."""
    def only_webitel(s: Any) -> Any:
        return dataclasses.replace(s, dialects={"webitel": s.dialects["webitel"]})

    async with live_gateway(edit=only_webitel, switches=("ast1",)) as live:
        r = await live.client.post("/login", json={"username": "gus@gamma.example.com",
                                                   "password": "demo-gus"})
        login = await r.json()
        gus = {"X-Access-Token": login["token"], "X-Key": login["key"]}
        uid = await live.ast.place_call("401", "ivr")
        await live.until(lambda: (c := live.gw.store.get(uid)) is not None and c.answered
                         and c.application == "Background")
        for state, held, app in (("hold", True, "MusicOnHold"),
                                 ("unhold", False, "Background")):
            r = await live.client.put(f"/api/v2/channels/{uid}", headers=gus,
                                      json={"state": state})
            assert (r.status, (await r.json())["status"]) == (200, "OK")
            await live.until(lambda app=app: live.gw.store.get(uid).application == app)
            assert live.gw.store.get(uid).held is held
        assert uid in live.ast.channel_ids()
