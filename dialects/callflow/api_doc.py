"""What the OpenAPI document (gateway/openapi.py) says of each call-flow-control route: the
`token` query parameter, the form parameters and the status documents and call objects the
handlers answer with. Keyed by the paths of routes.py and resources.py."""

from __future__ import annotations

from dataclasses import replace

from gateway.openapi import FALLBACK, Api, Op, Param, Reply, RouteDoc, Schema, ref

from .params import CALL_ID, EXTENSION

__all__ = ["API", "CALL_DOCS", "FALLBACK", "RESOURCE_DOCS", "SOCKET_DOCS"]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
_STR = {"type": "string"}
_OPT_STR = {"type": ["string", "null"]}

SCHEMAS: dict[str, Schema] = {
    "Status": {
        "type": "object", "required": ["status"],
        "properties": {"status": _STR, "description": _STR},
        "description": "Every answer other than a list: `status` is one of the platform's six "
                       "strings (ok, bad parameters, not authorized, forbidden, not found, "
                       "unhandled exception).",
    },
    "Call": {
        "type": "object",
        "required": ["id", "state", "b_leg", "inbound", "is_call", "destination", "caller_id",
                     "greeting_played", "reception_id", "organization_id", "assigned_to",
                     "channel", "arrival_time"],
        "properties": {
            "id": _STR,
            "state": {"enum": ["created", "queued", "parked", "speaking", "transferring",
                               "transferred", "ringing", "hungup", "unknown"]},
            "b_leg": _OPT_STR, "inbound": {"type": "boolean"}, "is_call": {"type": "boolean"},
            "destination": _STR, "caller_id": _STR, "greeting_played": {"type": "boolean"},
            "reception_id": {"type": "integer"}, "organization_id": {"type": "integer"},
            "assigned_to": {"type": ["integer", "null"]}, "channel": _STR,
            "arrival_time": _STR, "status": _STR,
        },
    },
    "Calls": {"type": "object", "required": ["calls", "status"],
              "properties": {"calls": {"type": "array", "items": ref("Call")},
                             "status": {"const": "ok"}}},
    "LegacyCall": {"type": "object", "required": ["call", "status"], "properties": {
        "call": {"type": "object", "required": ["call_id", "status", "type", "callee", "state"],
                 "properties": {"call_id": _STR, "status": _STR, "type": {"const": "cm_id"},
                                "callee": {"type": ["integer", "string"]}, "state": _STR}},
        "status": {"const": "ok"}}},
    "Peer": {"type": "object",
             "required": ["name", "inTransition", "registered", "activeChannels", "state"],
             "properties": {"name": _STR, "inTransition": {"type": "boolean"},
                            "registered": {"type": "boolean"},
                            "activeChannels": {"type": "integer"},
                            "state": {"enum": ["offline", "idle", "ringing", "busy"]}}},
    "Channel": {"type": "object", "required": ["variables"],
                "properties": {"variables": {"type": "object",
                                             "additionalProperties": _OPT_STR}}},
}

API = Api(
    title="call-flow-control (AdaHeads) call control",
    description="Receptionists' call control at /call, the desk's resources and the "
                "notifications websocket. Every request carries the agent's `token`.",
    security_schemes={"token": {"type": "apiKey", "in": "query", "name": "token"}},
    security=("token",),
    schemas=SCHEMAS,
)

_ERR = Reply("A status document (bad parameters, not authorized, forbidden, not found)",
             {JSON: ref("Status")})
_UNHANDLED = Reply("The switch did not carry out the command", {JSON: ref("Status")})


def _op(summary: str, ok: Schema, *, params: tuple[Param, ...] = (), form: bool = False,
        failing: bool = False) -> Op:
    replies = {"200": Reply("OK", {JSON: ok}), "default": _ERR}
    if failing:  # a command the switch may refuse: the platform's own 500 status document
        replies["500"] = _UNHANDLED
    body = None
    if form:
        body = {FORM: {"type": "object",
                       "properties": {p.name: p.schema for p in params},
                       "additionalProperties": _STR}}
    return Op(summary, replies, params=params, body=body)


#: the handlers' own validators (params.py), as the parameters' patterns
_ID = {"type": "string", "pattern": CALL_ID.pattern}
_CALL_ID = Param("call_id", schema=_ID)


def _path(*names: str, schema: Schema = _ID) -> tuple[Param, ...]:
    return tuple(Param(n, "path", schema=schema) for n in names)


_ORIGINATE_PATH = (*_path("ext", schema={"type": "string", "pattern": EXTENSION.pattern}),
                   *_path("rid", "cid", schema={"type": "string", "pattern": r"^\d{1,9}$"}),
                   *_path("dialplan", schema={"type": "string", "pattern": r"^[A-Za-z0-9_-]+$"}),
                   *_path("callid"))
_STATUS = ref("Status")
_CALL_OK = {"allOf": [ref("Call")]}
_RESULT = {"type": "object", "required": ["status"]}


