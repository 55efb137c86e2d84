"""What the OpenAPI document (gateway/openapi.py) says of each Webitel engine route of
routes.py: the `X-Access-Token` + `X-Key` session headers (root's Basic auth under /api/v1),
the JSON bodies, FreeSWITCH's `show channels` rows and the engine's `{"status","info"}` replies.
The engine answered a command the switch refused with 500 and FreeSWITCH's `-ERR` text: those
500s are the platform's answers and documented as such."""

from __future__ import annotations

from gateway.openapi import FALLBACK, Api, Op, Param, Reply, RouteDoc, Schema, ref

from .render import COLUMNS

JSON = "application/json"
_STR = {"type": "string"}

SCHEMAS: dict[str, Schema] = {
    "Error": {"type": "object", "required": ["status", "info"],
              "properties": {"status": {"const": "error"}, "info": _STR}},
    "LoginError": {"type": "object", "required": ["status", "message"],
                   "properties": {"status": {"const": 401}, "message": _STR}},
    "Reply": {"type": "object", "required": ["status", "info"],
              "properties": {"status": {"const": "OK"}, "info": _STR}},
    "Row": {"type": "object", "required": list(COLUMNS),
            "properties": {name: _STR for name in COLUMNS},
            "description": "One FreeSWITCH `show channels` row: every column a string."},
    "Rows": {"type": "object", "required": ["row_count", "rows"],
             "properties": {"row_count": {"type": "integer"},
                            "rows": {"type": "array", "items": ref("Row")}}},
    "Session": {"type": "object",
                "required": ["key", "username", "expires", "token", "role", "roleName", "acl"],
                "properties": {"key": _STR, "domain": _STR, "username": _STR,
                               "expires": {"type": "integer"}, "token": _STR,
                               "role": {"type": "integer"}, "roleName": _STR,
                               "acl": {"type": "object"}}},
}

API = Api(
    title="Webitel engine REST API (2015-2017)",
    description="`/login` and `/logout`, `/api/v2` behind the session headers and `/api/v1` "
                "behind root's Basic auth.",
    security_schemes={
        "token": {"type": "apiKey", "in": "header", "name": "X-Access-Token"},
        "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
        "root": {"type": "http", "scheme": "basic"},
    },
    security=("token", "key"),
    schemas=SCHEMAS,
)

_ERR = Reply("`{\"status\":\"error\",\"info\":...}` (400 bad body, 401, 403, 404, 413, 414)",
             {JSON: ref("Error")})
_SWITCH = Reply("The engine's answer for a command FreeSWITCH refused: `-ERR ...` in `info`",
                {JSON: ref("Error")})
_OK = {"200": Reply("FreeSWITCH's reply text in `info`", {JSON: ref("Reply")}),
       "500": _SWITCH, "default": _ERR}
_CAUSE = Param("cause", schema={"type": "string", "pattern": "^[A-Z_]+$"})


def _json(props: dict[str, Schema]) -> dict[str, Schema]:
    return {JSON: {"type": "object", "properties": props}}


def _channels(v: str, security: tuple[str, ...] | None) -> dict[str, RouteDoc]:
    return {
        f"/{v}/channels/domain/{{domain}}": RouteDoc({"delete": Op(
            "Hang up every channel of the domain", _OK, params=(_CAUSE,), security=security)}),
        f"/{v}/channels/{{id}}": RouteDoc({
            "delete": Op("Hang up a channel", _OK, params=(_CAUSE,), security=security),
            "put": Op("Hold or unhold", _OK, body=_json({"state": {"enum": ["hold", "unhold"]}}),
                      security=security),
            "patch": Op("Hold or unhold", _OK,
                        body=_json({"state": {"enum": ["hold", "unhold"]}}), security=security),
        }),
    }


_ORIGINATE = Op("Originate from the caller's phone to `calledId`", _OK,
                body=_json({"calledId": _STR, "callerId": _STR, "auto_answer_param": _STR}))
_LISTEN = _json({"user": _STR, "display": _STR, "side": _STR})
_LOGIN = Op("A session for a user's password", {
    "200": Reply("The session", {JSON: ref("Session")}),
    "401": Reply("Wrong credentials", {JSON: {"oneOf": [ref("LoginError"), ref("Error")]}}),
    "default": _ERR},
    body=_json({"username": _STR, "password": _STR}), security=())

LOGIN_DOCS: dict[str, RouteDoc] = {"": RouteDoc({"post": _LOGIN}), "/{tail:.*}": FALLBACK}
LOGOUT_DOCS: dict[str, RouteDoc] = {
    "": RouteDoc({"post": Op("End the session", {
        "200": Reply("Logged out", {JSON: ref("Reply")}),
        "401": Reply("Wrong credentials", {JSON: {"oneOf": [ref("LoginError"), ref("Error")]}}),
        "default": _ERR})}),
    "/{tail:.*}": FALLBACK,
}
API_DOCS: dict[str, RouteDoc] = {
    "/v2/whoami": RouteDoc({"get": Op("The session's user", {
        "200": Reply("The user", {JSON: {"type": "object", "required": ["acl", "id"]}}),
        "default": _ERR})}),
    "/v2/channels": RouteDoc({
        "get": Op("The visible channels as `show channels` rows", {
            "200": Reply("The rows, in the seed's envelope or bare", {JSON: {"oneOf": [
                {"type": "object", "required": ["status", "data"],
                 "properties": {"status": {"const": "OK"}, "data": ref("Rows")}},
                ref("Rows")]}}),
            "default": _ERR}, params=(Param("domain"),)),
        "post": _ORIGINATE}),
    **_channels("v2", None),
    "/v2/channels/{id}/eavesdrop": RouteDoc({"post": Op(
        "Listen to a channel from the user's phone", _OK, body=_LISTEN,
        params=(Param("side"),))}),
    "/v2/accounts/{id}/spy": RouteDoc({"post": Op(
        "Listen to a user's current call", _OK, body=_LISTEN,
        params=(Param("side"), Param("domain")))}),
    "/v1/channels": RouteDoc({
        "post": Op("Originate (root)", _ORIGINATE.replies, body=_ORIGINATE.body,
                   security=("root",)),
        "delete": Op("Hang up every channel (root)", _OK, params=(_CAUSE,),
                     security=("root",))}),
    **_channels("v1", ("root",)),
    "/v2": FALLBACK, "/v2/{tail:.*}": FALLBACK,
    "/v1": FALLBACK, "/v1/{tail:.*}": FALLBACK,
    "": FALLBACK, "/{tail:.*}": FALLBACK,
}
