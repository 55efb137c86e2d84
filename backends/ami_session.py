"""One AMI connection on panoramisk 1.4, with the defects of that release handled.

panoramisk gives us actions with ActionIDs, reply correlation (including EventLists and the
async `OriginateResponse`), `Message` objects and event dispatch. Around it we:

1. always send an `Async` header, because 1.4 raises `KeyError: 'async'` inside
   `data_received` on any reply ending in "successfully queued" and drops the connection;
2. never replay actions after a reconnect (1.4 re-sends every unanswered action on the next
   `FullyBooted`, which can duplicate an Originate or a Hangup): pending actions fail with
   `Unavailable`, and panoramisk's own reconnect is switched off because `ReconnectingBackend` owns
   reconnecting (backoff with jitter, auth_failed state, resync after every login);
3. run a Ping watchdog (1.4 pings but never checks the Pong), so a half-open or hung switch is
   noticed and the connection is closed and re-established;
4. dispatch events that carry one of our ActionIDs (OriginateResponse, list items) to the event
   callbacks as well, where 1.4 only hands them to the action's future.

Framing is ours too: 1.4 grows its buffer without limit and silently skips blocks it cannot
parse, where we want garbage or an oversized message to end the session (reconnect + resync).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from typing import Any

from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.manager import Manager
from panoramisk.message import Message

from gateway.control import CommandTimeout, Unavailable

from .base import AuthFailed, ProtocolError

log = logging.getLogger("callgate.ami")

BANNER_PREFIX = b"Asterisk Call Manager/"
MAX_MESSAGE = 256 * 1024
EventCallback = Callable[[Message], None]


class AmiFramer:
    """Bytes -> panoramisk `Message`s: banner, CRLF `Key: value` lines, blank line per message.

    Keys repeat for lists (`ChanVariable`, `Output`), values are stripped (Asterisk sends stray
    LFs such as `Park successful\\n`), and anything that is not AMI raises `ProtocolError`.
    """

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.max_message = max_message
        self.version: str | None = None
        self._buf = b""

    def feed(self, data: bytes) -> list[Message]:
        self._buf += data
        if self.version is None:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > 256 or not BANNER_PREFIX.startswith(self._buf[:22]):
                    raise ProtocolError("not an AMI server")
                return []
            line = self._buf[:nl].rstrip(b"\r")
            if not line.startswith(BANNER_PREFIX):
                raise ProtocolError("not an AMI server")
            self.version = line[len(BANNER_PREFIX):].decode("ascii", "replace").strip()
            self._buf = self._buf[nl + 1:]
        out: list[Message] = []
        buf, pos = self._buf, 0
        try:
            while True:
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    if len(buf) - pos > self.max_message:
                        raise ProtocolError(f"message larger than {self.max_message} bytes")
                    return out
                if end - pos > self.max_message:
                    raise ProtocolError(f"message larger than {self.max_message} bytes")
                msg = parse_block(buf[pos:end])
                pos = end + 4
                if msg is not None:
                    out.append(msg)
        finally:  # the rest is cut once per read, not once per message
            self._buf = buf[pos:]


class AmiMessage(Message):
    """panoramisk's `Message` (case-insensitive headers, the same API), built in one pass
    over the parsed headers, and with a `get` that does not raise and catch a KeyError for
    each header a message lacks: a 10,000-channel resync reads 200,000 headers this way.
    Both use panoramisk's own store (`_store`: lowercased key -> (key, value))."""

    def __init__(self, headers: dict[str, Any], content: str = "") -> None:
        store = {key.lower(): (key, value) for key, value in headers.items()}
        store["content"] = ("content", content)
        self._store = store
        self.manager = None

    def get(self, key: str, default: Any = None) -> Any:
        item = self._store.get(key.lower())
        return default if item is None else item[1]


