"""Every open WebSocket of the dialect, and the one pump that turns the store's changes into
frames for them.

The pump never waits on a socket: each socket has a bounded queue and is closed when it
overflows, so a slow client loses its connection instead of slowing anyone else. Frames are
rendered once per event and shared by every socket that receives them (the per-user `call`
frame once per receiving socket, since it names that socket's login).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from gateway.context import Gateway
from gateway.model import Channel
from gateway.store import Change, ChangeKind, Subscription

from .. import scope
from .events import channel_events
from .headers import billsec, call_frame, event_headers, server_frame

if TYPE_CHECKING:
    from .socket import Socket

log = logging.getLogger("callgate.webitel")

#: per-user call frames follow the engine's ESL subscription, which had no CALLSTATE
_CALL_EVENTS = frozenset({
    "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_ANSWER",
    "CHANNEL_HANGUP_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HOLD", "CHANNEL_UNHOLD",
    "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE",
})
DISCONNECT = json.dumps({"webitel-event-name": "account", "Event-Name": "DISCONNECT"},
                        separators=(",", ":"))


def dumps(frame: Any) -> str:
    """A frame as `JSON.stringify` writes it."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def as_they_were(batch: list[Change]) -> list[Channel | None]:
    """Each change's channel as that change left it. The store publishes the live object,
    which later changes in the batch have moved on; the value a field had right after change
    i is the `before` of the next change that touched it (walking back from the newest)."""
    out: list[Channel | None] = [None] * len(batch)
    overlays: dict[int, dict[str, Any]] = {}
    for i in range(len(batch) - 1, -1, -1):
        ch = batch[i].channel
        if ch is None:
            continue
        overlay = overlays.setdefault(id(ch), {})
        out[i] = dataclasses.replace(ch, **overlay) if overlay else ch
        overlay.update(batch[i].before)
    return out


class Hub:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.sockets: set[Socket] = set()
        self.by_login: dict[str, set[Socket]] = {}  # lower-cased login -> authenticated
        self.logged: dict[str, set[Socket]] = {}  # directory user id -> after `login`
        self.subscribers: dict[str, set[Socket]] = {}  # SE:* name -> sockets
        self._changes: Subscription | None = None
        self._pump: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Listen to the store from the first socket on (no cost before anyone connects)."""
        if self._pump is None:
            self._changes = self.gw.store.subscribe()
            self._pump = asyncio.get_running_loop().create_task(self._run())

    async def shutdown(self, *_: object) -> None:
        """Close every socket at once, then stop listening."""
        await asyncio.gather(*(s.close(1001) for s in list(self.sockets)),
                             return_exceptions=True)
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        if self._changes is not None:
            self._changes.close()
            self._changes = None

    async def _run(self) -> None:
        assert self._changes is not None
        changes = self._changes
        while True:
            batch = [await changes.get()]
            while (more := changes.get_nowait()) is not None:
                batch.append(more)
            for change, view in zip(batch, as_they_were(batch), strict=True):
                try:
                    self.publish(change, view)
                except Exception as exc:  # one bad channel must not end every socket's events
                    log.error("webitel: event for a change failed: %s", type(exc).__name__)

    # ------------------------------------------------------------- membership
    def joined(self, sock: Socket) -> int:
        """Count an authenticated socket; the number of its login's sockets. The first
        socket of a domain user announces ACCOUNT_ONLINE (to that socket too)."""
        who = sock.who
        assert who is not None
        mine = self.by_login.setdefault(who.username.lower(), set())
        mine.add(sock)
        if len(mine) == 1:
            self._presence(sock, "ACCOUNT_ONLINE")
        return len(mine)

    def count(self, login: str) -> int:
        return len(self.by_login.get(login.lower(), ()))

    def left(self, sock: Socket) -> None:
        self.sockets.discard(sock)
        for subs in self.subscribers.values():
            subs.discard(sock)
        who = sock.who
        if who is None:
            return
        self.set_logged(sock, False)
        mine = self.by_login.get(who.username.lower())
        if mine is not None and sock in mine:
            mine.discard(sock)
            if not mine:
                del self.by_login[who.username.lower()]
                self._presence(sock, "ACCOUNT_OFFLINE")

    def set_logged(self, sock: Socket, on: bool) -> None:
        who = sock.who
        if who is None or not who.user_id:
            return
        if on:
            self.logged.setdefault(who.user_id, set()).add(sock)
        else:
            mine = self.logged.get(who.user_id)
            if mine is not None:
                mine.discard(sock)
                if not mine:
                    del self.logged[who.user_id]

    def online(self, login: str) -> bool:
        return login.lower() in self.by_login

    def session_ended(self, key: str) -> None:
        """A REST session ended (logout, eviction): its sockets end with it."""
        for sock in [s for s in self.sockets if s.who is not None and s.who.key == key]:
            sock.send(DISCONNECT)
            sock.close_after_flush()

    def _presence(self, sock: Socket, name: str) -> None:
        who = sock.who
        assert who is not None
        if not who.domain:
            return  # root has no domain to be online in
        frame = dumps({"Event-Name": name, "Event-Domain": who.domain,
                       "User-ID": who.username.partition("@")[0], "User-Domain": who.domain,
                       "User-Scheme": "account", "Content-Type": "text/event-json",
                       "webitel-event-name": "user"})
        for other in self._audience(who.account_id, self._authenticated()):
            other.send(frame)

    def _authenticated(self) -> Iterable[Socket]:
        for group in self.by_login.values():
            yield from group

    @staticmethod
    def _audience(account_id: str, sockets: Iterable[Socket]) -> list[Socket]:
        """Root's sockets and those of the account's domain: never another tenant."""
        out = []
        for s in sockets:
            who = s.who
            if who is not None and (not who.domain or (account_id and
                                                        who.account_id == account_id)):
                out.append(s)
        return out

    # ------------------------------------------------------------------ events
    def publish(self, change: Change, view: Channel | None = None) -> None:
        """Frames for one change; `view` is the channel as that change left it."""
        if change.kind is ChangeKind.RESYNC:
            log.warning("webitel: socket events fell behind the store; some were dropped")
            return
        ch = view or change.channel
        if ch is None:
            return
        names = channel_events(change, ch)
        if not names:
            return
        owners = self.logged.get(ch.owner_id, ()) if ch.owner_id else ()
        realm = ""
        now = time.time()
        for name, original in names:
            subs = self.subscribers.get(f"SE:{name}")
            readers = self._audience(ch.account_id, subs) if subs else []
            users = list(owners) if name in _CALL_EVENTS else []
            if not readers and not users:
                continue
            realm = realm or scope.realm_of(self.gw, ch)
            headers = event_headers(ch, name, realm, now=now, original_callstate=original)
            if readers:
                frame = dumps(server_frame(headers))
                for s in readers:
                    s.send(frame)
            self._to_owners(ch, users, headers, now)

    @staticmethod
    def _to_owners(ch: Channel, users: list[Socket], headers: dict[str, str],
                   now: float) -> None:
        seconds = billsec(ch, now)
        for s in users:
            who = s.who
            if who is not None and (not who.domain or who.account_id == ch.account_id):
                s.send(dumps(call_frame(headers, who.username, seconds)))
