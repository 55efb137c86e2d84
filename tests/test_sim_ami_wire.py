"""AMI framing of the simulator checked against the real Asterisk 22 bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from simswitch.ami_wire import BANNER, ActionReader, encode, parse_stream

RAW = "asterisk-22-real/{}.server_raw.txt"


def raw(fixtures_dir: Path, name: str) -> bytes:
    return (fixtures_dir / RAW.format(name)).read_bytes()


def test_banner_matches_capture(fixtures_dir: Path) -> None:
    data = raw(fixtures_dir, "ami_00_bad_login")
    assert data.startswith(BANNER)
    assert data[len(BANNER):].startswith(b"Response: Error\r\n")  # no blank line after banner


@pytest.mark.parametrize("name", ["ami_00b_unauthenticated_and_md5_login",
                                  "ami_01_login_originate_coreshowchannels", "ami_05_park"])
def test_encode_roundtrips_real_stream(fixtures_dir: Path, name: str) -> None:
    """Every message the real switch sent re-encodes to exactly the same bytes."""
    data = raw(fixtures_dir, name)
    body = data[len(BANNER):]
    assert encode_all(parse_stream(data)) == body


def encode_all(msgs: list[list[tuple[str, str]]]) -> bytes:
    return b"".join(encode(m) for m in msgs)


def test_encode_repeated_keys_and_empty_values() -> None:
    out = encode([("Response", "Success"), ("Output", "a"), ("Output", "b"), ("AccountCode", "")])
    assert out == b"Response: Success\r\nOutput: a\r\nOutput: b\r\nAccountCode: \r\n\r\n"


def test_reader_handles_split_crlf_lf_and_repeated_keys() -> None:
    r = ActionReader()
    wire = (b"Action: Originate\r\nactionid: 7\r\nVariable: a=1\r\nVariable: b=2\r\n"
            b"Data: x: y\r\n\r\naction: Ping\n\n")
    acts = [a for i in range(len(wire)) for a in r.feed(wire[i:i + 1])]
    assert [a.name for a in acts] == ["Originate", "Ping"]
    assert acts[0].action_id == "7"
    assert acts[0].getall("variable") == ["a=1", "b=2"]
    assert acts[0].get("DATA") == "x: y"
    assert acts[0].as_dict()["Variable"] == "a=1\nb=2"


def test_reader_rejects_oversize_action() -> None:
    r = ActionReader(max_message=1000)
    with pytest.raises(ValueError):
        list(r.feed(b"Action: Ping\r\nX: " + b"y" * 2000))
