"""One WebSocket connection: its bounded outgoing queue and writer, the unauthenticated
timer, the read loop that hands each `exec-*` request to the commands, and the handler the
core mounts at the root of Webitel's listener."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from gateway.context import Gateway

from ..cors import add_cors
from ..errors import not_found, reply
from ..sessions import Session
from ..state import WebitelState
from . import commands
from .hub import DISCONNECT, Hub, dumps

log = logging.getLogger("callgate.webitel")

#: A request frame larger than this closes the socket (1009); the engine's requests are small.
MAX_FRAME = 64 * 1024
#: Requests one socket may have in flight; past it the socket is not read until one ends.
MAX_IN_FLIGHT = 16
_CLOSE_WAIT = 1.0  # seconds a close handshake may take before the connection is dropped


class _Close:
    """The writer's sentinel: close once everything queued before it is sent."""


_CLOSE = _Close()


class Socket:
    def __init__(self, state: WebitelState, hub: Hub, gw: Gateway, ws: web.WebSocketResponse,
                 request: web.Request) -> None:
        self.state = state
        self.hub = hub
        self.gw = gw
        self.ws = ws
        self.request = request
        self.id = str(uuid.uuid4())  # the `session` of the auth answer
        self.who: Session | None = None
        self.logged = False
        self.events: set[str] = set()
        self.closing = False
        self.refused = False  # over the per-user limit: close once the answer is out
        self._queue: asyncio.Queue[str | _Close] = asyncio.Queue(state.options.socket_queue)
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ output
    def send(self, frame: str) -> None:
        """Queue a frame; a socket whose queue is full is too slow and is closed."""
        if self.closing:
            return
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("webitel: closing a socket that does not read (%d frames waiting)",
                        self._queue.qsize())
            self._abandon(WSCloseCode.POLICY_VIOLATION)

    def answer(self, exec_uuid: Any, complete: str, response: Any = commands.MISSING) -> None:
        frame: dict[str, Any] = {}
        if exec_uuid is not None:
            frame["exec-uuid"] = exec_uuid
        frame["exec-complete"] = complete
        if response is not commands.MISSING:
            frame["exec-response"] = response
        self.send(dumps(frame))

    def close_after_flush(self) -> None:
        if self.closing:
            return
        try:
            self._queue.put_nowait(_CLOSE)
        except asyncio.QueueFull:
            self._abandon(WSCloseCode.POLICY_VIOLATION)
            return
        self.closing = True

    def _abandon(self, code: int) -> None:
        """Close now, dropping whatever is queued (never awaited by the caller)."""
        self.closing = True
        if self._writer is not None:
            self._writer.cancel()
        if self._closer is None:
            self._closer = asyncio.get_running_loop().create_task(self.close(code))

    async def close(self, code: int = WSCloseCode.OK) -> None:
        self.closing = True
        try:
            async with asyncio.timeout(_CLOSE_WAIT):
                await self.ws.close(code=code)
        except (TimeoutError, ConnectionError, RuntimeError):
            transport = self.request.transport
            if transport is not None:
                transport.abort()

    async def _write(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, _Close):
                    await self.close()
                    return
                await self.ws.send_str(item)
        except (ConnectionError, RuntimeError):
            pass  # the peer is gone; the read loop ends too

    # ------------------------------------------------------------------- input
    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _unauthorized_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self.who is None:
            self.send(DISCONNECT)
            self.close_after_flush()

    async def run(self) -> None:
        self.hub.start()
        self.hub.sockets.add(self)
        self._writer = asyncio.get_running_loop().create_task(self._write())
        self._spawn(self._unauthorized_after(self.state.options.socket_timeout_unauthorized))
        try:
            async for msg in self.ws:
                if msg.type is WSMsgType.TEXT:
                    await self._slots.acquire()
                    self._spawn(self._one(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    self.answer(None, "-ERR", commands.BAD_PARAMETERS)
        finally:
            self.hub.left(self)
            for task in list(self._tasks):
                task.cancel()
            await self._finish()

    async def _finish(self) -> None:
        """Let a close already under way complete; stop the writer; close if nobody did."""
        pending = {t for t in (self._writer, self._closer) if t is not None and not t.done()}
        if pending and self.closing:
            await asyncio.wait(pending, timeout=2 * _CLOSE_WAIT)
        self.closing = True
        for task in pending:
            task.cancel()
        if not self.ws.closed:
            await self.close(WSCloseCode.GOING_AWAY)

    async def _one(self, raw: str) -> None:
        try:
            await self._dispatch(raw)
        except Exception as exc:  # a bug in one command answers it, never ends the socket
            log.error("webitel: socket command failed: %s", type(exc).__name__)
        finally:
            self._slots.release()

    async def _dispatch(self, raw: str) -> None:
        try:
            request = json.loads(raw)
        except (ValueError, RecursionError):
            request = None
        if not isinstance(request, dict):
            self.answer(None, "-ERR", commands.BAD_PARAMETERS)
            return
        exec_uuid = request.get("exec-uuid")
        name = request.get("exec-func")
        args = request.get("exec-args")
        if not isinstance(args, dict):
            args = {}  # the engine's `exec-args || {}`: a wrong type reads as no arguments
        result = await commands.run(self, name, args)
        if result is not None:
            self.answer(exec_uuid, *result)
        if self.refused:
            self.close_after_flush()


async def _refuse(request: web.Request) -> web.StreamResponse:
    """A plain request at the socket's path: Express's 404, CORS headers included."""
    err = not_found(request)
    response = reply(err.body(), err.status)
    add_cors(request, response)
    return response


def ws_handler(state: WebitelState, hub: Hub, gw: Gateway) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, autoping=True)
        if not ws.can_prepare(request).ok:
            return await _refuse(request)
        await ws.prepare(request)
        await Socket(state, hub, gw, ws, request).run()
        return ws

    return handle
