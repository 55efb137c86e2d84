"""The soak, CI-sized: 10 mid-frame cuts of each switch connection under call churn, and after
every resync the store holds exactly each switch's channels (`python -m bench.soak` is the
full run, with RSS and the timed resync of 10k channels)."""

from __future__ import annotations

from bench.soak import Check, run


async def test_ten_drops_per_switch_leave_no_ghost_and_miss_nothing() -> None:
    checks: list[Check] = []
    await run(drops=10, big=0, seed=7, on_check=checks.append)
    assert {c.node for c in checks} == {"fs1", "ast1"} and len(checks) == 20
    assert [(c.node, c.ghosts, c.missing) for c in checks] == [
        (c.node, 0, 0) for c in checks]
    assert sum(c.channels for c in checks) > 0  # the cuts met live calls
