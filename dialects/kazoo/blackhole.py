"""Kazoo 4.3's blackhole websocket (reference A.1-A.5): per-message, sticky token auth,
`subscribe`/`unsubscribe` of `call.<EVENT>.<CALL_ID>` bindings with their exact replies and
error texts, and call events from the store's change bus.

One store subscription feeds every socket. Each socket has a bounded queue of frames written
by its own task, so a socket that does not read is closed when its queue overflows and never
holds up the others; replies go through the same queue, so a subscribe's reply always precedes
that binding's first event (Monster UI registers its listener on the reply).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from gateway.logs import brief
from gateway.model import Channel
from gateway.store import ChangeKind, Subscription

from . import call_events, tokens
from .errors import KazooError
from .state import STATE, KazooState

log = logging.getLogger("callgate.kazoo.blackhole")

#: Largest text frame read; a larger one closes the socket with 1009 (message too big).
MAX_FRAME = 64 * 1024
#: bh_events' rate limit per session (kazoo_token_buckets defaults): 100 tokens, 10 per second.
BUCKET_SIZE = 100
BUCKET_RATE = 10.0

#: Bytes a connection may have waiting in its write buffer and still be written to directly.
DIRECT_WRITE_LIMIT = 64 * 1024

OVERFLOW = 1008  # policy violation: the client did not read its frames
GOING_AWAY = 1001

SUBSCRIBE_KEYS = ("account_id", "binding")


def _dumps(value: Any) -> str:
    """jiffy's encoding: compact, UTF-8, keys in insertion order."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Refused(Exception):
    """A stage of the pipeline failed: the one error message of the reply."""


@dataclass(frozen=True, slots=True)
class Binding:
    """One (client binding, AMQP binding) pair of a session; `event` is concrete."""

    binding: str  # the client's string, verbatim (`subscribed_key`)
    account_id: str  # or "*"
    event: str
    call_id: str  # or "*"

    @property
    def key(self) -> str:  # `subscription_key`
        return f"call.{self.account_id}.{self.event}.{self.call_id}"

    def matches(self, event: str, ch: Channel) -> bool:
        return (self.event == event and self.account_id in ("*", ch.account_id)
                and self.call_id in ("*", ch.id))


def call_bindings(binding: str, account_id: str) -> list[Binding] | None:
    """bh_call's validation and expansion of `call.<EVENT>.<CALL_ID>` (raises `Refused`);
    None for a binding of another module, which no module here serves."""
    parts = binding.split(".")
    if parts[0] != "call":
        return None
    rest = parts[1:]
    if len(rest) != 2:
        raise Refused("invalid format for call subscription : " + ", ".join(rest))
    event, call_id = rest
    if event != "*" and event not in call_events.EVENTS:
        raise Refused(f"event {event} not supported")
    events = call_events.EVENTS if event == "*" else (event,)
    return [Binding(binding, account_id, e, call_id) for e in events]


class Session:
    """What one socket has established: who it is (once a whole frame succeeded) and what it
    is subscribed to. `handle` runs bh's pipeline on one message and returns the reply."""

    def __init__(self, state: KazooState, peer: str) -> None:
        self.state = state
        self.peer = peer
        self.account_id = ""  # auth_account_id: set only by a fully successful frame
        self.superduper = False
        self.bindings: list[Binding] = []  # oldest first, as replies list them
        self._bound: set[Binding] = set()
        self._tokens = float(BUCKET_SIZE)
        self._filled = time.monotonic()

    # ---------------------------------------------------------------- pipeline stages
    def _rate(self) -> None:
        now = time.monotonic()
        self._tokens = min(BUCKET_SIZE, self._tokens + (now - self._filled) * BUCKET_RATE)
        self._filled = now
        if self._tokens < 1:
            raise Refused(f"rate limiting threshold hit for {self.peer}!")
        self._tokens -= 1

    def _authenticate(self, msg: dict[str, Any]) -> tuple[str, bool]:
        if self.account_id:
            return self.account_id, self.superduper
        token = msg.get("auth_token")
        if token is None or token == "":
            raise Refused("authentication token required")
        if not isinstance(token, str):
            raise Refused("invalid authentication token format")
        try:
            claims = tokens.verify(self.state, token)
        except KazooError:
            raise Refused(f"failed to authenticate token {token}") from None
        account = self.state.gw.directory.account(str(claims["account_id"]))
        if account is None:
            raise Refused(f"failed to authenticate token {token}")
        return account.id, account.superduper

    @staticmethod
    def _validate(msg: dict[str, Any]) -> tuple[str, str]:
        data = msg.get("data")
        if not isinstance(data, dict) or not data:
            raise Refused("missing required keys in data object")
        missing = [k for k in SUBSCRIBE_KEYS if k not in data]
        if missing:
            raise Refused("missing required keys : " + ", ".join(missing))
        binding, account_id = data["binding"], data["account_id"]
        if not isinstance(binding, str):
            raise Refused("binding must be a string")
        return binding, account_id if isinstance(account_id, str) else ""

    def _authorize(self, auth_account: str, superduper: bool, account_id: str) -> None:
        if account_id == "*":
            if not superduper:
                raise Refused("unauthorized wildcard account id")
            return
        directory = self.state.gw.directory
        if directory.account(account_id) is None or not directory.is_within(account_id,
                                                                             auth_account):
            raise Refused("unauthorized account id")

    # ------------------------------------------------------------------------ run
    def handle(self, msg: dict[str, Any]) -> tuple[Any, str, dict[str, Any]]:
        """(request_id, status, data) of the reply to one decoded message."""
        request_id = msg.get("request_id") or secrets.token_hex(16)
        try:
            return request_id, "success", self._run(msg)
        except Refused as exc:
            return request_id, "error", {"errors": [str(exc)]}

    def _run(self, msg: dict[str, Any]) -> dict[str, Any]:
        action = msg.get("action", "noop")
        self._rate()
        auth_account, superduper = self._authenticate(msg)
        data: dict[str, Any] = {}
        if action in ("subscribe", "unsubscribe"):
            binding, account_id = self._validate(msg)
            pairs = call_bindings(binding, account_id)
            if action == "subscribe":
                self._authorize(auth_account, superduper, account_id)
            if pairs is None:
                raise Refused("no available subscriptions to requested binding")
            if action == "subscribe":
                for pair in pairs:
                    if pair not in self._bound:
                        self._bound.add(pair)
                        self.bindings.append(pair)
                data = {"subscribed": [b.binding for b in self.bindings]}
            else:
                self._bound.difference_update(pairs)
                self.bindings = [b for b in self.bindings if b in self._bound]
                data = {"unsubscribed": [binding],
                        "subscribed": [b.binding for b in self.bindings]}
        self.account_id, self.superduper = auth_account, superduper  # sticky from now on
        return data

    def accounts(self) -> set[str]:
        return {b.account_id for b in self.bindings}


