"""A minimal blackhole client for trying the socket from a shell:

    python3 -m dialects.kazoo.socket_client ws://HOST:PORT TOKEN ACCOUNT_ID [BINDING ...]

subscribes each binding (default `call.*.*`) the way Monster UI does and prints every frame
the gateway sends, one JSON object a line, until interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys

import aiohttp


async def run(url: str, token: str, account_id: str, bindings: list[str]) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        for binding in bindings:
            await ws.send_json({"action": "subscribe", "auth_token": token,
                                "request_id": secrets.token_hex(16),
                                "data": {"account_id": account_id, "binding": binding}})
        async for frame in ws:
            if frame.type is aiohttp.WSMsgType.TEXT:
                print(frame.data, flush=True)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    url, token, account_id, *bindings = argv
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(url, token, account_id, bindings or ["call.*.*"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
