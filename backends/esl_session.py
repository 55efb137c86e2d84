"""One inbound Event Socket connection: auth, event subscription, and command correlation.

Replies come strictly in command order, so a FIFO of futures pairs them; a command that timed
out keeps its slot so the late reply is consumed and the pairing never shifts. `bgapi` jobs are
matched by the `Job-UUID` we choose ourselves, so the id is known before the switch answers.
When the connection ends every pending command fails with `Unavailable`: nothing is replayed,
because replaying a hangup or an originate on a new connection could do it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable

from gateway.control import CommandTimeout, Unavailable

from .base import AuthFailed, ProtocolError
from .esl_protocol import (
    MAX_FRAME,
    Event,
    FrameParser,
    Message,
    decode_json,
    decode_plain,
    encode_command,
)

log = logging.getLogger("callgate.esl")

EventHandler = Callable[[Event], None]
#: A json event body -> the event for the session and `on_event`, or None when it was applied
#: already (the backend's mapping decodes and applies in one step).
Ingest = Callable[[bytes], Event | None]


class _Protocol(asyncio.BufferedProtocol):
    """The socket reads straight into the session's frame buffer (no stream buffer, no bytes
    object per read), and the session frames what arrived at once."""

    def __init__(self, session: EslSession) -> None:
        self.session = session

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.session._parser.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self.session._received(nbytes)

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.session._lost(exc)


class EslSession:
    """A connected, authenticated ESL socket; frames are parsed and dispatched as bytes arrive."""

    def __init__(self, on_event: EventHandler, *, max_frame: int = MAX_FRAME,
                 ingest: Ingest = decode_json) -> None:
        loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._on_event = on_event
        self._ingest = ingest  # json event bodies
        self._parser = FrameParser(max_frame, raw_events=True)
        self._replies: deque[asyncio.Future[Message]] = deque()
        self._jobs: dict[str, asyncio.Future[str]] = {}
        self._ready: deque[Message] = deque()  # frames parsed before the session runs
        self._waiter: asyncio.Future[None] | None = None  # `_next_frame` waiting for bytes
        self._running = False  # authenticated: frames are dispatched as they arrive
        self._early_error: Exception | None = None  # bad bytes before that: `_next_frame` raises
        self._gone: asyncio.Future[None] = loop.create_future()  # the socket is closed
        self.closed: asyncio.Future[None] = loop.create_future()
        self.last_frame = loop.time()
        self.error: BaseException | None = None

    # ------------------------------------------------------------ setup
    @classmethod
    async def connect(cls, host: str, port: int, password: str, on_event: EventHandler, *,
                      wait: float = 3.0, max_frame: int = MAX_FRAME,
                      ingest: Ingest = decode_json) -> EslSession:
        """Open the socket and authenticate; raises AuthFailed on `-ERR invalid`."""
        session = cls(on_event, max_frame=max_frame, ingest=ingest)
        loop = asyncio.get_running_loop()
        transport, _ = await asyncio.wait_for(
            loop.create_connection(lambda: _Protocol(session), host, port), wait)
        session._transport = transport
        try:
            async with asyncio.timeout(wait):
                greeting = await session._next_frame()
                if greeting.content_type == "text/rude-rejection":
                    raise AuthFailed("access denied by the switch's ACL")
                if greeting.content_type != "auth/request":
                    raise ProtocolError(f"unexpected greeting {greeting.content_type!r}")
                transport.write(encode_command(f"auth {password}"))
                reply = await session._next_frame()
                while reply.content_type != "command/reply":  # stray notices before the reply
                    if reply.content_type == "text/disconnect-notice":
                        raise AuthFailed("authentication refused")
                    reply = await session._next_frame()
                if not reply.reply_text.startswith("+OK"):
                    raise AuthFailed("authentication refused")
        except BaseException:
            transport.close()
            raise
        session._start()
        return session

    async def _next_frame(self) -> Message:
        """Wait until one whole frame is available (auth phase only; then frames dispatch)."""
        while not self._ready:
            if self._early_error is not None:
                raise self._early_error
            if self._gone.done():
                raise ConnectionResetError("connection closed by the switch")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._ready.popleft()

    def _start(self) -> None:
        """Authenticated: dispatch what arrived after the auth reply, then frames as they come."""
        self._running = True
        try:
            while self._ready:
                self._dispatch(self._ready.popleft())
            if self._gone.done():
                raise ConnectionResetError("connection closed by the switch")
        except Exception as exc:  # framing or socket failure ends the session
            self._shutdown(exc)

    # ------------------------------------------------------------ reading
    def _received(self, nbytes: int) -> None:
        """`nbytes` more are in the frame buffer: dispatch every frame now whole."""
        if self.closed.done():
            return
        self.last_frame = asyncio.get_running_loop().time()
        try:
            msgs = self._parser.buffer_updated(nbytes)
            if not self._running:
                self._ready.extend(_message(m) for m in msgs)
                self._wake()
                return
            ingest, dispatch = self._ingest, self._dispatch
            for msg in msgs:
                if type(msg) is bytes:  # a json event's body: the per-event path
                    ev = ingest(msg)
                    if ev is not None:
                        self._event(ev)
                else:
                    dispatch(msg)
        except Exception as exc:  # framing failure, or the switch ended the session
            if self._running:
                self._shutdown(exc)
            else:
                self._early_error = exc
                self._wake()
                if self._transport is not None:
                    self._transport.close()

    def _lost(self, exc: Exception | None) -> None:
        if not self._gone.done():
            self._gone.set_result(None)
        self._wake()
        if self._running:
            self._shutdown(exc or ConnectionResetError("connection closed by the switch"))

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _job_done(self, ev: Event) -> None:
        job = self._jobs.pop(ev.get("Job-UUID", ""), None)
        if job is not None and not job.done():
            job.set_result(ev.get("_body", ""))

    def _event(self, ev: Event) -> None:
        if ev.get("Event-Name") == "BACKGROUND_JOB":
            self._job_done(ev)
        self._on_event(ev)

    def _dispatch(self, msg: Message) -> None:
        ct = msg.headers.get("Content-Type", "")
        if ct == "text/event-json":
            ev = self._ingest(msg.body)
            if ev is not None:
                self._event(ev)
        elif ct == "text/event-plain":
            self._event(decode_plain(msg.body))
        elif ct == "command/reply" or ct == "api/response":
            if not self._replies:
                raise ProtocolError(f"unsolicited {ct}")
            fut = self._replies.popleft()
            if not fut.done():  # a timed-out command's late reply is dropped here
                fut.set_result(msg)
        elif ct == "text/disconnect-notice":
            if msg.headers.get("Content-Disposition") != "linger":
                raise ConnectionResetError("the switch said goodbye")
        elif ct == "text/rude-rejection":
            raise ConnectionResetError("access denied by the switch")
        # log/data and unknown content types are ignored

    def _shutdown(self, error: BaseException) -> None:
        if self.closed.done():
            return
        self.closed.set_result(None)
        reason = _reason(error)
        while self._replies:
            fut = self._replies.popleft()
            if not fut.done():
                fut.set_exception(Unavailable(reason))
        for job in self._jobs.values():
            if not job.done():
                job.set_exception(Unavailable(reason))
        self._jobs.clear()
        self.error = error
        if self._transport is not None:
            self._transport.close()

    @property
    def is_open(self) -> bool:
        return not self.closed.done()

    async def close(self) -> None:
        self._shutdown(ConnectionResetError("session closed"))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._gone), 5)

    # ------------------------------------------------------------ commands
    def _send(self, line: str, headers: dict[str, str] | None = None) -> asyncio.Future[Message]:
        if self.closed.done():
            raise Unavailable("not connected to the switch")
        data = encode_command(line, headers)
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._replies.append(fut)
        assert self._transport is not None
        self._transport.write(data)
        return fut

    def _send_many(self, lines: Iterable[str]) -> list[asyncio.Future[Message]]:
        """`_send` for several commands, written to the socket at once."""
        if self.closed.done():
            raise Unavailable("not connected to the switch")
        data = [encode_command(line) for line in lines]
        loop = asyncio.get_running_loop()
        futs: list[asyncio.Future[Message]] = [loop.create_future() for _ in data]
        self._replies.extend(futs)
        assert self._transport is not None
        self._transport.write(b"".join(data))
        return futs

    async def command(self, line: str, headers: dict[str, str] | None = None, *,
                      wait: float = 5.0) -> Message:
        """Send one command and wait for its `command/reply` or `api/response`."""
        fut = self._send(line, headers)
        try:
            return await asyncio.wait_for(fut, wait)
        except TimeoutError:
            raise CommandTimeout(
                f"no reply to {' '.join(line.split(' ', 2)[:2])} within {wait:g}s") from None

    async def api(self, cmd: str, *, wait: float = 5.0) -> str:
        return (await self.command(f"api {cmd}", wait=wait)).text()

    async def api_each(self, cmds: Iterable[str], *, window: int = 256,
                       wait: float = 5.0) -> AsyncGenerator[str, None]:
        """Each command's `api` reply, in order, with up to `window` commands on the wire at
        once. The switch answers in order, so the next commands are already queued while the
        earlier replies are read: a resync's thousands of `uuid_dump`s go as one stream, not
        round trip after round trip, with one timer instead of a task per command. `wait`
        bounds the wait for each reply."""
        pending: deque[asyncio.Future[Message]] = deque()
        commands = iter(cmds)
        refill = max(1, window // 4)  # sent together once this many replies are in
        try:
            pending.extend(self._send_many(f"api {cmd}" for cmd in
                                           itertools.islice(commands, window)))
            while pending:
                try:
                    async with asyncio.timeout(wait):
                        reply = await pending.popleft()
                except TimeoutError:
                    raise CommandTimeout(
                        f"no reply to a pipelined api within {wait:g}s") from None
                if len(pending) <= window - refill:
                    pending.extend(self._send_many(f"api {cmd}" for cmd in
                                                   itertools.islice(commands, refill)))
                yield reply.text()
        finally:
            for fut in pending:  # not waited for any more: their replies are read and dropped
                fut.cancel()

    async def bgapi(self, cmd: str, *, wait: float = 30.0,
                    reply_wait: float = 5.0) -> str:
        """Run `cmd` in the background; returns the BACKGROUND_JOB body."""
        job = str(uuid.uuid4())
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._jobs[job] = fut
        try:
            reply = await self.command(f"bgapi {cmd}", {"Job-UUID": job}, wait=reply_wait)
            if not reply.reply_text.startswith("+OK"):
                return reply.reply_text + "\n"
            try:
                return await asyncio.wait_for(fut, wait)
            except TimeoutError:
                raise CommandTimeout(f"background job {cmd.split(' ', 1)[0]} timed out") from None
        finally:
            self._jobs.pop(job, None)

    async def subscribe(self, names: list[str], *, wait: float = 5.0) -> None:
        reply = await self.command("event json " + " ".join(names), wait=wait)
        if not reply.reply_text.startswith("+OK"):
            raise ProtocolError(f"event subscription refused: {reply.reply_text}")


def _message(frame: Message | bytes) -> Message:
    """A frame as a `Message`: the parser hands a json event's body over bare."""
    if type(frame) is bytes:
        return Message({"Content-Length": str(len(frame)), "Content-Type": "text/event-json"},
                       frame)
    assert isinstance(frame, Message)
    return frame


def _reason(error: BaseException) -> str:
    if isinstance(error, ProtocolError):
        return "connection to the switch reset (protocol error)"
    return "connection to the switch lost"
