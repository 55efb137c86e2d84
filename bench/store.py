"""How fast an account-scoped list is answered, and what a live channel costs in memory.

    python -m bench.store [--channels 100000] [--per-account 100]

Prints the time per `by_account` list query (100 of 100,000 channels in the account) beside the
bare floor (a dict lookup returning a prebuilt list) and beside a full scan, and the resident
memory per channel (RSS growth / channels, store and indexes included). Targets: list query
<= 50 us; <= 1.5 KiB per channel.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import uuid
from collections.abc import Callable

from gateway.model import Channel, State
from gateway.store import ChannelStore


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def _per_call(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - t0) / repeat)
    return best


def _channels(n: int, per_account: int) -> list[Channel]:
    """Legs shaped as the FreeSWITCH mapping makes them: A/B pairs, realistic strings."""
    intern = sys.intern
    out: list[Channel] = []
    accounts = max(1, n // per_account)
    now = time.time()
    for i in range(0, n, 2):
        realm = intern(f"tenant{(i // per_account) % accounts}.example.com")
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        for leg, peer, user, direction in ((a, b, f"{1000 + i % 900}", "inbound"),
                                           (b, a, f"{2000 + i % 900}", "outbound")):
            out.append(Channel(
                id=leg, node="fs1", name=f"sofia/internal/{user}@{realm}",
                direction=intern(direction), state=State.ANSWERED, answered=True,
                created=now - i, answered_at=now - i + 3, caller_id_number=user,
                caller_id_name=user, destination=f"{2000 + i % 900}", other_leg=peer, call_id=a,
                context=intern("default"), dialplan=intern("XML"), application=intern("bridge"),
                read_codec=intern("PCMU"), read_rate=intern("8000"), write_codec=intern("PCMU"),
                write_rate=intern("8000"), ip_addr=intern("10.0.0.5"),
                presence_id=f"{user}@{realm}", switch_state=intern("CS_EXECUTE"),
                callstate=intern("ACTIVE"), hostname=intern("fs1"),
                initial=(user, user, "10.0.0.5", f"{2000 + i % 900}", "XML", "default"),
                username=user, realm=realm,
                variables=None,
            ))
    return out[:n]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--channels", type=int, default=100_000)
    ap.add_argument("--per-account", type=int, default=100)
    args = ap.parse_args(argv)

    store = ChannelStore()  # attribution set explicitly below: tenants are synthetic here

    gc.collect()
    base = _rss()
    chans = _channels(args.channels, args.per_account)
    for i, ch in enumerate(chans):
        ch.account_id = f"{(i // args.per_account):032x}"
        store.add(ch)
    del chans
    gc.collect()
    per_channel = (_rss() - base) / len(store)

    target = f"{(args.channels // args.per_account // 2):032x}"
    listed = list(store.by_account(target))
    prebuilt = {target: listed}

    def query() -> list[Channel]:
        return list(store.by_account(target))

    def floor() -> list[Channel]:
        return list(prebuilt[target])

    def scan() -> list[Channel]:
        return [c for c in store.all() if c.account_id == target]

    q = _per_call(query, 2000)
    f = _per_call(floor, 2000)
    s = _per_call(scan, 3)
    print(f"channels in store          : {len(store):,} ({len(listed)} in the queried account)")
    print(f"account list query         : {q * 1e6:8.2f} us   (target <= 50 us)")
    print(f"bare floor (dict + list)   : {f * 1e6:8.2f} us   ratio query/floor = {q / f:.2f}")
    print(f"full scan (what we avoid)  : {s * 1e6:8.0f} us   ratio scan/query = {s / q:,.0f}")
    print(f"RSS per channel            : {per_channel:8.0f} B    (target <= 1536 B, indexes incl.)")


if __name__ == "__main__":
    main()
