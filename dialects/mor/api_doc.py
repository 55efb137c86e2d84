"""What the OpenAPI document (gateway/openapi.py) says of each MOR route of routes.py and
v2.py. The XML API answers every outcome 200 with an XML document sent as `text/html` (or
`text/xml` with `xml_api_extension`): its schemas carry OpenAPI's `xml` names, as far as
OpenAPI can describe XML. The X18 REST service under /v2 is JSON with real statuses."""

from __future__ import annotations

from dataclasses import replace

from gateway.openapi import FALLBACK, Api, Op, Param, Reply, RouteDoc, Schema, ref

JSON = "application/json"
XML_TYPES = ("text/html", "text/xml")
FORM = "application/x-www-form-urlencoded"
_STR = {"type": "string"}

_CALL_FIELDS = (
    "id", "uniqueid", "status", "answer_time", "duration", "src", "user_id", "user",
    "src_device_id", "device_type", "device_extension", "device_name", "device_istrunk",
    "device_ani", "localized_dst", "direction_code", "direction_name", "destination_name",
    "provider_id", "provider_name", "channel", "dst_user_id", "dst_user", "dst_device_id",
    "dst_device_type", "dst_device_extension", "dst_device_name", "dst_device_istrunk",
    "dst_device_ani")

SCHEMAS: dict[str, Schema] = {
    "Status": {"type": "object", "xml": {"name": "status"},
               "properties": {"error": _STR, "message": _STR},
               "description": "`<status><error>...</error></status>` (a refused filter), or "
                              "`<status><message>No data found...</message></status>`."},
    "Page": {"type": "object", "xml": {"name": "page"}, "properties": {
        "active_call": {"type": "array", "xml": {"wrapped": False}, "items": {
            "type": "object", "xml": {"name": "active_call"},
            "properties": {name: _STR for name in _CALL_FIELDS}}},
        "status": ref("Status")}},
    "Action": {"type": "object", "xml": {"name": "action"},
               "properties": {"name": _STR, "status": {"enum": ["ok", "failed"]},
                              "user_id": _STR, "status_message": _STR}},
    "UndefinedMethod": {"type": "object", "xml": {"name": "error"},
                        "properties": {"type": {"const": "Undefined method"}, "name": _STR}},
    "RestError": {"type": "object", "required": ["status", "error"],
                  "properties": {"status": {"const": "error"}, "error": _STR}},
}

API = Api(
    title="MOR (Kolmisoft) API",
    description="The XML API (`active_calls_get`, `user_login`, `user_logout`), whose `hash` "
                "is the SHA1 of the hashed parameters and the API secret key, and the X18 "
                "REST service at `/billing/api/v2` (Basic login, then a Bearer token).",
    security_schemes={
        "hash": {"type": "apiKey", "in": "query", "name": "hash"},
        "basic": {"type": "http", "scheme": "basic"},
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    },
    security=("hash",),
    schemas=SCHEMAS,
)


def _xml(*schemas: Schema) -> dict[str, Schema]:
    one = schemas[0] if len(schemas) == 1 else {"oneOf": list(schemas)}
    return {kind: one for kind in XML_TYPES}


_U = Param("u", description="The user's username")
_TEST = Param("test", schema={"enum": ["0", "1"]}, description="1: inline, not a download")
_FILTERS = tuple(Param(name) for name in (
    "s_server", "s_country", "s_user_id", "s_device", "s_dst_user_id", "s_dst_device",
    "s_destination_group", "s_status", "s_provider", "s_did", "s_destination", "s_source"))


def _xml_op(summary: str, answer: Schema, params: tuple[Param, ...],
            security: tuple[str, ...] | None = None) -> Op:
    # everything, a refusal included, is a 200 XML document
    return Op(summary, {"200": Reply("An XML document", _xml(answer, ref("Status"))),
                        "default": Reply("Refused before any method ran",
                                         _xml(ref("Status")))},
              params=params, security=security,
              body={FORM: {"type": "object", "properties": {p.name: p.schema for p in params},
                           "additionalProperties": _STR}})


def _both(op: Op) -> RouteDoc:
    """MOR reads the same parameters from the query or a form body; any verb reaches them."""
    return RouteDoc({"get": replace(op, body=None), "post": op})


_CALLS = _xml_op("The active calls the user may see", ref("Page"),
                 (_U, Param("hash"), _TEST, *_FILTERS))
_LOGIN = _xml_op("Check a user's password", ref("Action"),
                 (_U, Param("p"), Param("hash"), _TEST), security=())
_LOGOUT = _xml_op("Log out", ref("Action"), (_U, Param("hash"), _TEST))

XML_DOCS: dict[str, RouteDoc] = {
    "/active_calls_get": _both(_CALLS),
    "/user_login": _both(_LOGIN), "/login": _both(_LOGIN),
    "/user_logout": _both(_LOGOUT), "/logout": _both(_LOGOUT),
    "/{method:[^/]*}": FALLBACK, "": FALLBACK,
}

_REST_ERR = Reply("`{\"status\":\"error\",\"error\":...}`", {JSON: ref("RestError")})
_SWITCH = Reply("The switch could not hang up (502) or is not connected (503)",
                {JSON: ref("RestError")})
_DROP_ALL = RouteDoc({"delete": Op("Hang up every call the user may see", {
    "200": Reply("Hung up", {JSON: {"type": "object", "required": ["status", "hung_up_calls"],
                                    "properties": {"status": {"const": "hung_up"},
                                                   "hung_up_calls": {"type": "integer"},
                                                   "hung_up_call_ids": {"type": "array"},
                                                   "hung_up_at": _STR}}}),
    "502": _SWITCH, "503": _SWITCH, "default": _REST_ERR}, security=("bearer",))})

REST_DOCS: dict[str, RouteDoc] = {
    "/v2/authentication/login": RouteDoc({"post": Op("A 15-minute token", {
        "200": Reply("The token", {JSON: {
            "type": "object", "required": ["token", "token_type", "expires_in", "expires_at"],
            "properties": {"token": _STR, "token_type": {"const": "Bearer"},
                           "expires_in": {"type": "integer"}}}}),
        "default": _REST_ERR}, security=("basic",))}),
    "/v2/active_calls/{id}": RouteDoc({"delete": Op("Hang up one call by its id", {
        "200": Reply("Hung up", {JSON: {"type": "object", "required": ["status"],
                                        "properties": {"status": {"const": "hung_up"}}}}),
        "502": _SWITCH, "503": _SWITCH, "default": _REST_ERR}, security=("bearer",))}),
    "/v2/active_calls": _DROP_ALL,
    "/v2/active_calls/": _DROP_ALL,
    "/v2/{tail:.*}": FALLBACK,
}
