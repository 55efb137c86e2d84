"""AMI wire format: CRLF `Key: value` lines, a blank line ends a message.

Kept apart from sessions and the call model so that framing can be tested (and reused by
test clients) byte for byte against the real Asterisk captures.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

BANNER = b"Asterisk Call Manager/11.0.0\r\n"  # Asterisk 22 (AMI 11.0.0); no blank line follows
CRLF = "\r\n"

Field = tuple[str, str]
Fields = list[Field]


def encode(fields: Iterable[Field]) -> bytes:
    """Serialise ordered (key, value) pairs; repeated keys are simply repeated pairs.

    Values are written verbatim, so a value ending in ``\\n`` reproduces Asterisk's stray-LF quirk
    (``Message: Park successful\\n\\r\\n``).
    """
    out = [f"{k}: {v}{CRLF}" for k, v in fields]
    out.append(CRLF)
    return "".join(out).encode("utf-8", "replace")


class Action:
    """One client action: ordered headers, looked up case-insensitively like Asterisk does."""

    __slots__ = ("fields",)

    def __init__(self, fields: Fields) -> None:
        self.fields = fields

    def get(self, key: str, default: str = "") -> str:
        k = key.lower()
        for name, value in self.fields:
            if name.lower() == k:
                return value
        return default

    def getall(self, key: str) -> list[str]:
        k = key.lower()
        return [v for name, v in self.fields if name.lower() == k]

    def has(self, key: str) -> bool:
        k = key.lower()
        return any(name.lower() == k for name, _ in self.fields)

    @property
    def name(self) -> str:
        return self.get("Action").strip()

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID") if self.has("ActionID") else None

    def as_dict(self) -> dict[str, str]:
        """Keys as sent; a repeated key keeps its values joined by ``\\n`` (e.g. Variable)."""
        out: dict[str, str] = {}
        for k, v in self.fields:
            out[k] = f"{out[k]}\n{v}" if k in out else v
        return out

    def __repr__(self) -> str:
        return f"Action({self.fields!r})"


def parse_lines(lines: Iterable[str]) -> Fields:
    """Split each line on the first ':' (Asterisk tolerates a missing space after it)."""
    fields: Fields = []
    for line in lines:
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue  # Asterisk ignores header lines without a colon
        fields.append((key.strip(), value[1:] if value.startswith(" ") else value))
    return fields


class ActionReader:
    """Incremental splitter for a client byte stream; lines may end in CRLF or bare LF."""

    def __init__(self, max_message: int = 64 * 1024) -> None:
        self._buf = b""
        self._lines: list[str] = []
        self._size = 0
        self.max_message = max_message

    def feed(self, data: bytes) -> Iterator[Action]:
        """Yield every complete action in ``data``; raises ValueError on an oversized message."""
        self._buf += data
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) + self._size > self.max_message:
                    raise ValueError("action too large")
                return
            raw, self._buf = self._buf[:nl], self._buf[nl + 1 :]
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if line:
                self._size += len(raw) + 1
                if self._size > self.max_message:
                    raise ValueError("action too large")
                self._lines.append(line)
                continue
            if self._lines:
                fields = parse_lines(self._lines)
                self._lines, self._size = [], 0
                yield Action(fields)


def parse_stream(data: bytes) -> list[Fields]:
    """Split server bytes into messages (for tests and tools); the banner line is skipped."""
    text = data.decode("utf-8", "replace")
    if text.startswith("Asterisk Call Manager/"):
        text = text.split(CRLF, 1)[1] if CRLF in text else ""
    msgs: list[Fields] = []
    for block in text.split(CRLF + CRLF):
        if block.strip():
            msgs.append(parse_lines(block.split(CRLF)))
    return msgs
