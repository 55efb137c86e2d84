"""callgate: one live table of a telephony switch's calls, served in the wire formats of Kazoo,
Webitel, MOR and call-flow-control.

`callgate serve (--config FILE | --demo) [--no-access-log]`, `callgate check-config FILE`,
`callgate import kazoo|mor|webitel SOURCE... -o FILE [--dry-run]` and
`callgate asterisk-dialplan [--config FILE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
import weakref
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

from aiohttp import WSCloseCode, web

import backends
import dialects
import panel

from .app import EXTRA_LISTENERS, SERVER_LIMITS, build_app, build_dialect_apps, wait_connected
from .config import ConfigError, Settings, load, parse_listen
from .context import Gateway
from .demo import DEMO_CONFIG, start_switches
from .dialect import Listener
from .importers import PLATFORMS, run
from .logins import login_notes
from .scale import RedisUnavailable

log = logging.getLogger("callgate")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: How long a stop waits for open websockets to answer their close, and for requests in flight.
CLOSE_WAIT = 1.0
#: The example configuration's placeholders start so; `serve` refuses them as secrets.
PLACEHOLDER = "change-me"
_SECRET_WORDS = ("secret", "password", "api_key", "key")


def _version() -> str:
    try:
        return metadata.version("callgate")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def placeholder_secrets(settings: Settings) -> list[str]:
    """Where the configuration still holds the example's `change-me...` values as secrets: one
    line each, naming the key (never the value)."""
    return [f"{settings.path}: {where}: still the example's placeholder; set a secret of your own"
            for where, value in _secrets(settings, "") if value.lower().startswith(PLACEHOLDER)]


def _secrets(obj: Any, where: str) -> Iterator[tuple[str, str]]:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            path = f"{where}.{f.name}" if where else f.name
            if f.name == "options":  # a dialect's or backend's own keys sit in its table
                path = where
            if isinstance(value, str):
                if any(word in f.name for word in _SECRET_WORDS):
                    yield path, value
            else:
                yield from _secrets(value, path)
    elif isinstance(obj, tuple | list):
        for i, item in enumerate(obj):
            yield from _secrets(item, f"{where}[{i}]")
    elif isinstance(obj, dict):
        for k, item in obj.items():
            yield from _secrets(item, f"{where}.{k}")


def _loaded(path: str | Path) -> Settings | None:
    """The configuration at `path`, or None once each of its problems is printed (one line
    per problem naming the file and the key)."""
    try:
        return load(path)
    except ConfigError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        return None


def _check_config(path: str) -> int:
    settings = _loaded(path)
    if settings is None:
        return 2
    placeholders = placeholder_secrets(settings)
    if placeholders:
        for line in placeholders:
            print(line, file=sys.stderr)
        return 2
    print("ok")
    for note in login_notes(settings):  # stdout stays `ok` for scripts
        print(f"login: {note}", file=sys.stderr)
    return 0


def _asterisk_dialplan(path: str | None, backend: str | None) -> int:
    """Print the extensions.conf lines each Asterisk backend redirects channels to."""
    module = backends.settings_module("asterisk")
    if path is None:
        print(module.dialplan_snippet(module.AsteriskOptions()), end="")
        return 0
    settings = _loaded(path)
    if settings is None:
        return 2
    chosen = [b for b in settings.backends
              if b.type == "asterisk" and (backend is None or b.name == backend)]
    if not chosen:
        what = f"no asterisk backend named {backend!r}" if backend else "no asterisk backend"
        print(f"{path}: {what}", file=sys.stderr)
        return 2
    snippets = {module.dialplan_snippet(b.options) for b in chosen}
    print("\n".join(sorted(snippets)), end="")
    return 0


async def _serve(settings: Settings, demo: bool, access_log: bool = True) -> None:
    switches = None
    if demo:
        settings, switches = await start_switches(settings)
    gw = Gateway.build(settings)
    gw.metrics.access_log = access_log
    runners: list[web.AppRunner] = []
    sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
    try:
        app = build_app(gw)
        runner = _runner(app, sockets)
        await runner.setup()
        runners.append(runner)
        await _listen(runner, settings.gateway.host, settings.gateway.port)
        addresses = [f"http://{settings.gateway.host}:{settings.gateway.port}"]
        for listener in app[EXTRA_LISTENERS]:
            lr = _runner(listener.app, sockets)
            await lr.setup()
            runners.append(lr)
            await _listen(lr, listener.host, listener.port)
            listener.bound = lr.addresses[0][1] if lr.addresses else listener.port
            log.info("%s on %s:%s", listener.name, listener.host, listener.bound)
        for host, port, dapp in build_dialect_apps(gw):
            r = _runner(dapp, sockets)
            await r.setup()
            runners.append(r)
            await _listen(r, host, port)
            addresses.append(f"http://{host}:{port}")
        log.info("listening on %s", ", ".join(addresses))
        if demo:
            connected = await wait_connected(gw, 10.0)
            listeners: list[Listener] = app[EXTRA_LISTENERS]
            _print_demo(gw, addresses[0], connected, listeners)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("shutting down")
    finally:
        for r in runners:  # no new connections anywhere while the sockets close
            for site in list(r.sites):
                await site.stop()
        await _close_sockets(sockets)
        for r in reversed(runners):
            await r.cleanup()
        if switches is not None:
            await switches.stop()


def _runner(app: web.Application, sockets: weakref.WeakSet[web.WebSocketResponse]
            ) -> web.AppRunner:
    """A runner that notes every websocket its app (or a sub-app) opens, so a stop can close
    them all with 1001 instead of waiting for their handlers; requests still running when the
    stop comes get CLOSE_WAIT seconds."""

    async def note(_request: web.Request, response: web.StreamResponse) -> None:
        if isinstance(response, web.WebSocketResponse):
            sockets.add(response)

    app.on_response_prepare.append(note)
    return web.AppRunner(app, access_log=None, handle_signals=False,
                         shutdown_timeout=CLOSE_WAIT, **SERVER_LIMITS)


async def _close_sockets(sockets: weakref.WeakSet[web.WebSocketResponse]) -> None:
    """Close every open websocket with 1001 (going away), at once; a client that does not
    answer its close in CLOSE_WAIT seconds is dropped."""
    open_ = [ws for ws in list(sockets) if not ws.closed]
    if not open_:
        return
    closes = [asyncio.ensure_future(ws.close(code=WSCloseCode.GOING_AWAY,
                                             message=b"server shutting down"))
              for ws in open_]
    _done, pending = await asyncio.wait(closes, timeout=CLOSE_WAIT)
    for task in pending:
        task.cancel()
    await asyncio.gather(*closes, return_exceptions=True)


class ListenError(Exception):
    """The listener could not be opened (port taken, address not ours)."""


async def _listen(runner: web.AppRunner, host: str, port: int) -> None:
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _print_demo(gw: Gateway, base: str, connected: bool,
                listeners: Sequence[Listener] = ()) -> None:
    lines = [
        "",
        f"callgate demo on {base}  (simulated switches: "
        + ", ".join(f"{b.name}={b.type}@{b.host}:{b.port}" for b in gw.settings.backends) + ")",
        f"  health: curl -s {base}/healthz"
        + ("" if connected else "   (switches still connecting)"),
        panel.demo_line(base),
    ]
    for name, d in gw.settings.dialects.items():
        if not d.enabled:
            continue
        module = dialects.load(name)
        describe = getattr(module, "demo_lines", None)
        if describe is not None:
            lines.append(f"  [{name}]")
            for line in describe(gw):
                for listener in listeners:  # `{name}`: where that listener really is
                    line = line.replace("{" + listener.name + "}",
                                        f"{listener.host}:{listener.bound}")
                lines.append("    " + line.replace("{BASE}", base))
    print("\n".join(lines), flush=True)


class _Parser(argparse.ArgumentParser):
    """A usage mistake is one line on stderr and exit status 2, never a traceback."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="callgate", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    serve = sub.add_parser(
        "serve", help="run the gateway",
        description="Run the gateway: connect to the switches of the configuration and serve "
                    "every enabled dialect. SIGINT or SIGTERM stops it (open websockets are "
                    "closed with 1001).")
    group = serve.add_mutually_exclusive_group(required=True)
    group.add_argument("--config", metavar="FILE", help="the TOML configuration to run")
    group.add_argument("--demo", action="store_true",
                       help="run against built-in simulated switches with live calls "
                            "(config/demo.toml); no switch needed")
    serve.add_argument("--listen", metavar="HOST:PORT",
                       help="override [gateway] listen, e.g. 127.0.0.1:8000")
    serve.add_argument("--log-level", default="INFO", type=str.upper, choices=LOG_LEVELS,
                       metavar="LEVEL",
                       help=f"how much to log: one of {', '.join(LOG_LEVELS)} "
                            "(any case; default INFO)")
    serve.add_argument("--no-access-log", action="store_true",
                       help="do not log one line per HTTP request (metrics keep counting)")
    check = sub.add_parser(
        "check-config", help="validate a configuration file",
        description="Validate a configuration as `serve` would: print every error, one per "
                    "line, and exit 2; print `ok` and exit 0 when it is good. The example's "
                    "placeholder secrets (change-me...) count as errors.")
    check.add_argument("file", metavar="FILE", help="the TOML configuration to check")
    imp = sub.add_parser(
        "import", help="write the directory from a platform's own export",
        description="Read what Kazoo, MOR or Webitel export (Crossbar JSON or CouchDB dumps; "
                    "users_get/devices_get XML or table CSVs; domains/accounts JSON) and write "
                    "the [[accounts]], [[users]], [[devices]] and [[dids]] tables with the "
                    "platform's ids and logins; re-importing updates FILE in place. Conflicts "
                    "and bad input are one line each, exit 2, nothing written.")
    imp.add_argument("platform", choices=sorted(PLATFORMS), help="the platform exported from")
    imp.add_argument("sources", nargs="+", metavar="SOURCE",
                     help="export files, or directories holding them")
    imp.add_argument("-o", "--output", required=True, metavar="FILE",
                     help="the directory file to write (or update)")
    imp.add_argument("--dry-run", action="store_true", help="only print what would change")
    dialplan = sub.add_parser(
        "asterisk-dialplan", help="print the extensions.conf lines an Asterisk backend needs",
        description="Print the extensions.conf snippet the Asterisk backend redirects channels "
                    "to (music on hold, playback), for the hold_context, hold_extension and "
                    "playback_extension of the configuration's asterisk backends (the defaults "
                    "without --config). The backend checks them with ShowDialPlan when it "
                    "connects.")
    dialplan.add_argument("--config", metavar="FILE",
                          help="read the extension names from this configuration")
    dialplan.add_argument("--backend", metavar="NAME",
                          help="only this [[backends]] entry (default: every asterisk one)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    if args.command == "check-config":
        return _check_config(args.file)
    if args.command == "import":
        return run(args.platform, args.sources, args.output, args.dry_run)
    if args.command == "asterisk-dialplan":
        return _asterisk_dialplan(args.config, args.backend)

    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _loaded(DEMO_CONFIG if args.demo else args.config)
    if settings is None:
        return 2
    if not args.demo:  # the demo's values are published demo values, by design
        placeholders = placeholder_secrets(settings)
        if placeholders:
            for line in placeholders:
                print(line, file=sys.stderr)
            return 2
    if args.listen:
        try:
            host, port = parse_listen(args.listen)
        except ValueError as exc:
            print(f"--listen: {exc}", file=sys.stderr)
            return 2
        settings = dataclasses.replace(
            settings, gateway=dataclasses.replace(settings.gateway, host=host, port=port))
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(settings, args.demo, not args.no_access_log))
    except (ListenError, RedisUnavailable) as exc:
        print(f"callgate: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
