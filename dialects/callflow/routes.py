"""URL -> handler for all three generations of the protocol: the seed's wiki routes, the
query-parameter routes of June 2014 and the path-style routes of May 2014 and the Dart server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from gateway.endpoint import Endpoint, add_endpoints
from gateway.errors import MethodNotAllowed

from .access import Context, Groups, token_auth
from .api_doc import CALL_DOCS
from .auth import ADMINISTRATOR, RECEPTIONIST, Agent
from .calls import CallState
from .commands import Commands
from .errors import bad_parameters, json_response, not_found
from .params import NO_CALL_ID, call_id, context, extension

CALLERS = (RECEPTIONIST,)
HANGUP = (RECEPTIONIST, ADMINISTRATOR)
#: Fixed names under /call that the `/call/{id}` patterns must not swallow.
RESERVED = frozenset({"list", "queue", "state", "pickup", "park", "hangup", "originate",
                      "transfer"})

Answer = dict[str, Any] | web.Response
Handler = Callable[[web.Request, Agent, dict[str, str], Commands], Awaitable[Answer]]


def endpoint(methods: str | Mapping[str, Handler],
             handler: Handler | None = None,
             groups: Groups | Mapping[str, Groups] = CALLERS) -> Endpoint[Context]:
    """`methods` is one method (or several, comma-separated) for `handler`, or a map from
    method to handler for a path whose methods do different things."""
    table = dict(methods) if not isinstance(methods, str) else \
        {m.strip(): handler for m in methods.split(",")}

    async def handle(request: web.Request, ctx: Context) -> web.StreamResponse:
        run = table[request.method if request.method in table else "GET"]  # HEAD reads GET
        assert run is not None
        answer = await run(request, ctx.agent, ctx.params, ctx.state.commands)
        return answer if isinstance(answer, web.Response) else json_response(answer)

    return Endpoint(tuple(table), handle, auth=token_auth(groups))


def _path_call(request: web.Request, name: str = "callid") -> str:
    value = request.match_info[name]
    if value in RESERVED:  # `/call/list/pickup` and the like name no call
        raise MethodNotAllowed(())
    return call_id(value)


# ------------------------------------------------------------------ reads
def _calls(rows: list[bytes]) -> web.Response:
    """`{"calls": [...], "status": "ok"}` spliced from serialized rows, byte for byte what
    `json_response` writes for the same objects."""
    body = b'{"calls": [' + b", ".join(rows) + b'], "status": "ok"}'
    return web.Response(body=body, content_type="application/json", charset="utf-8")


async def list_calls(_r: web.Request, agent: Agent, _p: dict[str, str],
                     cmd: Commands) -> Answer:
    return _calls([body for _, body in cmd.view.listing(agent)])


async def queue(_r: web.Request, agent: Agent, _p: dict[str, str],
                cmd: Commands) -> Answer:
    return _calls([body for state, body in cmd.view.listing(agent)
                   if state == CallState.QUEUED])


async def state(_r: web.Request, agent: Agent, p: dict[str, str],
                cmd: Commands) -> dict[str, Any]:
    cid = call_id(p.get("call_id"))
    ch = cmd.view.visible(agent, cid)
    if ch is None:
        raise not_found(f"{cid} does not exist.")
    return {"call": cmd.view.legacy(ch), "status": "ok"}


async def get_call(r: web.Request, agent: Agent, _p: dict[str, str],
                   cmd: Commands) -> dict[str, Any]:
    cid = _path_call(r)
    ch = cmd.view.visible(agent, cid)
    if ch is None:
        raise not_found(f"{cid} does not exist.")
    return {**cmd.view.call(ch), "status": "ok"}


async def update_call(r: web.Request, _a: Agent, _p: dict[str, str],
                      _c: Commands) -> dict[str, Any]:
    _path_call(r)
    raise bad_parameters("Calls are created by the switch and cannot be updated.")


# --------------------------------------------------------------- commands
async def pickup(_r: web.Request, agent: Agent, p: dict[str, str],
                 cmd: Commands) -> dict[str, Any]:
    raw = p.get("call_id")
    return await cmd.pickup(agent, call_id(raw) if raw is not None else None)


async def pickup_path(r: web.Request, agent: Agent, _p: dict[str, str],
                      cmd: Commands) -> dict[str, Any]:
    return await cmd.pickup(agent, _path_call(r))


async def park(_r: web.Request, agent: Agent, p: dict[str, str],
               cmd: Commands) -> dict[str, Any]:
    """With `call_id`: the June 2014 form. Without: the seed's "put the current call on hold"."""
    if "call_id" in p:
        return await _park(agent, call_id(p["call_id"]), cmd)
    ch = cmd.held_by(agent)
    if ch is None or cmd.view.state(ch) in (CallState.PARKED, CallState.QUEUED):
        raise not_found("No call available to put on hold")
    await cmd.park(agent, ch)
    return {"status": "on hold", "description": f"{ch.id} was put on hold"}


