"""One simulated AMI connection and the session actions: Challenge, Login, Logoff, Ping, Events,
UserEvent. Reply texts are Asterisk 22's (tests/fixtures/asterisk-22-real).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
from typing import TYPE_CHECKING

from simswitch.ami_wire import Action, Fields, encode

if TYPE_CHECKING:
    from simswitch.ami_server import AsteriskSimulator

_PRE_AUTH = {"login", "logoff", "challenge"}


class AmiSession:
    """One manager connection: auth state, event mask and a stall-aware writer."""

    def __init__(self, sim: AsteriskSimulator, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        self.username = ""
        self.challenge: str | None = None
        self.events: set[str] | None = None  # None = all classes; empty = off
        self.closed = False
        self.send_closed = False

    def wants(self, privilege: str) -> bool:
        if not self.authenticated:
            return False
        if self.events is None:
            return True
        return any(c in self.events for c in privilege.split(",") if c != "all")

    def send(self, data: bytes) -> None:
        if self.closed or self.send_closed:
            return
        if self.sim._stalled:
            self.sim._stall_buffer.append((self, data))
            return
        self.writer.write(data)

    def reply(self, act: Action, response: str, *fields: tuple[str, str]) -> None:
        out: Fields = [("Response", response)]
        if act.action_id is not None:
            out.append(("ActionID", act.action_id))
        out.extend(fields)
        self.send(encode(out))

    def ok(self, act: Action, message: str | None = None, *fields: tuple[str, str]) -> None:
        self.reply(act, "Success", *((("Message", message),) if message is not None else ()),
                   *fields)

    def error(self, act: Action, message: str) -> None:
        self.reply(act, "Error", ("Message", message))

    def list_item(self, act: Action, event: str, fields: Fields) -> None:
        """EventList items carry the ActionID and no Privilege line."""
        head: Fields = [("Event", event)]
        if act.action_id is not None:
            head.append(("ActionID", act.action_id))
        self.send(encode([*head, *fields]))

    def list_start(self, act: Action, message: str) -> None:
        self.reply(act, "Success", ("EventList", "start"), ("Message", message))

    def list_complete(self, act: Action, event: str, count: int, *extra: tuple[str, str]) -> None:
        self.list_item(act, event, [("EventList", "Complete"), ("ListItems", str(count)), *extra])

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                self.writer.close()


class SessionActions:
    """Login and session actions, mixed into AsteriskSimulator."""

    username: str
    secret: str
    started: float
    login_failure_delay: float

    if TYPE_CHECKING:  # from AsteriskSimulator
        def _emit(self, event: str, fields: Fields) -> None: ...

    async def _act_challenge(self, s: AmiSession, act: Action) -> None:
        if act.get("AuthType").lower() != "md5":
            s.error(act, "Must specify AuthType")
            return
        if s.challenge is None:
            s.challenge = str(random.randint(100000000, 999999999))
        s.ok(act, None, ("Challenge", s.challenge))

    async def _act_login(self, s: AmiSession, act: Action) -> None:
        if s.authenticated:
            s.ok(act, "Already authenticated")
            return
        user = act.get("Username")
        if act.get("AuthType").lower() == "md5":
            want = hashlib.md5(f"{s.challenge or ''}{self.secret}".encode()).hexdigest()
            good = s.challenge is not None and act.get("Key").lower() == want
        else:
            good = act.get("Secret") == self.secret
        if not good or user != self.username:
            await asyncio.sleep(self.login_failure_delay)
            s.error(act, "Authentication failed")
            with contextlib.suppress(Exception):
                await s.writer.drain()
            s.close()
            return
        s.authenticated, s.username = True, user
        s.events = self._parse_mask(act.get("Events", "on"))
        s.ok(act, "Authentication accepted")
        if s.events is None or s.events:
            up = str(int(time.time() - self.started))
            s.send(encode([("Event", "FullyBooted"), ("Privilege", "system,all"),
                           ("Uptime", up), ("LastReload", up), ("Status", "Fully Booted")]))

    @staticmethod
    def _parse_mask(mask: str) -> set[str] | None:
        m = mask.strip().lower()
        if m in ("on", "yes", "true", "all", ""):
            return None
        if m in ("off", "no", "false", "none"):
            return set()
        return {c.strip() for c in m.split(",") if c.strip()}

    async def _act_logoff(self, s: AmiSession, act: Action) -> None:
        s.reply(act, "Goodbye", ("Message", "Thanks for all the fish."))
        with contextlib.suppress(Exception):
            await s.writer.drain()
        s.close()

    async def _act_ping(self, s: AmiSession, act: Action) -> None:
        s.ok(act, None, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"))

    async def _act_events(self, s: AmiSession, act: Action) -> None:
        s.events = self._parse_mask(act.get("EventMask", "on"))
        s.reply(act, "Success", ("Events", "On" if s.events is None or s.events else "Off"))

    async def _act_userevent(self, s: AmiSession, act: Action) -> None:
        ue = act.get("UserEvent")
        if not ue:
            s.error(act, "UserEvent header missing")
            return
        s.ok(act, "Event Sent")
        extra = [(k, v) for k, v in act.fields
                 if k.lower() not in ("action", "userevent", "actionid")]
        aid = [("ActionID", act.action_id)] if act.action_id is not None else []
        self._emit("UserEvent", [("UserEvent", ue), *aid, *extra])
