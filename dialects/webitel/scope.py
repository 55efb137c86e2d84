"""Tenancy: what a Webitel principal may see and touch, decided by the store's attribution
(never by FreeSWITCH's substring `like`). A domain principal's channels are those attributed to
its domain's account; root's are every switch's. Phones named by a client resolve inside the
caller's own domain, whatever domain the client wrote."""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.context import Gateway
from gateway.control import Endpoint
from gateway.model import Channel

from .sessions import Session

#: A phone or number as it may appear in a switch command: nothing that splits an argument.
_WORD = re.compile(r"^[A-Za-z0-9+*#._-]+$")


def visible(gw: Gateway, who: Session, domain: str | None = None) -> Iterable[Channel]:
    """The channels a list shows: the caller's domain, or for root `domain` / everything."""
    account = visible_account(gw, who, domain)
    if account is None:
        return gw.store.all()
    return gw.store.by_account(account) if account else ()


def visible_account(gw: Gateway, who: Session, domain: str | None = None) -> str | None:
    """The account whose channels `visible` shows: None for everything, "" for nothing (an
    unknown domain)."""
    if who.domain:
        return who.account_id
    if domain:
        account = gw.directory.account_by_realm(domain)
        return account.id if account is not None else ""
    return None


def owned(gw: Gateway, who: Session, channel_id: str) -> Channel | None:
    """The channel if it exists and is the caller's; a foreign one is as good as missing."""
    ch = gw.store.get(channel_id)
    if ch is None:
        return None
    if who.domain and ch.account_id != who.account_id:
        return None
    return ch


def realm_of(gw: Gateway, ch: Channel) -> str:
    account = gw.directory.account(ch.account_id) if ch.account_id else None
    return account.realm if account is not None else ""


def phone(gw: Gateway, who: Session, user: str) -> Endpoint | None:
    """`<user>[@<domain>]` as the endpoint to ring; None when it cannot name a phone.

    A domain caller's `@<domain>` is replaced by its own (the engine did so for eavesdrop; here
    it holds for originate too, so no tenant rings another's phones). For root the domain picks
    the account; an unknown domain (the seed's `201@10.10.10.144`) means "the phone 201"."""
    name, _, domain = user.partition("@")
    if not _WORD.match(name):
        return None
    directory = gw.directory
    if who.domain:
        account = directory.account(who.account_id)
    else:
        account = directory.account_by_realm(domain) if domain else None
    if account is None:
        dev = directory.device_by_sip(name)
        if dev is None:
            return Endpoint("device", name)
        owner = directory.account(dev.account)
        return Endpoint("device", dev.sip_username or name,
                        realm=owner.realm if owner else "")
    dev = directory.device_by_sip(name, account.realm) or directory.device_by_extension(
        account.id, name)
    if dev is None:
        person = directory.user_in_account(account.id, name)
        devices = directory.devices_of_owner(person.id) if person is not None else []
        dev = devices[0] if devices else None
    return Endpoint("device", (dev.sip_username if dev else "") or name, realm=account.realm)


def is_word(value: str) -> bool:
    return bool(_WORD.match(value))