def text_frame(payload: bytes) -> bytes:
    """An unmasked, uncompressed server text frame (RFC 6455 5.2)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 1 << 16:
        head = b"\x81\x7e" + n.to_bytes(2, "big")
    else:
        head = b"\x81\x7f" + n.to_bytes(8, "big")
    return head + payload


class Socket:
    """One client: its session, its bounded frame queue and the task that writes it.

    While nothing is queued and the connection's write buffer is short, a frame is written at
    once (the same bytes for every socket that gets it); otherwise it waits in the queue, which
    the writer task empties at the pace the client reads."""

    def __init__(self, hub: Blackhole, ws: web.WebSocketResponse, peer: str,
                 transport: asyncio.Transport | None = None) -> None:
        self.hub = hub
        self.ws = ws
        self.transport = transport
        self.session = Session(hub.state, peer)
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(hub.state.options.socket_queue)
        self.closing = False
        self._writing = False
        self.writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                payload = await self.queue.get()
                self._writing = True
                await self.ws.send_frame(payload, WSMsgType.TEXT)
                self._writing = not self.queue.empty()

    def send(self, payload: bytes, frame: bytes | None = None) -> None:
        """Send a frame's UTF-8 `payload` (`frame`: the same, framed), never waiting: a full
        queue closes this socket as too slow."""
        if self.closing:
            return
        transport = self.transport
        if (not self._writing and self.queue.empty() and transport is not None
                and not transport.is_closing()
                and transport.get_write_buffer_size() < DIRECT_WRITE_LIMIT):
            transport.write(frame if frame is not None else text_frame(payload))
            return
        try:
            self.queue.put_nowait(payload)
        except asyncio.QueueFull:
            self.hub.drop(self, OVERFLOW, "event queue overflow: the client does not read")

    def reply(self, request_id: Any, status: str, data: dict[str, Any]) -> None:
        self.send(_dumps({"action": "reply", "request_id": request_id, "status": status,
                          "data": data}).encode())

    def receive(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except (ValueError, RecursionError):
            msg = None
        if not isinstance(msg, dict):
            self.reply(secrets.token_hex(16), "error", {"errors": ["invalid JSON object"]})
            return
        before = self.session.accounts()
        self.reply(*self.session.handle(msg))
        if self.session.accounts() != before:
            self.hub.reindex(self, before)

    async def close(self, code: int, reason: str, wait: float = 2.0) -> None:
        """Send the close frame (behind whatever the client has yet to read); a client that
        does not take it within `wait` seconds loses the connection."""
        self.closing = True
        self.writer.cancel()
        try:
            async with asyncio.timeout(wait):
                await self.ws.close(code=code, message=reason.encode())
        except Exception:
            if self.transport is not None:
                self.transport.abort()


class Blackhole:
    """Every open socket, indexed by the accounts they subscribe to, and the one pump that
    turns store changes into their frames."""

    def __init__(self, state: KazooState) -> None:
        self.state = state
        self.sockets: set[Socket] = set()
        self._by_account: dict[str, set[Socket]] = {}
        self._sub: Subscription | None = None
        self._pump: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._node_types = {b.name: b.type for b in state.gw.settings.backends}
        self._bridged_to: dict[str, str] = {}

    # --------------------------------------------------------------------- lifecycle
    async def start(self, app: web.Application) -> None:
        self._sub = self.state.gw.store.subscribe()
        self._pump = asyncio.create_task(self._run())

    async def stop(self, app: web.Application) -> None:
        """Shutdown: every socket is closed (1001) at once, then the pump stops."""
        sockets = list(self.sockets)
        self.sockets.clear()
        self._by_account.clear()
        await asyncio.gather(*(s.close(GOING_AWAY, "server shutting down") for s in sockets))
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._sub is not None:
            self._sub.close()

    def drop(self, sock: Socket, code: int, reason: str) -> None:
        """Close one socket without waiting for it."""
        self._forget(sock)
        if not sock.closing:
            log.warning("kazoo blackhole: closing %s: %s", sock.session.peer, reason)
            task = asyncio.create_task(sock.close(code, reason, wait=10.0))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def _forget(self, sock: Socket) -> None:
        self.sockets.discard(sock)
        for account in sock.session.accounts():
            bucket = self._by_account.get(account)
            if bucket is not None:
                bucket.discard(sock)
                if not bucket:
                    del self._by_account[account]

    def reindex(self, sock: Socket, before: set[str]) -> None:
        now = sock.session.accounts()
        for account in before - now:
            bucket = self._by_account.get(account)
            if bucket is not None:
                bucket.discard(sock)
                if not bucket:
                    del self._by_account[account]
        if sock in self.sockets:
            for account in now - before:
                self._by_account.setdefault(account, set()).add(sock)

    # --------------------------------------------------------------------- the socket
    async def handle(self, request: web.Request) -> web.StreamResponse:
        if "Sec-WebSocket-Protocol" in request.headers:
            return web.Response(status=400)  # blackhole_socket_handler:init/2
        # no permessage-deflate: frames are written as they are, and shared between sockets
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, timeout=2.0, compress=False)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400)
        await ws.prepare(request)
        transport = request.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        sock = Socket(self, ws, f"{peer[0]}:{peer[1]}" if peer else "unknown", transport)
        self.sockets.add(sock)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    try:
                        sock.receive(msg.data)
                    except Exception as exc:  # a bug: this socket's reply, nobody else's
                        log.error("kazoo blackhole: unexpected %s", brief(exc))
                        sock.reply(secrets.token_hex(16), "error", {"errors": ["internal error"]})
                elif msg.type is WSMsgType.BINARY:
                    sock.reply(secrets.token_hex(16), "error",
                               {"errors": ["binary frames are not supported"]})
        finally:
            self._forget(sock)
            if not sock.closing:
                sock.closing = True
                sock.writer.cancel()
        return ws

    # ------------------------------------------------------------------------ events
    async def _run(self) -> None:
        assert self._sub is not None
        async for change in self._sub:
            if change.kind is ChangeKind.RESYNC:
                log.warning("kazoo blackhole: fell behind the store; events were lost")
                store = self.state.gw.store
                for gone in [c for c in self._bridged_to if c not in store]:
                    del self._bridged_to[gone]
                continue
            ch = change.channel
            if ch is None or not ch.account_id:
                continue  # an event without an account has nowhere to go
            try:
                for name in call_events.events_of(change, self._bridged_to):
                    self._publish(name, ch)
            except Exception as exc:
                log.error("kazoo blackhole: unexpected %s", brief(exc))

    def _publish(self, name: str, ch: Channel) -> None:
        targets = self._by_account.get(ch.account_id, set()) | self._by_account.get("*", set())
        if not targets:
            return
        data_json = head = ""
        frames: dict[Binding, tuple[bytes, bytes]] = {}  # one encoding per distinct frame
        for sock in list(targets):
            for pair in sock.session.bindings:
                if not pair.matches(name, ch):
                    continue
                made = frames.get(pair)
                if made is None:
                    if not data_json:
                        peer = (self.state.gw.store.peer(ch) if name == call_events.BRIDGE
                                else None)
                        data = call_events.event_data(name, ch, self.state.gw.directory,
                                                      self._node_types.get(ch.node, ""), peer)
                        data_json = _dumps(data)
                        head = (f',"name":{_dumps(name)},"routing_key":'
                                + _dumps(f"call.{ch.account_id}.{name}."
                                         + call_events.encode_call_id(ch.id)))
                    payload = (f'{{"action":"event","subscribed_key":{_dumps(pair.binding)},'
                               f'"subscription_key":{_dumps(pair.key)}{head},'
                               f'"data":{data_json}}}').encode()
                    made = frames[pair] = (payload, text_frame(payload))
                sock.send(*made)


HUB = web.AppKey("kazoo.blackhole", Blackhole)


def listener_app(state: KazooState) -> web.Application:
    """The socket's own application: every path of every method upgrades (or answers 400)."""
    app = web.Application()
    hub = Blackhole(state)
    app[STATE] = state
    app[HUB] = hub
    app.router.add_route("*", "/{tail:.*}", hub.handle)
    app.on_startup.append(hub.start)
    app.on_shutdown.append(hub.stop)
    return app
