"""The TOML configuration contract, parsed into typed, frozen settings.

Every error names the file and the key (`backends[1].port: expected an integer, got "abc"`), and
all errors are collected before reporting so an operator fixes a file in one pass. Secrets may
come from the environment (`password_env`) and are kept out of every repr.
"""

from __future__ import annotations

import builtins
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX40 = re.compile(r"^[0-9a-f]{40}$")
ROLES = ("superduper_admin", "reseller", "admin", "user", "agent")
_MISSING: Any = object()

#: A file path a switch may write to: absolute or relative, `/`-separated segments of letters,
#: digits and `_.+@=-` only. No spaces, quotes, `${}` or control characters, which the switches
#: would split on, expand or smuggle into the command line. `..` segments are refused apart.
#: Here, in the leaf every module may import, because a configured directory and a commanded
#: file obey the same rule.
SAFE_PATH = re.compile(r"^/?[A-Za-z0-9_.+@=-]+(?:/[A-Za-z0-9_.+@=-]+)*$")


def safe_path(path: str, *, directory: bool = False) -> bool:
    """True for a path no switch can read as anything but one file name (or, with `directory`,
    one directory, where a trailing `/` and `/` itself are allowed)."""
    if directory:
        if path == "/":
            return True
        path = path.removesuffix("/")
    return (bool(SAFE_PATH.match(path)) and len(path) <= 1024
            and ".." not in path.split("/"))


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

    # (`builtins.` below: inside the class, `str`, `int` and `float` name the getters)
    def int(self, name: builtins.str, default: Any = _MISSING, *,
            minimum: builtins.int | None = None,
            maximum: builtins.int | None = None) -> Any:
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

    def float(self, name: builtins.str, default: Any = _MISSING, *,
              minimum: builtins.float | None = None) -> Any:
        value = self._get(name, default)
        if name not in self.data:
            return value if value is not _MISSING else 0.0
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(name, f"expected a number, got {_show(value)}")
            return 0.0 if default is _MISSING else default
        if minimum is not None and value < minimum:
            self.error(name, f"must be at least {minimum}, got {value}")
        return float(value)

    def bool(self, name: builtins.str, default: Any = _MISSING) -> Any:
        value = self._get(name, default)
        if name not in self.data:
            return value if value is not _MISSING else False
        if not isinstance(value, bool):
            self.error(name, f"expected true or false, got {_show(value)}")
            return False if default is _MISSING else default
        return value

    def strings(self, name: builtins.str,
                default: tuple[builtins.str, ...] = ()) -> tuple[builtins.str, ...]:
        value = self._get(name, default)
        if name not in self.data:
            return tuple(default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(name, f"expected an array of strings, got {_show(value)}")
            return tuple(default)
        return tuple(value)

    def secret(self, name: builtins.str, default: Any = _MISSING) -> Any:
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

    def table(self, name: builtins.str) -> Section:
        value = self._get(name, {})
        if not isinstance(value, dict):
            self.error(name, f"expected a table, got {_show(value)}")
            value = {}
        return Section(value, self.key(name), self.errors)

    def tables(self, name: builtins.str) -> list[Section]:
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
    redis_lease_ttl: float = 5.0  # seconds a node's ingest lease outlives its silent holder
    max_body: int = 1 << 20  # bytes; larger request bodies are refused by every dialect
    # failed logins allowed per client address and per user within `login_window` seconds
    login_attempts: int = 10
    login_window: float = 60.0
    # peers whose X-Forwarded-For names the client (addresses or networks)
    trusted_proxies: tuple[str, ...] = ()
    audit_log: str = ""  # one JSON line per command; "" = no audit trail
    # answer 5xx where the emulated platform did for what a request asked (a gone channel, bad
    # parameters, a switch's refusal); False: the same bodies with a 4xx (gateway/errors.py)
    platform_5xx: bool = True


@dataclass(frozen=True, slots=True)
class BackendSettings:
    """What every switch backend shares. The keys only one kind reads (FreeSWITCH's password,
    Asterisk's username, secret, hold and playback extensions, trunks) are parsed by
    `backends/<type>_settings.py` into `options`, as each dialect parses its own table."""

    name: str
    type: str
    host: str = "127.0.0.1"
    port: int = 0
    server_id: int = 1
    context: str = "default"  # dialplan context for transfers and originates
    # where recordings go when a command names no file; "" = the switch's own default (Asterisk:
    # its monitor directory; FreeSWITCH: relative to its working directory)
    recordings_dir: str = ""
    command_timeout: float = 5.0
    connect_timeout: float = 3.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    ping_interval: float = 10.0
    options: Any = None  # the backend kind's own frozen settings object (secrets kept out of repr)


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
    # a platform's hashes instead of `password` (directory import): Kazoo's md5/sha1 of
    # `username:password` (username lower-cased) and Webitel's SIP a1-hash, md5 of
    # `username:realm:password`, MOR's sha1 of the password alone; each dialect checks only
    # the ones its platform used
    md5_auth: str = field(default="", repr=False)
    sha1_auth: str = field(default="", repr=False)
    a1_hash: str = field(default="", repr=False)
    password_sha1: str = field(default="", repr=False)  # MOR's users.password: sha1(password)


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
    # where each directory table row was written when it came from an included file:
    # {"users": (("dir.toml", 0), ...)}, in merged order (empty: everything is in `path`)
    origins: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)

    def dialect(self, name: str) -> Any:
        d = self.dialects.get(name)
        return d.options if d is not None else None


