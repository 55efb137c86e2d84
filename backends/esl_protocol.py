"""FreeSWITCH Event Socket framing: bytes in, messages out, and command bytes back.

Frames are a header block closed by an empty line, then exactly `Content-Length` BYTES of body
(multi-byte caller names make character counts wrong). Plain events URL-encode each value on its
own line, so each value is decoded separately after splitting: decoding the whole block first
lets an encoded newline forge headers. Anything we cannot frame raises `ProtocolError`, and the
connection is dropped and resynced rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict
from urllib.parse import unquote

import msgspec
import orjson

from .base import ProtocolError

#: FreeSWITCH itself refuses client bodies above 16 MiB; a larger frame is not ESL.
MAX_FRAME = 16 * 1024 * 1024
#: A header block never comes near this; without a terminator by then the stream is garbage.
MAX_HEADER_BLOCK = 64 * 1024
UNDEF = "_undef_"

Event = dict[str, Any]  # header -> value (str, or list for json arrays); body under "_body"


@dataclass(slots=True)
class Message:
    """One frame from the switch: its envelope headers and raw body bytes."""

    headers: dict[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def reply_text(self) -> str:
        return self.headers.get("Reply-Text", "")

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\n"):
        if not line:
            continue
        name, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":"):  # "Name:" with an empty value
                name, value = line[:-1], ""
            else:
                raise ProtocolError(f"malformed header line {line[:60]!r}")
        if not name or " " in name:
            raise ProtocolError(f"malformed header name {name[:60]!r}")
        headers[name] = value
    return headers


def _content_length(headers: dict[str, str], limit: int) -> int:
    raw = headers.get("Content-Length")
    if raw is None:
        return 0
    if not raw.isdigit():
        raise ProtocolError(f"bad Content-Length {raw[:20]!r}")
    n = int(raw)
    if n > limit:
        raise ProtocolError(f"frame of {n} bytes exceeds the {limit} byte limit")
    return n


#: The envelope of every event frame FreeSWITCH sends: `Content-Length: N` then this line.
_EVENT_HEAD = b"Content-Length: "
_EVENT_TAIL = b"\nContent-Type: text/event-json"
#: The envelope of an api reply: this, then the length's digits.
_API_HEAD = b"Content-Type: api/response\nContent-Length: "
_API_LEN = len(_API_HEAD)


#: The buffer's usual size (asyncio reads at most this much at once); a frame larger than
#: this grows it to fit.
READ_SIZE = 256 * 1024
#: A read is offered at least this much room, or the unframed bytes move to the front first.
MIN_ROOM = 64 * 1024


class FrameParser:
    """Incremental framer: bytes in as they arrive, whole messages out.

    The buffer has a fixed capacity and two offsets (parsed up to, received up to), so a socket
    can read straight into its free tail (`get_buffer`/`buffer_updated`, asyncio's buffered
    protocol) and no byte is copied between the kernel and the frame's body; `feed` is the
    same for bytes already in hand. Parsed bytes are dropped by moving the unparsed tail to the
    front only when the free room runs short. An event frame's two-line envelope takes a fast
    path that builds the same headers `_parse_headers` would; with `raw_events` such a frame
    comes back as its body bytes alone (no headers dict, no `Message`): the session's
    per-event path, where every allocation counts."""

    def __init__(self, max_frame: int = MAX_FRAME, *, raw_events: bool = False) -> None:
        self.max_frame = max_frame
        self.raw_events = raw_events
        self._buf = bytearray(READ_SIZE)
        self._pos = 0  # first byte not yet framed
        self._end = 0  # one past the last byte received
        # headers waiting for their body; bytes: the Content-Length digits of an event frame
        self._pending: dict[str, str] | bytes | None = None
        self._need = 0

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """The free tail of the buffer, for the next read to fill (then `buffer_updated`).

        Only here is the buffer moved or resized: while a read's view of it is alive (until
        `buffer_updated` returns) its size must not change."""
        buf, pos, end = self._buf, self._pos, self._end
        if len(buf) - end < MIN_ROOM or pos + self._need > len(buf):
            live = end - pos
            if pos:
                buf[:live] = buf[pos:end]
                self._pos, self._end = pos, end = 0, live
            cap = max(READ_SIZE, self._need + MIN_ROOM)
            if len(buf) < cap:
                buf.extend(bytes(cap - len(buf)))
        elif pos == end and len(buf) > 4 * READ_SIZE:
            del buf[READ_SIZE:]  # a large frame's room is given back once it has gone
            self._pos = self._end = end = 0
        return memoryview(buf)[end:]

    def buffer_updated(self, nbytes: int) -> list[Any]:
        """`nbytes` more arrived in the room `get_buffer` gave: the frames now whole."""
        self._end += nbytes
        return self._frames()

    def feed(self, data: bytes) -> list[Any]:
        """Whole frames as `Message`s (json event bodies as bytes when `raw_events`)."""
        out: list[Any] = []
        with memoryview(data) as rest:
            while True:
                with self.get_buffer() as room:
                    n = min(len(room), len(rest))
                    room[:n] = rest[:n]
                rest = rest[n:]
                self._end += n
                out += self._frames()
                if not rest:
                    return out

    def _frames(self) -> list[Any]:
        buf = self._buf
        out: list[Any] = []
        size = self._end
        pos = self._pos
        headers, need = self._pending, self._need
        raw = self.raw_events
        try:
            with memoryview(buf) as view:
                while True:
                    if headers is None:
                        end = buf.find(b"\n\n", pos, size)
                        if end < 0:
                            # FreeSWITCH sends bare \n; a lone blank line between frames is fine
                            if size - pos > MAX_HEADER_BLOCK:
                                raise ProtocolError("header block without terminator")
                            break
                        start, pos = pos, end + 2
                        if (buf.startswith(_EVENT_HEAD, start, end)
                                and buf.endswith(_EVENT_TAIL, start, end)
                                and (digits := view[start + 16:end - 30].tobytes()).isdigit()):
                            need = int(digits)
                            if need > self.max_frame:
                                raise ProtocolError(f"frame of {need} bytes exceeds the "
                                                    f"{self.max_frame} byte limit")
                            headers = digits
                        elif (buf.startswith(_API_HEAD, start, end)
                                and (digits := view[start + _API_LEN:end].tobytes()).isdigit()):
                            # an api reply (a resync reads thousands of them)
                            headers = {"Content-Type": "api/response",
                                       "Content-Length": digits.decode()}
                            need = _content_length(headers, self.max_frame)
                        else:
                            block = view[start:end].tobytes()
                            if not block.strip(b"\n"):
                                continue
                            headers = _parse_headers(block)
                            need = _content_length(headers, self.max_frame)
                    if size - pos < need:
                        break
                    body = view[pos:pos + need].tobytes()
                    if type(headers) is not bytes:
                        out.append(Message(headers, body))  # type: ignore[arg-type]
                    elif raw:
                        out.append(body)
                    else:
                        out.append(Message({"Content-Length": headers.decode(),
                                            "Content-Type": "text/event-json"}, body))
                    pos += need
                    headers, need = None, 0
        finally:
            self._pending, self._need = headers, need
            self._pos = pos
            if pos == size:  # everything framed: the next read starts at the front
                self._pos = self._end = 0
        return out

    @property
    def buffered(self) -> int:
        return self._end - self._pos


def decode_plain(body: bytes) -> Event:
    """A `text/event-plain` body: per-line `Name: value`, each value URL-decoded on its own;
    a nested `Content-Length` header announces the event's own body (BACKGROUND_JOB)."""
    end = body.find(b"\n\n")
    head, rest = (body, b"") if end < 0 else (body[:end], body[end + 2:])
    ev: Event = {}
    for line in head.decode("utf-8", "replace").split("\n"):
        if not line:
            continue
        name, sep, value = line.partition(": ")
        if not sep:
            raise ProtocolError(f"malformed event line {line[:60]!r}")
        ev[name] = "" if value == UNDEF else (unquote(value) if "%" in value else value)
    clen = ev.get("Content-Length")
    if clen is not None:
        if not clen.isdigit() or int(clen) > len(rest):
            raise ProtocolError(f"bad nested Content-Length {clen[:20]!r}")
        ev["_body"] = rest[: int(clen)].decode("utf-8", "replace")
    return ev


