"""Server side of the FreeSWITCH Event Socket wire format (framing only, no sessions).

Byte layout follows the recorded FreeSWITCH 1.11 traffic in tests/fixtures/freeswitch:
bare ``\\n`` line ends, events send ``Content-Length`` before ``Content-Type`` while
``api/response`` sends ``Content-Type`` first, lengths are counted in UTF-8 bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from json.encoder import encode_basestring  # type: ignore[attr-defined]

import orjson

AUTH_REQUEST = b"Content-Type: auth/request\n\n"
DISCONNECT_TEXT = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
DISCONNECT_NOTICE = (
    b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n" % len(DISCONNECT_TEXT)
    + DISCONNECT_TEXT
)
MAX_BODY = 16 * 1024 * 1024

# switch_url_encode: bytes outside 0x20..0x7E plus this set are %XX-escaped; an existing
# %XX (uppercase hex) is passed through, which is why decoding such values is lossy.
_URL_UNSAFE = frozenset(b'\r\n "#%&+:;<=>?@[\\]^`{|}')
_HEX_UPPER = frozenset(b"0123456789ABCDEF")
_NEEDS_ENCODING = re.compile(r'[^\x21-\x7e]|["#%&+:;<=>?@\[\\\]^`{|}]')


@lru_cache(maxsize=8192)
def url_encode(value: str) -> str:
    """Encode one header value the way FreeSWITCH does for text/event-plain."""
    if not _NEEDS_ENCODING.search(value):
        return value
    raw = value.encode()
    n = len(raw)
    out: list[str] = []
    for i, b in enumerate(raw):
        if b == 0x25 and i + 2 < n and raw[i + 1] in _HEX_UPPER and raw[i + 2] in _HEX_UPPER:
            out.append("%")
        elif b < 0x20 or b > 0x7E or b in _URL_UNSAFE:
            out.append(f"%{b:02X}")
        else:
            out.append(chr(b))
    return "".join(out)


json_str = lru_cache(maxsize=16384)(encode_basestring)


class Event:
    """One switch event; each wire encoding is built once and shared by all subscribers."""

    __slots__ = ("_json", "_plain", "body", "headers", "name")

    def __init__(self, headers: list[tuple[str, str]], body: str | None = None) -> None:
        self.headers = headers
        self.body = body
        self.name = headers[0][1]
        self._plain: bytes | None = None
        self._json: bytes | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def plain_frame(self) -> bytes:
        if self._plain is None:
            text = "".join([f"{k}: {url_encode(v) if v else '_undef_'}\n" for k, v in self.headers])
            if self.body is not None:
                body = self.body.encode()
                payload = text.encode() + b"Content-Length: %d\n\n" % len(body) + body
            else:
                payload = (text + "\n").encode()
            self._plain = event_frame(payload, "text/event-plain")
        return self._plain

    def json_frame(self) -> bytes:
        if self._json is None:
            parts = [f"{json_str(k)}:{json_str(v)}" for k, v in self.headers]
            if self.body is not None:
                parts.append(f'"Content-Length":"{len(self.body.encode())}"')
                parts.append(f'"_body":{json_str(self.body)}')
            payload = ("{" + ",".join(parts) + "}").encode()
            self._json = event_frame(payload, "text/event-json")
        return self._json

    def frame(self, fmt: str) -> bytes:
        return self.json_frame() if fmt == "json" else self.plain_frame()


def event_frame(payload: bytes, content_type: str) -> bytes:
    head = b"Content-Length: %d\nContent-Type: %s\n\n" % (len(payload), content_type.encode())
    return head + payload


def api_response(text: str) -> bytes:
    body = text.encode()
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body


def command_reply(reply_text: str, job_uuid: str | None = None) -> bytes:
    head = f"Content-Type: command/reply\nReply-Text: {reply_text}\n"
    if job_uuid:
        head += f"Job-UUID: {job_uuid}\n"
    return (head + "\n").encode()


def json_object(pairs: list[tuple[str, str]]) -> str:
    """Unformatted JSON object in the given key order (cJSON style, keys may repeat)."""
    obj = dict(pairs)
    if len(obj) == len(pairs):  # no repeated key: orjson writes the same text, faster
        with contextlib.suppress(orjson.JSONEncodeError):  # a lone surrogate: see below
            return orjson.dumps(obj).decode()
    return "{" + ",".join(f"{json_str(k)}:{json_str(v)}" for k, v in pairs) + "}"


@dataclass(slots=True)
class ClientCommand:
    """A message sent by an ESL client: command line, optional headers and body."""

    line: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


class FrameError(Exception):
    """The client sent something that cannot be framed (oversized or bad Content-Length)."""


async def read_command(reader: asyncio.StreamReader) -> ClientCommand | None:
    """Read one client message; None on EOF. CRs are ignored like FreeSWITCH does."""
    lines: list[str] = []
    while True:
        raw = await reader.readline()
        if not raw:
            return None
        line = raw.decode("utf-8", "replace").replace("\r", "").rstrip("\n")
        if not line:
            if lines:
                break
            continue  # stray blank lines between messages
        lines.append(line)
    cmd = ClientCommand(lines[0].strip())
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            cmd.headers[name.strip()] = value.strip()
    length = cmd.headers.get("Content-Length")
    if length is not None:
        if not length.isdigit() or int(length) > MAX_BODY:
            raise FrameError(length)
        cmd.body = (await reader.readexactly(int(length))).decode("utf-8", "replace")
    return cmd