# ---------------------------------------------------------------------------- parsing
# The dialects and the backend kinds are whatever the `dialects` and `backends` packages hold:
# each parses its own table with a `Section`, so this module names none of them.

DialectParser = Callable[[Section], Any]


def _cannot_load(exc: BaseException) -> str:
    """Why a plug-in failed to import, in one line (`ModuleNotFoundError: No module named 'x'`)."""
    return f"{type(exc).__name__}: {exc}"[:300]


def _dialect_names() -> tuple[str, ...]:
    import dialects

    return dialects.names()


def _dialect_parser(sec: Section, name: str) -> DialectParser | None:
    """The dialect's own parser; None (with the error recorded) when it cannot be loaded."""
    import dialects

    try:
        return dialects.settings_parser(name)
    except Exception as exc:  # any import failure is the operator's to see, never a default
        sec.errors.append(f"{sec.path}: cannot load the dialect ({_cannot_load(exc)})")
        return None


def _backend_kinds() -> tuple[str, ...]:
    import backends

    return backends.kinds()


def _backend_module(sec: Section, kind: str) -> ModuleType | None:
    """`backends/<kind>_settings.py`; None (with the error recorded) when it cannot be loaded."""
    import backends

    try:
        return backends.settings_module(kind)
    except Exception as exc:
        sec.error("type", f"cannot load the {kind} backend ({_cannot_load(exc)})")
        return None


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


def _redis_url(gw: Section) -> str:
    """`redis_url` (or `redis_url_env`): a URL redis-py opens, checked at start, never shown."""
    url = gw.secret("redis_url", "")
    if url and not (isinstance(url, str) and url.split("://", 1)[0] in (
            "redis", "rediss", "unix") and "://" in url):
        gw.error("redis_url", "expected redis://HOST:PORT/DB, rediss://... or unix://PATH")
        return ""
    return str(url or "")


