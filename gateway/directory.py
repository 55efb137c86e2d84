"""Who is who: accounts (with their reseller tree), users, devices and DIDs, and the rules that
attribute a switch channel to an account, an owner and a device.

Tenancy rests on attribution: a channel nobody can be sure of stays unattributed, and only
system-wide principals see unattributed channels.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from .config import AccountSettings, DeviceSettings, DidSettings, Settings, UserSettings
from .credentials import same_secret
from .model import Channel

Account = AccountSettings
User = UserSettings
Device = DeviceSettings
Did = DidSettings

#: Explicit attribution variables, first match wins (ours, then Kazoo's ecallmgr CCVs).
ACCOUNT_VARS = ("callgate_account_id", "ecallmgr_Account-ID", "Account-ID")
OWNER_VARS = ("callgate_owner_id", "ecallmgr_Owner-ID", "Owner-ID")
DEVICE_VARS = ("callgate_device_id", "ecallmgr_Authorizing-ID", "Authorizing-ID")
AGENT_VAR = "callgate_agent_id"
#: Channel variables a backend keeps on the channel (everything else is dropped to save memory).
KEPT_VARIABLES = frozenset(
    (*ACCOUNT_VARS, *OWNER_VARS, *DEVICE_VARS, AGENT_VAR, "ecallmgr_Authorizing-Type",
     "callgate_reception_id", "callgate_queue", "callgate_greeting_played")
)


class Directory:
    """Lookups over the configured accounts, users, devices and DIDs."""

    def __init__(self, settings: Settings) -> None:
        self.accounts: dict[str, Account] = {a.id: a for a in settings.accounts}
        self.users: dict[str, User] = {u.id: u for u in settings.users}
        self.devices: dict[str, Device] = {d.id: d for d in settings.devices}
        self.dids: dict[str, Did] = {d.number: d for d in settings.dids}
        self._children: dict[str, list[str]] = {}
        for a in settings.accounts:
            if a.parent:
                self._children.setdefault(a.parent, []).append(a.id)
        self._account_by_realm = {a.realm.lower(): a for a in settings.accounts if a.realm}
        self._account_by_name = {a.name.lower(): a for a in settings.accounts}
        self._account_by_number = {a.number: a for a in settings.accounts}
        self._user_by_number = {u.number: u for u in settings.users}
        self._users_by_username: dict[str, list[User]] = {}
        for u in settings.users:
            self._users_by_username.setdefault(u.username.lower(), []).append(u)
        self._user_by_token = {u.callflow_token: u for u in settings.users if u.callflow_token}
        self._device_by_number = {d.number: d for d in settings.devices}
        self._device_by_sip: dict[tuple[str, str], Device] = {}
        self._devices_by_sip: dict[str, list[Device]] = {}
        self._device_by_ext: dict[tuple[str, str], Device] = {}
        for d in settings.devices:
            realm = self.accounts[d.account].realm.lower() if d.account in self.accounts else ""
            if d.sip_username:
                self._device_by_sip[(d.sip_username, realm)] = d
                self._devices_by_sip.setdefault(d.sip_username, []).append(d)
            if d.extension:
                self._device_by_ext[(d.account, d.extension)] = d
        self._devices_by_owner: dict[str, list[Device]] = {}
        for d in settings.devices:
            if d.owner:
                self._devices_by_owner.setdefault(d.owner, []).append(d)
        self.store: Legs | None = None  # the live table, for inheriting within a call
        # the tree is fixed once built: renderers ask per channel, so answer with one lookup
        self._reseller_of = {a.id: self._find_reseller(a.id) for a in settings.accounts}

    # ------------------------------------------------------------ accounts
    def account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    def account_by_realm(self, realm: str) -> Account | None:
        return self._account_by_realm.get(realm.lower())

    def account_by_name(self, name: str) -> Account | None:
        return self._account_by_name.get(name.lower())

    def account_by_api_key(self, api_key: str) -> Account | None:
        """The account whose api_key this is, in constant time: every configured key is compared
        in constant time and the scan never stops early, so neither a dict probe nor the
        position of the match tells an attacker anything about the keys."""
        wanted = api_key
        found: Account | None = None
        for account in self.accounts.values():
            if account.api_key and same_secret(wanted, account.api_key):
                found = account
        return found

    def children(self, account_id: str) -> list[str]:
        return self._children.get(account_id, [])

    def descendants(self, account_id: str) -> set[str]:
        """All accounts below `account_id` (not including it)."""
        out: set[str] = set()
        stack = list(self._children.get(account_id, ()))
        while stack:
            a = stack.pop()
            if a not in out:
                out.add(a)
                stack.extend(self._children.get(a, ()))
        return out

    def ancestors(self, account_id: str) -> list[str]:
        """Parent first, up to the root."""
        out: list[str] = []
        acc = self.accounts.get(account_id)
        while acc is not None and acc.parent and acc.parent not in out:
            out.append(acc.parent)
            acc = self.accounts.get(acc.parent)
        return out

    def is_within(self, account_id: str, scope_id: str) -> bool:
        """Whether `account_id` is `scope_id` or one of its descendants."""
        return account_id == scope_id or scope_id in self.ancestors(account_id)

    def is_reseller(self, account_id: str) -> bool:
        return bool(self._children.get(account_id))

    def reseller_of(self, account_id: str) -> Account | None:
        """The nearest ancestor that has children of its own (Kazoo's reseller_id)."""
        if account_id in self._reseller_of:
            return self._reseller_of[account_id]
        return self._find_reseller(account_id)

    def _find_reseller(self, account_id: str) -> Account | None:
        for a in self.ancestors(account_id):
            if self.is_reseller(a):
                return self.accounts[a]
        return None

    # -------------------------------------------------------------- users
    def user(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    def user_by_number(self, number: int) -> User | None:
        return self._user_by_number.get(number)

    def users_by_username(self, username: str) -> list[User]:
        return self._users_by_username.get(username.lower(), [])

    def user_in_account(self, account_id: str, username: str) -> User | None:
        for u in self.users_by_username(username):
            if u.account == account_id:
                return u
        return None

    def user_by_token(self, token: str) -> User | None:
        return self._user_by_token.get(token) if token else None

    def users_of(self, account_id: str) -> Iterable[User]:
        return (u for u in self.users.values() if u.account == account_id)

    def superduper_users(self) -> list[User]:
        return [u for u in self.users.values() if u.role == "superduper_admin"]

    # ------------------------------------------------------------ devices
    def devices_of(self, account_id: str) -> Iterable[Device]:
        return (d for d in self.devices.values() if d.account == account_id)

    def device(self, device_id: str) -> Device | None:
        return self.devices.get(device_id)

    def device_by_number(self, number: int) -> Device | None:
        return self._device_by_number.get(number)

    def device_by_sip(self, username: str, realm: str = "") -> Device | None:
        """A device by SIP username, in a realm; without a realm only when unambiguous."""
        if realm:
            return self._device_by_sip.get((username, realm.lower()))
        found = self._devices_by_sip.get(username, [])
        return found[0] if len(found) == 1 else None

    def device_by_extension(self, account_id: str, extension: str) -> Device | None:
        return self._device_by_ext.get((account_id, extension))

    def devices_of_owner(self, user_id: str) -> list[Device]:
        return self._devices_by_owner.get(user_id, [])

    def did(self, number: str) -> Did | None:
        return self.dids.get(number) or self.dids.get(number.lstrip("+"))

    # --------------------------------------------------------- attribution
    def attribute(self, ch: Channel) -> None:
        """Set account/owner/device of a channel by the attribution rules, in order: explicit
        channel variables, SIP username + realm, the dialed DID or device extension, the
        AccountCode; the first that finds an account or a device settles it, and the device's
        own tenant then decides (never across tenants). Legs of a call that nothing
        attributes inherit the account of an attributed leg."""
        account, owner, dev = self._by_variables(ch)
        if dev is None and not account:
            dev = self._by_sip_user(ch)
        if dev is None and not account:
            account, owner, dev = self._by_dialed(ch, owner)
        if dev is None and not account:
            account = self._by_account_code(ch)
        if dev is not None:
            account, owner, dev = _settle_device(account, owner, dev)
        if not account:
            account = self._inherited_account(ch)
        if owner and (owner not in self.users or self.users[owner].account != account):
            owner = ""
        ch.account_id = account
        ch.owner_id = owner
        ch.authorizing_id = dev.id if dev is not None else ""
        ch.authorizing_type = "device" if dev is not None else ""
        agent = ch.var(AGENT_VAR)
        if agent:
            ch.agent_id = agent

    def _by_variables(self, ch: Channel) -> tuple[str, str, Device | None]:
        """1. Explicit channel variables (ours, then Kazoo's CCVs) -> (account, owner, device).
        An unknown account id is stale or foreign and grants nothing."""
        vars_ = ch.variables
        if not vars_:
            return "", "", None
        account = _first(vars_, ACCOUNT_VARS)
        device = _first(vars_, DEVICE_VARS)
        return (account if account in self.accounts else "", _first(vars_, OWNER_VARS),
                self.devices.get(device) if device else None)

    def _by_sip_user(self, ch: Channel) -> Device | None:
        """2. The phone by its SIP username in the channel's realm."""
        return self.device_by_sip(ch.username, ch.realm) if ch.username else None

    def _by_dialed(self, ch: Channel, owner: str) -> tuple[str, str, Device | None]:
        """3. The DID the caller dialed (now or at first) -> its account, user and device;
        else the realm's account, and the device whose extension was dialed in it when no
        phone is calling."""
        target = self._dialed_did(ch)
        if target is not None:
            return (target.account, owner or target.user,
                    self.devices.get(target.device) if target.device else None)
        acc = self.account_by_realm(ch.realm) if ch.realm else None
        if acc is None:
            return "", owner, None
        dev = None
        if ch.destination and not ch.username:
            dev = self.device_by_extension(acc.id, ch.destination)
        return acc.id, owner, dev

    def _by_account_code(self, ch: Channel) -> str:
        """4. Asterisk's AccountCode: an account id, number, realm or name."""
        acc = self._account_by_code(ch.accountcode) if ch.accountcode else None
        return acc.id if acc is not None else ""

    def _inherited_account(self, ch: Channel) -> str:
        """5. The account of another leg of the same call: the bridged peer, then any leg."""
        if self.store is None:
            return ""
        peer = self.store.peer(ch)
        if peer is not None and peer.account_id:
            return peer.account_id
        if ch.call_id:
            for leg in self.store.by_call(ch.call_id):
                if leg.id != ch.id and leg.account_id:
                    return leg.account_id
        return ""

    def _dialed_did(self, ch: Channel) -> Did | None:
        """The DID the caller dialed: the current destination, or the initial one, so a call
        transferred onwards (to a queue, a phone) stays with the DID's account."""
        if ch.destination:
            did = self.did(ch.destination)
            if did is not None:
                return did
        initial_dest = ch.initial.dest if ch.initial is not None else ""
        return self.did(initial_dest) if initial_dest else None

    def _account_by_code(self, code: str) -> Account | None:
        if code in self.accounts:
            return self.accounts[code]
        if code.isdigit() and int(code) in self._account_by_number:
            return self._account_by_number[int(code)]
        return self.account_by_realm(code) or self.account_by_name(code)


def _settle_device(account: str, owner: str, dev: Device) -> tuple[str, str, Device | None]:
    """A device found brings its account and owner, unless another account was named: a
    device name never pulls a channel across tenants."""
    if account and dev.account != account:
        return account, owner, None
    return dev.account, owner or dev.owner, dev


class Legs(Protocol):
    """What attribution asks of the live table: a channel's peer and the legs of its call."""

    def peer(self, ch: Channel) -> Channel | None: ...
    def by_call(self, call_id: str) -> Iterable[Channel]: ...


def _first(values: dict[str, str], names: tuple[str, ...]) -> str:
    for n in names:
        v = values.get(n)
        if v:
            return v
    return ""
