"""How fast an account-scoped list is answered as the table grows, and what a live channel
costs in memory.

    python -m bench.store [--sizes 10000,100000,1000000] [--per-account 100]

One store is filled step by step to each size in `--sizes` (100 channels per account, A/B
legs shaped as the FreeSWITCH mapping makes them); at each size it prints the time per
`by_account` list query (100 channels) beside the bare floor (a dict lookup returning a prebuilt
list) and beside a full scan, and the resident memory per channel so far (RSS growth / channels,
store and indexes included). Targets: the list query <= 50 us and the same at every size
(cost grows with the work, not the table); <= 1.5 KiB per channel at every size.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import uuid
from collections.abc import Callable

from gateway.model import Channel, Initial, State
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


def _channels(start: int, stop: int, per_account: int) -> list[Channel]:
    """Legs `start`..`stop` (even `start`): A/B pairs, realistic strings, attributed to
    account `i // per_account` (tenants are synthetic here)."""
    intern = sys.intern
    out: list[Channel] = []
    now = time.time()
    for i in range(start, stop, 2):
        realm = intern(f"tenant{i // per_account}.example.com")
        account = intern(f"{(i // per_account):032x}")
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
                initial=Initial(user, user, "10.0.0.5", f"{2000 + i % 900}", "XML", "default"),
                username=user, realm=realm, variables=None, account_id=account,
            ))
    return out[:stop - start]


def _fill(store: ChannelStore, size: int, per_account: int) -> None:
    """Grow the store to `size` channels, in slices so no big list of them lingers."""
    while len(store) < size:
        start = len(store)
        for ch in _channels(start, min(size, start + 100_000), per_account):
            store.add(ch)


def _measure(store: ChannelStore, per_account: int) -> tuple[int, float, float, float]:
    accounts = len(store) // per_account
    target = f"{(accounts // 2):032x}"  # an account in the middle of the table
    listed = list(store.by_account(target))
    prebuilt = {target: listed}

    def query() -> list[Channel]:
        return list(store.by_account(target))

    def floor() -> list[Channel]:
        return list(prebuilt[target])

    def scan() -> list[Channel]:
        return [c for c in store.all() if c.account_id == target]

    return len(listed), _per_call(query, 2000), _per_call(floor, 2000), _per_call(scan, 1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000,1000000",
                    help="table sizes to measure at, ascending, comma-separated")
    ap.add_argument("--per-account", type=int, default=100)
    args = ap.parse_args(argv)
    sizes = sorted(int(x) for x in args.sizes.split(","))

    store = ChannelStore()  # attribution set on each channel: tenants are synthetic here
    gc.collect()
    base = _rss()
    print(f"{args.per_account} channels per account; targets: list query <= 50 us and flat "
          "across sizes, <= 1536 B per channel")
    print(f"{'channels':>10} {'list query':>11} {'bare floor':>11} {'query/floor':>11} "
          f"{'full scan':>11} {'scan/query':>10} {'RSS/channel':>12}  fill")
    for size in sizes:
        t0 = time.perf_counter()
        gc.disable()  # a million young objects: collections would dominate the fill
        try:
            _fill(store, size, args.per_account)
        finally:
            gc.enable()
        gc.collect()
        fill = time.perf_counter() - t0
        per_channel = (_rss() - base) / len(store)
        listed, q, f, s = _measure(store, args.per_account)
        assert listed == args.per_account, listed
        print(f"{len(store):>10,} {q * 1e6:>8.2f} us {f * 1e6:>8.2f} us {q / f:>11.2f} "
              f"{s * 1e6:>8,.0f} us {s / q:>10,.0f} {per_channel:>10,.0f} B  {fill:4.1f} s",
              flush=True)


if __name__ == "__main__":
    main()