_STR = {str}


def decode_json(body: bytes) -> Event:
    """A `text/event-json` body. orjson: this parse is most of what ingest costs.

    FreeSWITCH writes every header as a string, and a channel variable holding an array as a
    list of strings; any other type is not its event, and mapping it would put numbers or
    lists where the store keeps text (or fail on an unhashable id), so it ends the session
    like bad framing."""
    try:
        ev = orjson.loads(body)
    except ValueError as exc:
        raise ProtocolError(f"bad json event: {exc}") from None
    if not isinstance(ev, dict):
        raise ProtocolError("json event is not an object")
    if set(map(type, ev.values())) != _STR and not all(
            type(v) is str or (type(v) is list and k.startswith("variable_")
                               and all(type(x) is str for x in v))
            for k, v in ev.items()):
        raise ProtocolError("json event with a header that is not a string")
    return ev


#: A header the mapping reads, as FreeSWITCH writes it; anything else fails the lean decode,
#: and the whole decode then reports it.
_Header = str | None

#: FreeSWITCH writes the event name first: `{"Event-Name":"CHANNEL_STATE",...`
_NAME_PREFIX = b'{"Event-Name":"'


class LeanDecoder:
    """Decodes a json event keeping only the headers listed for its name.

    A FreeSWITCH event carries a hundred or more headers and handling one reads a dozen; a
    typed decoder (msgspec) that skips the rest costs about half of building the whole dict.
    Each name's headers are a non-total TypedDict, so msgspec builds the dict itself: only the
    listed headers the event has (absent ones stay absent, as in the whole event), with no
    struct to convert afterwards. `decode` returns None when the name has no list or the body
    is not what FreeSWITCH writes: the caller then decodes the whole event, which also reports
    a bad one. Every listed header costs a little on every key of the event (msgspec looks a
    key up by scanning the list), so the lists are kept to what handling reads."""

    def __init__(self, reads: Mapping[str, Iterable[str]]) -> None:
        self._decoders: dict[bytes, Callable[[bytes], Any]] = {}
        self._fields: dict[bytes, frozenset[str]] = {}  # what each name's decode keeps
        for name, keys in reads.items():
            # a header the mapping reads must be a string (or null): any other value fails the
            # lean decode, and the whole decode then reports it
            fields = {key: _Header for key in dict.fromkeys(("Event-Name", *keys))}
            shape = TypedDict(f"Lean_{name}", fields, total=False)  # type: ignore[misc]
            self._decoders[name.encode()] = msgspec.json.Decoder(shape).decode
            self._fields[name.encode()] = frozenset(fields)

    def decode(self, body: bytes) -> Event | None:
        if not body.startswith(_NAME_PREFIX):
            return None
        decoder = self._decoders.get(body[15:body.find(b'"', 15)])
        if decoder is None:
            return None
        try:
            ev: Event = decoder(body)
        except msgspec.MsgspecError:
            return None
        return ev


def decode_event(msg: Message) -> Event | None:
    """The event a frame carries, or None when the frame is not an event."""
    ct = msg.content_type
    if ct == "text/event-json":
        return decode_json(msg.body)
    if ct == "text/event-plain":
        return decode_plain(msg.body)
    return None


def encode_command(line: str, headers: dict[str, str] | None = None) -> bytes:
    """One client command; a newline inside it would start a second command, so refuse it."""
    if "\n" in line or "\r" in line:
        raise ValueError("command contains a line break")
    parts = [line]
    if headers:
        for k, v in headers.items():
            if "\n" in k or "\n" in v or "\r" in v:
                raise ValueError("header contains a line break")
            parts.append(f"{k}: {v}")
    return ("\n".join(parts) + "\n\n").encode()
