"""What a MOR principal may see (the gateway's roles): the admin everything, a reseller its account
tree, an account admin its account, a user or agent the calls of the devices it owns.

Channels come from the store's indexes for the scope; only the admin reads the whole table.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain

from gateway.context import Gateway
from gateway.directory import Device, Did, User
from gateway.model import Channel


class Scope:
    def __init__(self, gw: Gateway, user: User) -> None:
        self.gw = gw
        self.user = user
        role = user.role
        self.kind = {"superduper_admin": "all", "reseller": "tree", "admin": "account"}.get(
            role, "devices")
        self.accounts: set[str] = set()
        if self.kind == "tree":
            self.accounts = {user.account, *gw.directory.descendants(user.account)}
        elif self.kind == "account":
            self.accounts = {user.account}
        self.devices = {d.id for d in gw.directory.devices_of_owner(user.id)}

    @property
    def key(self) -> tuple[object, ...]:
        """What the scope's legs depend on: equal keys, equal lists."""
        if self.kind == "all":
            return ("all",)
        if self.kind == "devices":
            return ("devices", frozenset(self.devices))
        return ("accounts", frozenset(self.accounts))

    @property
    def is_admin(self) -> bool:
        return self.kind == "all"

    def channels(self) -> Iterable[Channel]:
        """The legs in scope, straight from the store's indexes (chained, not copied)."""
        store = self.gw.store
        if self.kind == "all":
            return store.all()
        if self.kind == "devices":
            return chain.from_iterable(map(store.by_device, self.devices))
        return chain.from_iterable(map(store.by_account, self.accounts))

    def buckets(self) -> list[tuple[str, str]] | None:
        """The store index buckets `channels` reads (None: the whole table), for a memo's
        watch (gateway/watch.py)."""
        if self.kind == "all":
            return None
        if self.kind == "devices":
            return [("authorizing_id", d) for d in self.devices]
        return [("account_id", a) for a in self.accounts]

    def sees_leg(self, ch: Channel) -> bool:
        if self.kind == "all":
            return True
        if self.kind == "devices":
            return bool(ch.authorizing_id) and ch.authorizing_id in self.devices
        return ch.account_id in self.accounts

    def sees_any(self, legs: Iterable[Channel]) -> bool:
        return any(self.sees_leg(ch) for ch in legs)

    def sees_user(self, user: User) -> bool:
        if self.kind == "all":
            return True
        if self.kind == "devices":
            return user.id == self.user.id
        return user.account in self.accounts

    def sees_device(self, device: Device) -> bool:
        if self.kind == "all":
            return True
        if self.kind == "devices":
            return device.id in self.devices
        return device.account in self.accounts

    def sees_did(self, did: Did) -> bool:
        if self.kind == "all":
            return True
        if self.kind == "devices":
            return did.user == self.user.id or did.device in self.devices
        account = did.account
        if not account and did.device:
            dev = self.gw.directory.device(did.device)
            account = dev.account if dev is not None else ""
        return account in self.accounts