def parse(data: Mapping[str, Any], path: str = "<config>",
          origins: Mapping[str, list[tuple[str, int]]] | None = None) -> Settings:
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
        redis_url=_redis_url(gw),
        redis_lease_ttl=gw.float("redis_lease_ttl", 5.0, minimum=0.3),
        max_body=gw.int("max_body", 1 << 20, minimum=1024),
        login_attempts=gw.int("login_attempts", 10, minimum=1),
        login_window=gw.float("login_window", 60.0, minimum=1.0),
        trusted_proxies=gw.strings("trusted_proxies"),
        audit_log=gw.str("audit_log", ""),
        platform_5xx=gw.bool("platform_5xx", True),
    )
    if gateway.audit_log and not Path(gateway.audit_log).expanduser().parent.is_dir():
        gw.error("audit_log", f"no such directory for {_show(gateway.audit_log)}")
    for i, proxy in enumerate(gateway.trusted_proxies):
        try:
            ipaddress.ip_network(proxy.strip(), strict=False)
        except ValueError:
            gw.error(f"trusted_proxies[{i}]", f"not an address or network {_show(proxy)}")
    gw.done()

    backends: list[BackendSettings] = []
    kinds = _backend_kinds()
    for b in root.tables("backends"):
        kind = b.str("type", choices=kinds)
        module = _backend_module(b, kind) if kind in kinds else None
        backend = BackendSettings(
            name=b.str("name"), type=kind, host=b.str("host", "127.0.0.1"),
            port=b.int("port", getattr(module, "DEFAULT_PORT", 0), minimum=0, maximum=65535),
            server_id=b.int("server_id", len(backends) + 1, minimum=1),
            context=b.str("context", "default"),
            recordings_dir=b.str("recordings_dir", getattr(module, "DEFAULT_RECORDINGS_DIR", "")),
            command_timeout=b.float("command_timeout", 5.0, minimum=0.01),
            connect_timeout=b.float("connect_timeout", 3.0, minimum=0.01),
            backoff_initial=b.float("backoff_initial", 0.5, minimum=0.01),
            backoff_max=b.float("backoff_max", 30.0, minimum=0.01),
            ping_interval=b.float("ping_interval", 10.0, minimum=0.05),
            options=module.parse(b) if module is not None else None,
        )
        backends.append(backend)
        if backend.recordings_dir and not safe_path(backend.recordings_dir, directory=True):
            b.error("recordings_dir", f"not a safe path {_show(backend.recordings_dir)} "
                    "(letters, digits, _.+@=- and / only, no ..)")
        if module is not None:  # an unknown type's other keys are not worth a second error
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
    for sec in acc_secs:
        sec.done()
    account_ids = {a.id for a in accounts}
    _unique(root, "accounts", [a.id for a in accounts], "id")
    for i, acc in enumerate(accounts):
        if acc.parent and acc.parent not in account_ids:
            errors.append(f"accounts[{i}].parent: unknown account {_show(acc.parent)}")
        if acc.parent == acc.id:
            errors.append(f"accounts[{i}].parent: an account cannot be its own parent")

    user_secs = root.tables("users")
    users = [
        UserSettings(
            id=u.str("id", pattern=HEX32), number=n, account=u.str("account"),
            username=u.str("username"), password=u.secret("password", ""),
            name=u.str("name", ""), role=u.str("role", "user", choices=ROLES),
            extension=u.str("extension", ""), callflow_token=u.secret("callflow_token", ""),
            email=u.str("email", ""),
            md5_auth=u.str("md5_auth", "", pattern=HEX32),
            sha1_auth=u.str("sha1_auth", "", pattern=HEX40),
            a1_hash=u.str("a1_hash", "", pattern=HEX32),
            password_sha1=u.str("password_sha1", "", pattern=HEX40),
        )
        for u, n in zip(user_secs, _numbers(user_secs), strict=True)
    ]
    for sec in user_secs:
        sec.done()
    user_ids = {u.id for u in users}
    _unique(root, "users", [u.id for u in users], "id")
    for i, user in enumerate(users):
        if user.account not in account_ids:
            errors.append(f"users[{i}].account: unknown account {_show(user.account)}")

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
    for sec in dev_secs:
        sec.done()
    device_ids = {d.id for d in devices}
    _unique(root, "devices", [d.id for d in devices], "id")
    for i, dev in enumerate(devices):
        if dev.account not in account_ids:
            errors.append(f"devices[{i}].account: unknown account {_show(dev.account)}")
        if dev.owner and dev.owner not in user_ids:
            errors.append(f"devices[{i}].owner: unknown user {_show(dev.owner)}")
        if dev.node and dev.node not in {b.name for b in backends}:
            errors.append(f"devices[{i}].node: unknown backend {_show(dev.node)}")

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
    known = _dialect_names() if dsec.data else ()
    for name in dsec.data:
        sec = dsec.table(name)
        if name not in known:
            dsec.error(name, f"unknown dialect (known: {', '.join(known)})")
            continue
        enabled = sec.bool("enabled", True)
        dhost, dport = _split_listen(sec, "listen", "")
        parser = _dialect_parser(sec, name)
        if parser is None:
            continue
        options = parser(sec)
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
        raise ConfigError([_located(e, path, origins or {}) for e in errors])
    return Settings(
        path=path, gateway=gateway, backends=tuple(backends), accounts=tuple(accounts),
        users=tuple(users), devices=tuple(devices), dids=tuple(dids), dialects=dialects,
        demo=tuple(demo),
        origins={k: tuple(v) for k, v in (origins or {}).items()},
    )


