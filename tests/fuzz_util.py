"""What the switch-protocol fuzz tests share: the recorded traffic cut into frames, and a
small switch model whose truth the store must equal after a resync."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from backends.esl_protocol import FrameParser
from gateway.store import ChannelStore
from tests.conftest import FIXTURES

#: CI-sized: each property runs a few dozen examples; the fuzz modules stay well under 60 s.
CI = settings(deadline=None, max_examples=60, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

FS_DIR = FIXTURES / "freeswitch"
AMI_DIR = FIXTURES / "asterisk-22-real"


def esl_event_frames(names: Iterable[str]) -> list[bytes]:
    """Every event frame of the recorded ESL captures, as the switch framed it."""
    frames: list[bytes] = []
    for name in names:
        parser = FrameParser()
        for msg in parser.feed((FS_DIR / name).read_bytes()):
            if msg.content_type in ("text/event-json", "text/event-plain"):
                frames.append(b"Content-Length: %d\nContent-Type: %s\n\n"
                              % (len(msg.body), msg.content_type.encode()) + msg.body)
    return frames


def ami_blocks(names: Iterable[str]) -> list[bytes]:
    """Every message of the recorded AMI captures after the banner, CRLF-terminated."""
    blocks: list[bytes] = []
    for name in names:
        raw = (AMI_DIR / name).read_bytes()
        raw = raw[raw.index(b"\r\n") + 2:]  # the banner
        blocks += [b + b"\r\n\r\n" for b in raw.split(b"\r\n\r\n") if b.strip()]
    return blocks


F = TypeVar("F", bound=Callable[..., Any])


def resync_cases(pool: Sequence[str]) -> Callable[[F], F]:
    """The arguments of `resync_race` drawn from `pool` (what the store knew, what the switch
    had, the ops, where the snapshot and the reconcile fall), with the two races that once
    failed pinned as examples; CI-sized."""
    def apply(test: F) -> F:
        test = example(stale=set(), before={pool[0]}, ops=[(False, pool[0])], snap_at=1,
                       reconcile_at=0)(test)
        test = example(stale={pool[0]}, before=set(), ops=[], snap_at=0, reconcile_at=0)(test)
        test = given(stale=st.sets(st.sampled_from(pool)),
                     before=st.sets(st.sampled_from(pool)),
                     ops=st.lists(st.tuples(st.booleans(), st.sampled_from(pool)), max_size=30),
                     snap_at=st.integers(0, 30), reconcile_at=st.integers(0, 30))(test)
        return CI(test)
    return apply


def cut(data: bytes, points: Iterable[int]) -> list[bytes]:
    """`data` split at the given offsets (any order, repeats allowed)."""
    edges = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]



def resync_race(store: ChannelStore, node: str, before: set[str],
                ops: list[tuple[bool, str]], snap_at: int, reconcile_at: int, *,
                snapshot: Callable[[list[str]], Any], reconcile: Callable[[Any], None],
                create: Callable[[str], None], destroy: Callable[[str], None]) -> set[str]:
    """A reconnect's resync raced by the switch: its table is `before`, then `ops` create
    (True) and end (False) channels while the snapshot is taken (before op `snap_at`, as the
    switch's own `snapshot` of the ids then live) and applied (before op `reconcile_at`, by
    `reconcile`). Each op is also sent as the switch's event (`create`, `destroy`); an id is
    never reused, as neither switch does. Returns the switch's table at the end."""
    truth = set(before)
    store.begin_resync(node)
    taken: Any = None
    snap_at = min(snap_at, len(ops))
    reconcile_at = min(max(reconcile_at, snap_at), len(ops))
    dead: set[str] = set()
    for i in range(len(ops) + 1):
        if i == snap_at:
            taken = snapshot(sorted(truth))
        if i == reconcile_at:
            reconcile(taken)
        if i == len(ops):
            break
        make, uid = ops[i]
        if make and uid not in truth and uid not in dead:
            truth.add(uid)
            create(uid)
        elif not make and uid in truth:
            truth.discard(uid)
            dead.add(uid)
            destroy(uid)
    return truth
