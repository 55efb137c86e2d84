"""The TOML configuration contract (DESIGN.md), parsed into typed, frozen settings.

Every error names the file and the key (`backends[1].port: expected an integer, got "abc"`), and
all errors are collected before reporting so an operator fixes a file in one pass. Secrets may
come from the environment (`password_env`) and are kept out of every repr.
"""

from __future__ import annotations

import importlib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .control import safe_path

HEX32 = re.compile(r"^[0-9a-f]{32}$")
ROLES = ("superduper_admin", "reseller", "admin", "user", "agent")
BACKEND_TYPES = ("freeswitch", "asterisk")
KNOWN_DIALECTS = ("kazoo", "webitel", "mor", "callflow")
_MISSING: Any = object()
FS_RECORDINGS_DIR = "/var/lib/callgate/recordings"


class ConfigError(Exception):
    """All problems found in one configuration file."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


class Section:
    """One TOML table being read: typed getters that record errors instead of raising.

    Dialect packages validate their own `[dialects.<name>]` table with it, so adding a dialect
    adds no code here.
    """

    def __init__(self, data: Mapping[str, Any], path: str, errors: list[str]) -> None:
        self.data = data
        self.path = path
        self.errors = errors
        self._used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, message: str) -> None:
        self.errors.append(f"{self.key(name)}: {message}")

    def _get(self, name: str, default: Any) -> Any:
        self._used.add(name)
        if name in self.data:
            return self.data[name]
        if default is _MISSING:
            self.error(name, "required")
        return default

    def str(self, name: str, default: Any = _MISSING, *, choices: tuple[str, ...] = (),
            pattern: re.Pattern[str] | None = None) -> Any:
        value = self._get(name, default)
        if name not in self.data:
            return value if value is not _MISSING else ""
        if not isinstance(value, str):
            self.error(name, f"expected a string, got {_show(value)}")
            return "" if default is _MISSING else default
        if choices and value not in choices:
            self.error(name, f"expected one of {', '.join(choices)}, got {_show(value)}")
        if pattern is not None and not pattern.match(value):
            self.error(name, f"malformed value {_show(value)}")
        return value

    def int(self, name: str, default: Any = _MISSING, *, minimum: int | None = None,
            maximum: int | None = None) -> Any:
        value = self._get(name, default)
        if name not in self.data:
            return value if value is not _MISSING else 0
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, f"expected an integer, got {_show(value)}")
            return 0 if default in (_MISSING, None) else default
        if minimum is not None and value < minimum:
            self.error(name, f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            self.error(name, f"must be at most {maximum}, got {value}")
        return value

    def float(self, name: str, default: Any = _MISSING, *, minimum: float | None = None) -> Any:
        value = self._get(name, default)
        if name not in self.data:
            return value if value is not _MISSING else 0.0
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(name, f"expected a number, got {_show(value)}")
            return 0.0 if default is _MISSING else default
        if minimum is not None and value < minimum:
            self.error(name, f"must be at least {minimum}, got {value}")
        return float(value)

    def bool(self, name: str, default: Any = _MISSING) -> Any:
        value = self._get(name, default)
        if name not in self.data:
            return value if value is not _MISSING else False
        if not isinstance(value, bool):
            self.error(name, f"expected true or false, got {_show(value)}")
            return False if default is _MISSING else default
        return value

    def strings(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self._get(name, default)
        if name not in self.data:
            return tuple(default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(name, f"expected an array of strings, got {_show(value)}")
            return tuple(default)
        return tuple(value)

    def secret(self, name: str, default: Any = _MISSING) -> Any:
        """`name = "..."` or `name_env = "VAR"`; an unset variable is an error."""
        env_key = f"{name}_env"
        self._used.update({name, env_key})
        if env_key in self.data:
            var = self.data[env_key]
            if not isinstance(var, str):
                self.error(env_key, f"expected a string, got {_show(var)}")
                return ""
            if var not in os.environ:
                self.error(env_key, f"environment variable {var} is not set")
                return ""
            return os.environ[var]
        if name in self.data:
            value = self.data[name]
            if not isinstance(value, str):
                self.error(name, "expected a string")
                return ""
            return value
        if default is _MISSING:
            self.error(name, f"required (or {env_key})")
            return ""
        return default

    def table(self, name: str) -> Section:
        value = self._get(name, {})
        if not isinstance(value, dict):
            self.error(name, f"expected a table, got {_show(value)}")
            value = {}
        return Section(value, self.key(name), self.errors)

    def tables(self, name: str) -> list[Section]:
        value = self._get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.error(name, f"expected an array of tables, got {_show(value)}")
            return []
        return [Section(v, f"{self.key(name)}[{i}]", self.errors) for i, v in enumerate(value)]

    def done(self) -> None:
        """Flag keys nobody read: almost always a typo."""
        for name in self.data:
            if name not in self._used:
                self.error(name, "unknown key")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 8000
    token_secret: str = field(default="", repr=False)
    token_ttl: int = 3600
    redis_url: str = field(default="", repr=False)
    max_body: int = 1 << 20  # bytes; larger request bodies are refused by every dialect


@dataclass(frozen=True, slots=True)
class BackendSettings:
    name: str
    type: str
    host: str = "127.0.0.1"
    port: int = 0
    password: str = field(default="", repr=False)  # FreeSWITCH
    username: str = ""  # Asterisk
    secret: str = field(default="", repr=False)  # Asterisk
    server_id: int = 1
    context: str = "default"
    hold_context: str = "default"  # Asterisk: where the music-on-hold extension lives
    hold_extension: str = "moh"
    playback_extension: str = "playback"  # Asterisk: plays ${PLAYBACK_MEDIA}, in hold_context
    trunks: tuple[str, ...] = ()  # Asterisk: PJSIP endpoints that are carriers, not phones
    # where recordings go when a command names no file; "" = the switch's own default (Asterisk:
    # its monitor directory; FreeSWITCH: relative to its working directory)
    recordings_dir: str = ""
    command_timeout: float = 5.0
    connect_timeout: float = 3.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    ping_interval: float = 10.0


@dataclass(frozen=True, slots=True)
class AccountSettings:
    id: str
    number: int
    name: str
    realm: str = ""
    parent: str = ""
    api_key: str = field(default="", repr=False)
    mor_api_secret: str = field(default="", repr=False)
    superduper: bool = False
    language: str = "en-us"
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class UserSettings:
    id: str
    number: int
    account: str
    username: str
    password: str = field(default="", repr=False)
    name: str = ""
    role: str = "user"
    extension: str = ""
    callflow_token: str = field(default="", repr=False)
    email: str = ""


@dataclass(frozen=True, slots=True)
class DeviceSettings:
    id: str
    number: int
    account: str
    owner: str = ""
    sip_username: str = ""
    name: str = ""
    type: str = "SIP"
    extension: str = ""
    trunk: bool = False
    ani: bool = False
    node: str = ""  # the backend this phone registers on (originate/eavesdrop from it go there)


@dataclass(frozen=True, slots=True)
class DidSettings:
    number: str
    account: str = ""
    device: str = ""
    user: str = ""


@dataclass(frozen=True, slots=True)
class DialectSettings:
    name: str
    enabled: bool = True
    host: str = ""  # "" = the gateway's shared listener
    port: int = 0
    options: Any = None  # the dialect's own frozen settings object


@dataclass(frozen=True, slots=True)
class DemoSwitch:
    backend: str
    extensions: tuple[str, ...] = ()
    gateways: tuple[str, ...] = ()
    calls_per_second: float = 0.5
    hold_time: float = 40.0
    max_calls: int = 12
    dids: tuple[str, ...] = ()  # inbound callers wait on these (reception / queue traffic)
    reception_every: float = 15.0  # seconds between two waiting inbound callers


@dataclass(frozen=True, slots=True)
class Settings:
    path: str
    gateway: GatewaySettings
    backends: tuple[BackendSettings, ...]
    accounts: tuple[AccountSettings, ...]
    users: tuple[UserSettings, ...]
    devices: tuple[DeviceSettings, ...]
    dids: tuple[DidSettings, ...]
    dialects: Mapping[str, DialectSettings]
    demo: tuple[DemoSwitch, ...] = ()

    def dialect(self, name: str) -> Any:
        d = self.dialects.get(name)
        return d.options if d is not None else None


# ---------------------------------------------------------------------------- parsing

DialectParser = Callable[[Section], Any]


def _dialect_parser(name: str) -> DialectParser | None:
    try:
        module = importlib.import_module(f"dialects.{name}.settings")
    except ModuleNotFoundError:
        return None
    return getattr(module, "parse", None)


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:8000`) -> (host, port); ValueError names what is wrong."""
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f'expected "host:port", got {_show(value)}')
    return host, int(port)


