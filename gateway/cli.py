"""`callgate serve [--config FILE | --demo] [--no-access-log]`, `callgate check-config FILE` and
`callgate import kazoo|mor|webitel SOURCE... -o FILE [--dry-run]`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys

from aiohttp import web

import dialects

from .app import EXTRA_LISTENERS, SERVER_LIMITS, build_app, build_dialect_apps, wait_connected
from .config import ConfigError, Settings, load, parse_listen
from .context import Gateway
from .demo import DEMO_CONFIG, start_switches
from .importers import PLATFORMS, run
from .logins import login_notes

log = logging.getLogger("callgate")


def _check_config(path: str) -> int:
    try:
        settings = load(path)
    except ConfigError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        return 2
    print("ok")
    for note in login_notes(settings):  # stdout stays `ok` for scripts
        print(f"login: {note}", file=sys.stderr)
    return 0


async def _serve(settings: Settings, demo: bool, access_log: bool = True) -> None:
    switches = None
    if demo:
        settings, switches = await start_switches(settings)
    gw = Gateway.build(settings)
    gw.metrics.access_log = access_log
    runners: list[web.AppRunner] = []
    try:
        app = build_app(gw)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, **SERVER_LIMITS)
        await runner.setup()
        runners.append(runner)
        await _listen(runner, settings.gateway.host, settings.gateway.port)
        addresses = [f"http://{settings.gateway.host}:{settings.gateway.port}"]
        for listener in app[EXTRA_LISTENERS]:
            lr = web.AppRunner(listener.app, access_log=None, handle_signals=False,
                               **SERVER_LIMITS)
            await lr.setup()
            runners.append(lr)
            await _listen(lr, listener.host, listener.port)
            listener.bound = lr.addresses[0][1] if lr.addresses else listener.port
            log.info("%s on %s:%s", listener.name, listener.host, listener.bound)
        for host, port, dapp in build_dialect_apps(gw):
            r = web.AppRunner(dapp, access_log=None, handle_signals=False, **SERVER_LIMITS)
            await r.setup()
            runners.append(r)
            await _listen(r, host, port)
            addresses.append(f"http://{host}:{port}")
        log.info("listening on %s", ", ".join(addresses))
        if demo:
            connected = await wait_connected(gw, 10.0)
            _print_demo(gw, addresses[0], connected)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("shutting down")
    finally:
        for r in reversed(runners):
            await r.cleanup()
        if switches is not None:
            await switches.stop()


class ListenError(Exception):
    """The listener could not be opened (port taken, address not ours)."""


async def _listen(runner: web.AppRunner, host: str, port: int) -> None:
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _print_demo(gw: Gateway, base: str, connected: bool) -> None:
    lines = [
        "",
        f"callgate demo on {base}  (simulated switches: "
        + ", ".join(f"{b.name}={b.type}@{b.host}:{b.port}" for b in gw.settings.backends) + ")",
        f"  health: curl -s {base}/healthz"
        + ("" if connected else "   (switches still connecting)"),
    ]
    for name, d in gw.settings.dialects.items():
        if not d.enabled:
            continue
        module = dialects.load(name)
        describe = getattr(module, "demo_lines", None)
        if describe is not None:
            lines.append(f"  [{name}]")
            lines.extend("    " + line.replace("{BASE}", base) for line in describe(gw))
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callgate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
    group = serve.add_mutually_exclusive_group(required=True)
    group.add_argument("--config", help="TOML configuration file")
    group.add_argument("--demo", action="store_true",
                       help="run against built-in simulated switches with config/demo.toml")
    serve.add_argument("--listen", help="override [gateway] listen, e.g. 127.0.0.1:8000")
    serve.add_argument("--log-level", default="INFO")
    serve.add_argument("--no-access-log", action="store_true",
                       help="do not log one line per HTTP request")
    check = sub.add_parser("check-config", help="validate a configuration file")
    check.add_argument("file")
    imp = sub.add_parser("import", help="write the directory from a platform's own export")
    imp.add_argument("platform", choices=sorted(PLATFORMS))
    imp.add_argument("sources", nargs="+", metavar="SOURCE",
                     help="export files, or directories holding them")
    imp.add_argument("-o", "--output", required=True, help="the directory file to write")
    imp.add_argument("--dry-run", action="store_true", help="only print what would change")
    args = parser.parse_args(argv)

    if args.command == "check-config":
        return _check_config(args.file)
    if args.command == "import":
        return run(args.platform, args.sources, args.output, args.dry_run)

    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load(DEMO_CONFIG if args.demo else args.config)
    except ConfigError as exc:
        for line in exc.errors:
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
    except ListenError as exc:
        print(f"callgate: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
