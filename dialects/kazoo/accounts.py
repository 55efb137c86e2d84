"""The directory reads a Kazoo client makes around channels (Monster UI stops after login
without them): the account, its children, its users and devices, from the configured directory,
read-only, with the 4.3 field names of those documents and crossbar's listing rows. Passwords,
API keys and every other secret stay out."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.directory import Account, Device, User

from .crossbar import Crossbar
from .envelope import success

ADMIN_ROLES = ("superduper_admin", "admin", "reseller")


def _drop_empty(doc: dict[str, Any]) -> dict[str, Any]:
    """JSON views leave `undefined` fields out: so do we, for empty strings."""
    return {k: v for k, v in doc.items() if v != "" and v is not None}


def account_doc(cb: Crossbar, account: Account) -> dict[str, Any]:
    directory = cb.gw.directory
    reseller = directory.reseller_of(account.id)
    return _drop_empty({
        "id": account.id,
        "name": account.name,
        "realm": account.realm,
        "timezone": account.timezone,
        "language": account.language,
        "enabled": True,
        "superduper_admin": account.superduper,
        "is_reseller": directory.is_reseller(account.id),
        "reseller_id": reseller.id if reseller is not None else "",
        "wnm_allow_additions": False,
    })


def _names(user: User) -> tuple[str, str]:
    first, _, last = (user.name or user.username).partition(" ")
    return first, last


def user_row(cb: Crossbar, user: User) -> dict[str, Any]:
    """A row of `users/crossbar_listing`."""
    first, last = _names(user)
    return _drop_empty({
        "id": user.id,
        "features": [],
        "username": user.username,
        "email": user.email,
        "first_name": first,
        "last_name": last,
        "priv_level": "admin" if user.role in ADMIN_ROLES else "user",
        "presence_id": user.extension,
        "flags": [],
    })


def user_doc(cb: Crossbar, user: User) -> dict[str, Any]:
    account = cb.gw.directory.account(user.account)
    first, last = _names(user)
    doc = {
        "id": user.id,
        "username": user.username,
        "first_name": first,
        "last_name": last,
        "email": user.email,
        "priv_level": "admin" if user.role in ADMIN_ROLES else "user",
        "presence_id": user.extension,
        "enabled": True,
        "timezone": account.timezone if account is not None else "",
        "caller_id": ({"internal": {"name": user.name or user.username,
                                    "number": user.extension}} if user.extension else None),
    }
    return _drop_empty(doc)


def device_row(cb: Crossbar, device: Device) -> dict[str, Any]:
    """A row of the devices listing."""
    return _drop_empty({
        "id": device.id,
        "name": device.name,
        "username": device.sip_username,
        "mac_address": "",
        "owner_id": device.owner,
        "enabled": True,
        "device_type": "sip_device",
        "flags": [],
    }) | {"mac_address": ""}


def device_doc(cb: Crossbar, device: Device) -> dict[str, Any]:
    account = cb.gw.directory.account(device.account)
    sip = _drop_empty({"username": device.sip_username, "method": "password",
                       "invite_format": "username",
                       "realm": account.realm if account is not None else ""})
    return _drop_empty({
        "id": device.id,
        "name": device.name,
        "device_type": "sip_device",
        "enabled": True,
        "owner_id": device.owner,
        "sip": sip,
        "caller_id": ({"internal": {"name": device.name, "number": device.extension}}
                      if device.extension else None),
    })


# ----------------------------------------------------------------------------- handlers
async def account(cb: Crossbar) -> web.Response:
    found = cb.gw.directory.account(cb.account_id)
    assert found is not None  # the pipeline refused unknown accounts
    return success(cb.request, account_doc(cb, found))


async def children(cb: Crossbar) -> web.Response:
    directory = cb.gw.directory
    rows = []
    for child_id in directory.children(cb.account_id):
        child = directory.account(child_id)
        if child is not None:
            rows.append({"id": child.id, "name": child.name, "realm": child.realm,
                         "descendants_count": len(directory.descendants(child.id))})
    return success(cb.request, sorted(rows, key=lambda r: r["name"].lower()))


async def users(cb: Crossbar) -> web.Response:
    rows = [user_row(cb, u) for u in cb.gw.directory.users_of(cb.account_id)]
    return success(cb.request, sorted(rows, key=lambda r: (r.get("last_name", ""),
                                                             r.get("first_name", ""))))


async def user(cb: Crossbar) -> web.Response:
    return success(cb.request, user_doc(cb, cb.user(cb.params["user_id"])))


async def devices(cb: Crossbar) -> web.Response:
    rows = [device_row(cb, d) for d in cb.gw.directory.devices_of(cb.account_id)]
    return success(cb.request, sorted(rows, key=lambda r: r["id"]))


async def device(cb: Crossbar) -> web.Response:
    return success(cb.request, device_doc(cb, cb.device(cb.params["device_id"])))