def _unique(root: Section, name: str, values: list[str], key: str) -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v and v in seen:
            root.errors.append(f"{name}[{i}].{key}: duplicate {_show(v)}")
        seen.add(v)


def _read(p: Path) -> dict[str, Any]:
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError([f"{p}: file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{p}: invalid TOML: {exc}"]) from None
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read: {exc.strerror}"]) from None


Origins = dict[str, list[tuple[str, int]]]


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


def _gather(p: Path, seen: frozenset[Path], errors: list[str]) -> tuple[dict[str, Any], Origins]:
    """The file with its `include = [...]` files resolved: each included file's arrays of
    tables appended to this file's (paths relative to the including file), and where every
    row came from, so an error in an included file names that file."""
    data = dict(_read(p))
    origins: Origins = {k: [(str(p), i) for i in range(len(v))]
                        for k, v in data.items() if _is_tables(v)}
    includes = data.pop("include", None)
    if includes is None:
        return data, origins
    if not isinstance(includes, list) or not all(isinstance(n, str) for n in includes):
        errors.append(f"{p}: include: expected an array of file names, got {_show(includes)}")
        return data, origins
    for name in includes:
        q = p.parent / name
        if q.resolve() in seen:
            errors.append(f"{p}: include: {_show(name)} is already being read (an include cycle)")
            continue
        try:
            inc, inc_origins = _gather(q, seen | {q.resolve()}, errors)
        except ConfigError as exc:
            errors.extend(exc.errors)
            continue
        for key, value in inc.items():
            if not _is_tables(value):
                errors.append(f"{q}: {key}: an included file holds arrays of tables only "
                              "([[accounts]], [[users]], [[devices]], [[dids]]...)")
            elif key in data and not _is_tables(data[key]):
                errors.append(f"{p}: {key}: expected an array of tables (as in {q})")
            else:
                data[key] = [*data.get(key, []), *value]
                origins[key] = [*origins.get(key, []), *inc_origins[key]]
    return data, origins


def _located(error: str, path: str, origins: Mapping[str, Any]) -> str:
    """`users[3].account: ...` prefixed with the file that row was written in."""
    m = re.match(r"(\w+)\[(\d+)\](.*)", error, re.S)
    if m and m[1] in origins and int(m[2]) < len(origins[m[1]]):
        file, index = origins[m[1]][int(m[2])]
        return f"{file}: {m[1]}[{index}]{m[3]}"
    return f"{path}: {error}"


def load(path: str | Path) -> Settings:
    p = Path(path)
    errors: list[str] = []
    data, origins = _gather(p, frozenset({p.resolve()}), errors)
    if errors:
        raise ConfigError(errors)
    included = any(file != str(p) for rows in origins.values() for file, _ in rows)
    return parse(data, str(p), origins=origins if included else None)
