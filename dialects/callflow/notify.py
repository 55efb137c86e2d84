"""Notifications: one store subscription for the dialect, turned into the original's events by
its transition table, and fanned out to the websockets of the call's organization only.

Each socket has its own bounded queue and writer, so a slow client never delays another; one
that falls too far behind is closed (it reconnects and re-reads `/call/list`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiohttp import web

from gateway.logs import brief
from gateway.model import Channel
from gateway.store import ChangeKind, ChannelStore, Subscription

from .calls import Calls, CallState
from .render import View

log = logging.getLogger("callgate.callflow")

SOCKET_QUEUE = 512


def transition_events(old: CallState, new: CallState, is_call: bool) -> list[str]:
    """Reference section 8's table: the events for one state change. Its `created`,
    `unparked` and `left_queue` targets are states `Calls.state` never derives: `call_offer`
    is sent by `observe` for a call first seen, and leaving `parked`/`queued` is covered above."""
    if old == new:
        return []
    events: list[str] = []
    if old == CallState.QUEUED:
        events.append("queue_leave")
    if old == CallState.PARKED:
        events.append("call_unpark")
    match new:
        case CallState.QUEUED:
            events.append("queue_join")
        case CallState.PARKED:
            events.append("call_park")
        case CallState.SPEAKING if is_call:
            events.append("call_pickup")
        case CallState.TRANSFERRED:
            events.append("call_transfer")
        case CallState.RINGING:
            events.append("call_state")
        case CallState.HUNGUP if is_call:
            events.append("call_hangup")
    return events


class Listener:
    """One websocket and its private queue."""

    def __init__(self, ws: web.WebSocketResponse, account_id: str) -> None:
        self.ws = ws
        self.account_id = account_id
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SOCKET_QUEUE)
        self.task: asyncio.Task[None] | None = None

    async def pump(self) -> None:
        while True:
            message = await self.queue.get()
            await self.ws.send_json(message)


class Notifier:
    """Tracks each call's last protocol state and emits events on change."""

    def __init__(self, store: ChannelStore, calls: Calls, view: View) -> None:
        self.store = store
        self.calls = calls
        self.view = view
        self.last: dict[str, CallState] = {}
        self.locked: set[str] = set()
        self.listeners: dict[str, set[Listener]] = {}
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- life
    def start(self) -> None:
        if self._task is not None:
            return
        self._sub = self.store.subscribe()
        for ch in list(self.store.all()):  # calls alive before we started: no events
            self.last[ch.id] = self.view.state(ch)
        self._task = asyncio.create_task(self._run(), name="callflow-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        for group in list(self.listeners.values()):
            for listener in list(group):
                await listener.ws.close()

    async def _run(self) -> None:
        assert self._sub is not None
        async for change in self._sub:
            try:
                if change.kind == ChangeKind.RESYNC:
                    self.resync()
                elif change.channel is not None:
                    self.observe(change.channel, removed=change.kind == ChangeKind.REMOVED)
            except Exception as exc:  # one bad change must not end notifications
                log.error("callflow: notifier failed on a change: %s", brief(exc))

    # ------------------------------------------------------------- events
    def resync(self) -> None:
        seen = set()
        for ch in list(self.store.all()):
            seen.add(ch.id)
            self.observe(ch)
        for gone in [cid for cid in self.last if cid not in seen]:
            self.last.pop(gone, None)
            self.locked.discard(gone)
            self.calls.release(gone)

    def reload(self, account_id: str) -> None:
        """`/state/reload` for one organization: re-derive its calls' states only, so one
        tenant's desk cannot make others' sockets hear events. Channels that left the store
        are forgotten by their own removal (or a store resync), not here."""
        for ch in list(self.store.by_account(account_id)):
            self.observe(ch)

    def touch(self, channel_id: str) -> None:
        """Re-evaluate after the dialect's own state (assignment) changed."""
        ch = self.store.get(channel_id)
        if ch is not None:
            self.observe(ch)

    def observe(self, ch: Channel, *, removed: bool = False) -> None:
        self.calls.note_bridge(ch)
        owner = self.view.owner(ch)
        is_call = self.calls.is_call(ch, owner)
        new = CallState.HUNGUP if removed else self.calls.state(ch, owner)
        old = self.last.get(ch.id)
        names: list[str] = []
        if old is None:
            if new == CallState.HUNGUP:
                self._forget(ch.id)
                return
            old = CallState.CREATED if is_call else CallState.UNKNOWN
            if is_call:
                names.append("call_offer")
        lock = not removed and self.calls.locked(ch, owner)
        if lock and ch.id not in self.locked:
            self.locked.add(ch.id)
            names.append("call_lock")
        elif not lock and ch.id in self.locked:
            self.locked.discard(ch.id)
            names.append("call_unlock")
        names += transition_events(old, new, is_call)
        if new == CallState.HUNGUP:
            self._forget(ch.id)
        else:
            self.last[ch.id] = new
        if names:
            call = self.view.call(ch, removed=removed)
            if removed or new == CallState.HUNGUP:
                call["state"] = CallState.HUNGUP
            for name in names:
                self.publish(ch.account_id, name, call)

    def _forget(self, channel_id: str) -> None:
        self.last.pop(channel_id, None)
        self.locked.discard(channel_id)
        self.calls.release(channel_id)

    # ------------------------------------------------------------- fan-out
    def publish(self, account_id: str, event: str, call: dict[str, Any]) -> None:
        group = self.listeners.get(account_id)
        if not account_id or not group:
            return
        message = {"timestamp": int(time.time()),
                   "notification": {"event": event, "call": call}}
        for listener in list(group):
            try:
                listener.queue.put_nowait(message)
            except asyncio.QueueFull:
                log.warning("callflow: dropping a notification socket that fell behind")
                self.remove(listener)
                asyncio.get_running_loop().create_task(listener.ws.close(code=1013))

    def add(self, listener: Listener) -> None:
        self.listeners.setdefault(listener.account_id, set()).add(listener)
        listener.task = asyncio.create_task(listener.pump())

    def remove(self, listener: Listener) -> None:
        group = self.listeners.get(listener.account_id)
        if group is not None:
            group.discard(listener)
            if not group:
                del self.listeners[listener.account_id]
        if listener.task is not None:
            listener.task.cancel()