def _split_listen(sec: Section, name: str, default: str) -> tuple[str, int]:
    value = sec.str(name, default)
    if not value:
        return "", 0
    try:
        return parse_listen(value)
    except ValueError as exc:
        sec.error(name, str(exc))
        return "127.0.0.1", 0


def _numbers(sections: list[Section]) -> list[int]:
    """Explicit `number`s, and a stable one in config order (first free) where absent."""
    explicit = [s.int("number", None, minimum=1) for s in sections]
    taken = {n for n in explicit if isinstance(n, int)}
    result, nxt = [], 1
    for n in explicit:
        if isinstance(n, int):
            result.append(n)
            continue
        while nxt in taken:
            nxt += 1
        taken.add(nxt)
        result.append(nxt)
    return result


def parse(data: Mapping[str, Any], path: str = "<config>") -> Settings:
    errors: list[str] = []
    root = Section(data, "", errors)

    gw = root.table("gateway")
    host, port = _split_listen(gw, "listen", "127.0.0.1:8000")
    known_errors = len(errors)
    token_secret = gw.secret("token_secret", "")
    if len(errors) == known_errors and len(token_secret) < 16:
        # it signs every Kazoo, Webitel and MOR v2 token: empty or short would make them
        # forgeable or unusable, so it is never optional
        gw.error("token_secret", "required, at least 16 characters")
    gateway = GatewaySettings(
        host=host, port=port,
        token_secret=token_secret,
        token_ttl=gw.int("token_ttl", 3600, minimum=1),
        redis_url=gw.secret("redis_url", ""),
        max_body=gw.int("max_body", 1 << 20, minimum=1024),
    )
    gw.done()

    backends: list[BackendSettings] = []
    for b in root.tables("backends"):
        kind = b.str("type", choices=BACKEND_TYPES)
        is_fs = kind == "freeswitch"
        backends.append(BackendSettings(
            name=b.str("name"), type=kind, host=b.str("host", "127.0.0.1"),
            port=b.int("port", 8021 if is_fs else 5038, minimum=0, maximum=65535),
            password=b.secret("password", "") if is_fs else "",
            username=b.str("username", "") if not is_fs else "",
            secret=b.secret("secret", "") if not is_fs else "",
            server_id=b.int("server_id", len(backends) + 1, minimum=1),
            context=b.str("context", "default"),
            hold_context=b.str("hold_context", "default"),
            hold_extension=b.str("hold_extension", "moh"),
            playback_extension=b.str("playback_extension", "playback"),
            trunks=b.strings("trunks") if not is_fs else (),
            recordings_dir=b.str("recordings_dir", FS_RECORDINGS_DIR if is_fs else ""),
            command_timeout=b.float("command_timeout", 5.0, minimum=0.01),
            connect_timeout=b.float("connect_timeout", 3.0, minimum=0.01),
            backoff_initial=b.float("backoff_initial", 0.5, minimum=0.01),
            backoff_max=b.float("backoff_max", 30.0, minimum=0.01),
            ping_interval=b.float("ping_interval", 10.0, minimum=0.05),
        ))
        rec_dir = backends[-1].recordings_dir
        if rec_dir and not safe_path(rec_dir, directory=True):
            b.error("recordings_dir", f"not a safe path {_show(rec_dir)} (letters, digits, "
                    "_.+@=- and / only, no ..)")
        if is_fs and not backends[-1].password:
            b.error("password", "required (or password_env)")
        if kind == "asterisk" and not (backends[-1].username and backends[-1].secret):
            b.error("secret" if backends[-1].username else "username",
                    "required for an asterisk backend")
        b.done()
    _unique(root, "backends", [x.name for x in backends], "name")

    acc_secs = root.tables("accounts")
    accounts = [
        AccountSettings(
            id=a.str("id", pattern=HEX32), number=n, name=a.str("name"),
            realm=a.str("realm", ""), parent=a.str("parent", ""),
            api_key=a.secret("api_key", ""), mor_api_secret=a.secret("mor_api_secret", ""),
            superduper=a.bool("superduper", False), language=a.str("language", "en-us"),
            timezone=a.str("timezone", "UTC"),
        )
        for a, n in zip(acc_secs, _numbers(acc_secs), strict=True)
    ]
    for a in acc_secs:
        a.done()
    account_ids = {a.id for a in accounts}
    _unique(root, "accounts", [a.id for a in accounts], "id")
    for i, a in enumerate(accounts):
        if a.parent and a.parent not in account_ids:
            errors.append(f"accounts[{i}].parent: unknown account {_show(a.parent)}")
        if a.parent == a.id:
            errors.append(f"accounts[{i}].parent: an account cannot be its own parent")

    user_secs = root.tables("users")
    users = [
        UserSettings(
            id=u.str("id", pattern=HEX32), number=n, account=u.str("account"),
            username=u.str("username"), password=u.secret("password", ""),
            name=u.str("name", ""), role=u.str("role", "user", choices=ROLES),
            extension=u.str("extension", ""), callflow_token=u.secret("callflow_token", ""),
            email=u.str("email", ""),
        )
        for u, n in zip(user_secs, _numbers(user_secs), strict=True)
    ]
    for u in user_secs:
        u.done()
    user_ids = {u.id for u in users}
    _unique(root, "users", [u.id for u in users], "id")
    for i, u in enumerate(users):
        if u.account not in account_ids:
            errors.append(f"users[{i}].account: unknown account {_show(u.account)}")

    dev_secs = root.tables("devices")
    devices = [
        DeviceSettings(
            id=d.str("id", pattern=HEX32), number=n, account=d.str("account"),
            owner=d.str("owner", ""), sip_username=d.str("sip_username", ""),
            name=d.str("name", ""), type=d.str("type", "SIP"), extension=d.str("extension", ""),
            trunk=d.bool("trunk", False), ani=d.bool("ani", False), node=d.str("node", ""),
        )
        for d, n in zip(dev_secs, _numbers(dev_secs), strict=True)
    ]
    for d in dev_secs:
        d.done()
    device_ids = {d.id for d in devices}
    _unique(root, "devices", [d.id for d in devices], "id")
    for i, d in enumerate(devices):
        if d.account not in account_ids:
            errors.append(f"devices[{i}].account: unknown account {_show(d.account)}")
        if d.owner and d.owner not in user_ids:
            errors.append(f"devices[{i}].owner: unknown user {_show(d.owner)}")
        if d.node and d.node not in {b.name for b in backends}:
            errors.append(f"devices[{i}].node: unknown backend {_show(d.node)}")

    dids = []
    for i, s in enumerate(root.tables("dids")):
        did = DidSettings(number=s.str("number"), account=s.str("account", ""),
                          device=s.str("device", ""), user=s.str("user", ""))
        s.done()
        if did.account and did.account not in account_ids:
            errors.append(f"dids[{i}].account: unknown account {_show(did.account)}")
        if did.device and did.device not in device_ids:
            errors.append(f"dids[{i}].device: unknown device {_show(did.device)}")
        if did.user and did.user not in user_ids:
            errors.append(f"dids[{i}].user: unknown user {_show(did.user)}")
        dids.append(did)

    dialects: dict[str, DialectSettings] = {}
    dsec = root.table("dialects")
    for name in dsec.data:
        sec = dsec.table(name)
        if name not in KNOWN_DIALECTS:
            dsec.error(name, f"unknown dialect (known: {', '.join(KNOWN_DIALECTS)})")
            continue
        enabled = sec.bool("enabled", True)
        dhost, dport = _split_listen(sec, "listen", "")
        parser = _dialect_parser(name)
        options = parser(sec) if parser is not None else None
        sec.done()
        dialects[name] = DialectSettings(name, enabled, dhost, dport, options)
    dsec.done()

    demo: list[DemoSwitch] = []
    demo_sec = root.table("demo")
    backend_names = {b.name for b in backends}
    for s in demo_sec.tables("switches"):
        sw = DemoSwitch(
            backend=s.str("backend"), extensions=s.strings("extensions"),
            gateways=s.strings("gateways"), calls_per_second=s.float("calls_per_second", 0.5),
            hold_time=s.float("hold_time", 40.0), max_calls=s.int("max_calls", 12, minimum=1),
            dids=s.strings("dids"), reception_every=s.float("reception_every", 15.0, minimum=0.1),
        )
        if sw.backend not in backend_names:
            s.error("backend", f"unknown backend {_show(sw.backend)}")
        s.done()
        demo.append(sw)
    demo_sec.done()
    root.done()

    if errors:
        raise ConfigError([f"{path}: {e}" for e in errors])
    return Settings(
        path=path, gateway=gateway, backends=tuple(backends), accounts=tuple(accounts),
        users=tuple(users), devices=tuple(devices), dids=tuple(dids), dialects=dialects,
        demo=tuple(demo),
    )


def _unique(root: Section, name: str, values: list[str], key: str) -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v and v in seen:
            root.errors.append(f"{name}[{i}].{key}: duplicate {_show(v)}")
        seen.add(v)


def load(path: str | Path) -> Settings:
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError([f"{p}: file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{p}: invalid TOML: {exc}"]) from None
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read: {exc.strerror}"]) from None
    return parse(data, str(p))