def _cmd(summary: str, *params: Param, ok: Schema = _RESULT) -> RouteDoc:
    query = tuple(p for p in params if p.where != "path")
    op = _op(summary, ok, params=query, form=True, failing=True)
    return RouteDoc({"post": replace(op, params=params)})


_ORIG = {"post": _op("Originate to the path's extension for the contact@reception", _RESULT,
                     params=_ORIGINATE_PATH, failing=True)}
CALL_DOCS: dict[str, RouteDoc] = {
    "": RouteDoc({"get": _op("The organization's live calls", ref("Calls"))}),
    "/list": RouteDoc({"get": _op("The organization's live calls", ref("Calls"))}),
    "/queue": RouteDoc({"get": _op("Calls waiting for a receptionist", ref("Calls"))}),
    "/state": RouteDoc({"get": _op("One call in the seed's shape", ref("LegacyCall"),
                                   params=(_CALL_ID,))}),
    "/pickup": _cmd("Pick up the given (or the oldest waiting) call", _CALL_ID),
    "/park": _cmd("Park the given call, or the agent's current one", _CALL_ID),
    "/hangup": _cmd("Hang up a call", _CALL_ID),
    "/originate": _cmd("Call an extension for a contact@reception",
                       Param("extension"), Param("phone_id"),
                       Param("context", schema={"type": "string", "pattern": r"^\d+@\d+$"})),
    "/transfer": RouteDoc({
        "get": _op("Bridge the agent's current call to `source`", _RESULT,
                   params=(Param("source"),), failing=True),
        "post": _op("Bridge `source` to `destination`", _RESULT, form=True, failing=True,
                    params=(Param("source"), Param("destination")))}),
    "/originate/{ext}/reception/{rid}/contact/{cid}": RouteDoc(_ORIG),
    "/originate/{ext}/dialplan/{dialplan}/reception/{rid}/contact/{cid}": RouteDoc(_ORIG),
    "/originate/{ext}/dialplan/{dialplan}/reception/{rid}/contact/{cid}/call/{callid}":
        RouteDoc(_ORIG),
    "/{aleg}/transfer/{bleg}": _cmd("Bridge call `aleg` to call `bleg`",
                                    *_path("aleg", "bleg")),
    "/{callid}/pickup": _cmd("Pick up the call", *_path("callid")),
    "/{callid}/park": _cmd("Park the call", *_path("callid")),
    "/{callid}/hangup": _cmd("Hang up the call", *_path("callid")),
    "/{callid}": RouteDoc({
        "get": _op("One call", ref("Call"), params=_path("callid")),
        "post": _op("Refused: calls are created by the switch", _STATUS,
                    params=_path("callid")),
        "delete": _op("Hang up the call", _RESULT, failing=True, params=_path("callid"))}),
}

_LIST = {"type": "array"}
RESOURCE_DOCS: dict[str, dict[str, RouteDoc]] = {
    "/peer": {"": RouteDoc({"get": _op("The organization's phones",
                                       {"type": "array", "items": ref("Peer")})}),
              "/list": RouteDoc({"get": _op("The phones, Ada's shape", _RESULT)}),
              "/{peerid}": RouteDoc({"get": _op("One phone", ref("Peer"),
                                                params=_path("peerid"))})},
    "/channel": {"": RouteDoc({"get": _op("Live legs as switch variables",
                                          {"type": "array", "items": ref("Channel")})}),
                 "/{chanid}": RouteDoc({"get": _op("One leg", ref("Channel"),
                                                   params=_path("chanid"))})},
    "/users": {"": RouteDoc({"get": _op("The agent's profile", _RESULT)}),
               "/list": RouteDoc({"get": _op("The organization's users", _RESULT)}),
               "/pause": RouteDoc({"get": Op(
                   "The original's stub: always 500 `Not implemented`, kept for its clients",
                   {"500": _UNHANDLED, "default": _ERR})})},
    "/state": {"/reload": RouteDoc({"post": _op("Re-evaluate the organization's call states",
                                                {"type": "object"})})},
    "/activerecording": {"": RouteDoc({"get": _op("Active recordings", _LIST)}),
                         "/{cid}": RouteDoc({"get": _op("One recording", {"type": "object"},
                                                        params=_path("cid"))})},
    "/debug": {"/channel/list": RouteDoc({"get": _op("Live legs, Ada envelope", _RESULT)}),
               "/contact": RouteDoc({"get": _op("No contact server: always not found",
                                                _STATUS)}),
               "/peer/list": RouteDoc({"get": _op("The phones, Ada's shape", _RESULT)}),
               "/token/dummy_list": RouteDoc({"get": _op("Always empty", _RESULT)})},
}

SOCKET_DOCS: dict[str, RouteDoc] = {
    "": RouteDoc({"get": Op("Call events (websocket upgrade)", {
        "101": Reply("Switching to the websocket"), "default": _ERR})}),
}