def parse_block(block: bytes) -> Message | None:
    """One message; None for an empty block, `ProtocolError` for a block that is not AMI."""
    text = block.decode("utf-8", "replace")
    headers: dict[str, Any] = {}
    body: list[str] = []
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")
        if sep and key and " " not in key and key.isprintable():
            value = value.strip()
            if key in headers:
                old = headers[key]
                headers[key] = [*old, value] if isinstance(old, list) else [old, value]
            else:
                headers[key] = value
        elif line.strip():
            body.append(line)
    if not headers and not body:
        return None
    if "Event" not in headers and "Response" not in headers:
        raise ProtocolError("unframeable data from the switch")
    return AmiMessage(headers, "\n".join(body))


class _Protocol(AMIProtocol):
    """panoramisk's protocol with our framing, event routing and failure semantics."""

    session: AmiSession
    responses: dict[str, Action]  # panoramisk's: pending actions by id and ActionID
    closed: bool

    def data_received(self, data: bytes) -> None:
        try:
            framer = self.session.framer
            for msg in framer.feed(data):
                self.handle_message(msg)
            if framer.version is not None:
                self.session._banner.set()
        except Exception as exc:  # garbage, oversize, or a bug in an event consumer
            self.session._fail(exc if isinstance(exc, ProtocolError) else ProtocolError(
                f"{type(exc).__name__} while handling an AMI message"))

    def handle_message(self, message: Message) -> None:
        action = self.responses.get(message.id)
        if action is None and message.action_id:
            action = self.responses.get(message.action_id)
        is_event = "event" in message
        if action is not None and action.add_message(message):
            self.responses.pop(action.id, None)
            if action.action_id:
                self.responses.pop(action.action_id, None)
        if is_event:  # defect 4: our ActionID does not hide an event from the mapping
            if message["event"].lower() == "shutdown":
                self.session._fail(ConnectionResetError("switch shut down"))
            self.factory.dispatch(message)

    def eof_received(self) -> bool:
        self.session._fail(ConnectionResetError("connection closed by the switch"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.session._fail(exc or ConnectionResetError("connection closed by the switch"))

    def close(self) -> None:
        """Defect 2: fail what is pending; never queue it for a replay."""
        pending, self.responses = list(self.responses.values()), {}
        for action in pending:
            if not action.future.done():
                action.future.set_exception(Unavailable(
                    "the connection to the switch was lost; the action was not retried"))
        if not self.closed:
            self.closed = True
            self.transport.close()


class _Manager(Manager):
    """panoramisk's Manager for dispatch only: no auto-login, no pinger, no reconnect."""

    def connection_lost(self, exc: Exception | None) -> None:  # never reconnect by itself
        self._connected = False

    async def send_awaiting_actions(self, *_: Any) -> None:  # never replay
        self.awaiting_actions.clear()


class AmiSession:
    """A logged-in AMI connection; `wait_closed` returns (or raises) when it ends."""

    def __init__(self, host: str, port: int, username: str, secret: str, *,
                 on_event: EventCallback, md5: bool = True, connect_timeout: float = 3.0,
                 command_timeout: float = 5.0, ping_interval: float = 10.0,
                 ping_timeout: float | None = None, max_message: int = MAX_MESSAGE,
                 events: str = "on") -> None:
        self.host, self.port = host, port
        self.events = events  # the Login's `Events`: "off" for a command-only connection
        self.username, self._secret = username, secret
        self.md5 = md5
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout if ping_timeout is not None else ping_interval
        self.framer = AmiFramer(max_message)
        self.manager = _Manager(host=host, port=port, events="on")
        self.manager.register_event("*", lambda _m, msg: on_event(msg))
        self._protocol: _Protocol | None = None
        self._closed: asyncio.Future[None] | None = None
        self._banner: asyncio.Event = asyncio.Event()
        self._pinger: asyncio.Task[None] | None = None
        self.pongs = 0

    @property
    def version(self) -> str:
        return self.framer.version or ""

    @property
    def connected(self) -> bool:
        return self._closed is not None and not self._closed.done()

    async def connect(self) -> None:
        """Open, read the banner and log in; raises AuthFailed, OSError or TimeoutError."""
        loop = asyncio.get_running_loop()
        self._closed = loop.create_future()

        def factory() -> _Protocol:
            proto = _Protocol()
            proto.session = self
            return proto

        async with asyncio.timeout(self.connect_timeout):
            _, proto = await loop.create_connection(factory, self.host, self.port)
            self._protocol = proto
            proto.factory = self.manager
            proto.log = log
            proto.encoding = "utf-8"
            proto.config = self.manager.config
            self.manager.protocol = proto
            self.manager.loop = loop
            self.manager._connected = True
            banner = asyncio.ensure_future(self._banner.wait())
            try:
                either: set[asyncio.Future[Any]] = {self._closed, banner}
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            finally:
                banner.cancel()
            self._raise_if_closed()
        await self._login()
        self.manager.authenticated = True
        if self.ping_interval > 0:
            self._pinger = asyncio.create_task(self._watchdog(), name="ami-ping")

    async def _login(self) -> None:
        action: dict[str, Any] = {"Action": "Login", "Username": self.username,
                                  "Events": self.events}
        if self.md5:
            reply = await self.send({"Action": "Challenge", "AuthType": "MD5"})
            challenge = reply.get("Challenge", "") if isinstance(reply, Message) else ""
            if not challenge:
                raise ProtocolError("the switch sent no MD5 challenge")
            key = hashlib.md5((challenge + self._secret).encode()).hexdigest()
            action.update(AuthType="MD5", Key=key)
        else:
            action["Secret"] = self._secret
        reply = await self.send(action)
        if not isinstance(reply, Message) or not reply.success:
            text = reply.get("Message", "") if isinstance(reply, Message) else ""
            if "auth" in text.lower():
                raise AuthFailed("authentication failed")
            raise ProtocolError(f"login refused: {text or 'no reply'}")

    def _raise_if_closed(self) -> None:
        if self._closed is not None and self._closed.done():
            exc = self._closed.exception()
            raise exc if exc is not None else ConnectionResetError("connection closed")

    async def send(self, fields: dict[str, Any], timeout: float | None = None  # noqa: ASYNC109
                   ) -> Message | list[Message]:
        """Send one action and await its reply (a list for EventLists and async Originate).

        Raises `Unavailable` when not connected or when the link drops first, and
        `CommandTimeout` (after forgetting the action) when no reply comes in time.
        """
        proto = self._protocol
        if proto is None or proto.closed or not self.connected:
            raise Unavailable("not connected to the switch")
        data = dict(fields)
        if not any(k.lower() == "async" for k in data):
            data["Async"] = "false"  # defect 1: panoramisk reads it for "successfully queued"
        # without events (a command-only connection) an async Originate's OriginateResponse
        # never comes: the reply that it is queued is the whole answer
        single = self.events == "off" and str(data.get("Action", "")).lower() == "originate"
        action = Action(data)
        # as_list=None: panoramisk detects lists
        fut = self.manager.send_action(action, as_list=False if single else None)
        try:
            async with asyncio.timeout(timeout if timeout is not None else self.command_timeout):
                return await asyncio.shield(fut)
        except TimeoutError:
            proto.responses.pop(action.id, None)
            if action.action_id:
                proto.responses.pop(action.action_id, None)
            if not fut.done():
                fut.cancel()
            raise CommandTimeout(f"no reply to {data.get('Action')} from the switch") from None

    async def _watchdog(self) -> None:
        """Defect 3: a Ping that gets no Pong in time means the link is dead."""
        while self.connected:
            await asyncio.sleep(self.ping_interval)
            try:
                await self.send({"Action": "Ping"}, timeout=self.ping_timeout)
                self.pongs += 1
            except CommandTimeout:
                self._fail(TimeoutError("keepalive: no Pong from the switch"))
                return
            except Unavailable:
                return

    def _fail(self, exc: BaseException) -> None:
        """End the session once, with `exc` as the reason."""
        if self._closed is not None and not self._closed.done():
            self._closed.set_exception(exc)
            self._closed.exception()  # retrieved: the reason is reported by wait_closed
        if self._protocol is not None:
            self._protocol.close()

    async def wait_closed(self) -> None:
        """Return when the connection ends; raise its reason (ProtocolError, TimeoutError...)."""
        assert self._closed is not None
        await asyncio.wait({self._closed})
        self._raise_if_closed()

    async def close(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pinger
            self._pinger = None
        self._fail(ConnectionResetError("closed by the gateway"))
