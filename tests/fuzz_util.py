"""What the switch-protocol fuzz tests share: the recorded traffic cut into frames, and a
small switch model whose truth the store must equal after a resync."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from hypothesis import HealthCheck, settings

from backends.esl_protocol import FrameParser
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


def cut(data: bytes, points: Iterable[int]) -> list[bytes]:
    """`data` split at the given offsets (any order, repeats allowed)."""
    edges = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]