async def park_path(r: web.Request, agent: Agent, _p: dict[str, str],
                    cmd: Commands) -> dict[str, Any]:
    return await _park(agent, _path_call(r), cmd)


async def _park(agent: Agent, cid: str, cmd: Commands) -> dict[str, Any]:
    ch = cmd.view.visible(agent, cid)
    if ch is None:
        raise not_found(f"{cid} does not exist.")
    await cmd.park(agent, ch)
    return {"status": "ok", "description": f"{cid} was put on hold"}


async def hangup(_r: web.Request, agent: Agent, p: dict[str, str],
                 cmd: Commands) -> dict[str, Any]:
    return await _hangup(agent, call_id(p.get("call_id")), cmd)


async def hangup_path(r: web.Request, agent: Agent, _p: dict[str, str],
                      cmd: Commands) -> dict[str, Any]:
    return await _hangup(agent, _path_call(r), cmd)


async def _hangup(agent: Agent, cid: str, cmd: Commands) -> dict[str, Any]:
    ch = cmd.view.visible(agent, cid)
    if ch is None:
        raise not_found(f"{cid} may already be hung up.")
    await cmd.hangup(agent, ch)
    return {"status": "ok", "description": f"{cid} hung up successfully."}


async def originate(_r: web.Request, agent: Agent, p: dict[str, str],
                    cmd: Commands) -> dict[str, Any]:
    contact_id, reception_id = context(p.get("context"))
    if p.get("extension"):
        return await cmd.originate(agent, extension(p["extension"]), reception_id, contact_id)
    if p.get("phone_id"):
        # Phone ids live in the original's contact server, which callgate does not have.
        raise not_found(f"Phone_ID {p['phone_id'][:20]} not associated with "
                        f"{contact_id}@{reception_id}.")
    raise bad_parameters("Missing extension or phone_id parameter.")


async def originate_path(r: web.Request, agent: Agent, _p: dict[str, str],
                         cmd: Commands) -> dict[str, Any]:
    m = r.match_info
    contact_id, reception_id = context(f"{m['cid']}@{m['rid']}")
    dialplan = m.get("dialplan")
    if dialplan is not None and not dialplan.replace("_", "").replace("-", "").isalnum():
        raise bad_parameters(f"Invalid dialplan: {dialplan[:64]}")
    if "callid" in m:
        call_id(m["callid"])
    return await cmd.originate(agent, extension(m["ext"]), reception_id, contact_id,
                               context=dialplan)


async def transfer(r: web.Request, agent: Agent, p: dict[str, str],
                   cmd: Commands) -> dict[str, Any]:
    if r.method == "GET":  # the seed's form: the agent's current call meets `source`
        return await cmd.transfer_current(agent, call_id(p.get("source")))
    await cmd.transfer(agent, call_id(p.get("source")), call_id(p.get("destination")))
    return {"status": "ok"}


async def transfer_path(r: web.Request, agent: Agent, _p: dict[str, str],
                        cmd: Commands) -> dict[str, Any]:
    await cmd.transfer(agent, _path_call(r, "aleg"), call_id(r.match_info["bleg"]))
    return {"status": "ok"}


def add_routes(app: web.Application) -> None:
    """Routes relative to the `/call` prefix; fixed names before the `{callid}` patterns."""
    base = "/originate/{ext}/dialplan/{dialplan}/reception/{rid}/contact/{cid}"
    add_endpoints(app, [
        ("", endpoint("GET", list_calls)),
        ("/list", endpoint("GET", list_calls)),
        ("/queue", endpoint("GET", queue)),
        ("/state", endpoint("GET", state)),
        ("/pickup", endpoint("POST", pickup)),
        ("/park", endpoint("POST", park)),
        ("/hangup", endpoint("POST", hangup, HANGUP)),
        ("/originate", endpoint("POST", originate)),
        ("/transfer", endpoint("GET, POST", transfer)),
        ("/originate/{ext}/reception/{rid}/contact/{cid}", endpoint("POST", originate_path)),
        (base, endpoint("POST", originate_path)),
        (base + "/call/{callid}", endpoint("POST", originate_path)),
        ("/{aleg}/transfer/{bleg}", endpoint("POST", transfer_path)),
        ("/{callid}/pickup", endpoint("POST", pickup_path)),
        ("/{callid}/park", endpoint("POST", park_path)),
        ("/{callid}/hangup", endpoint("POST", hangup_path, HANGUP)),
        ("/{callid}", endpoint({"GET": get_call, "POST": update_call, "DELETE": hangup_path},
                               groups={"GET": CALLERS, "POST": CALLERS, "DELETE": HANGUP})),
    ], docs=CALL_DOCS)


__all__ = ["NO_CALL_ID", "add_routes"]
