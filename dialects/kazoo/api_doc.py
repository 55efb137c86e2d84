"""What the OpenAPI document (gateway/openapi.py) says of each crossbar route of routes.py:
the `X-Auth-Token`, the `{"data": ...}` request envelope and crossbar's success and error
envelopes around the channel and directory documents."""

from __future__ import annotations

from dataclasses import replace

from gateway.openapi import FALLBACK, Api, Op, Param, Reply, RouteDoc, Schema, ref

from .actions import POST_ACTIONS
from .metaflow_schemas import MODULES, NODE

JSON = "application/json"
CSV = "text/csv"
_STR = {"type": "string"}
_ENVELOPE = ["auth_token", "node", "request_id", "status", "timestamp", "version"]


def _success(data: Schema) -> Schema:
    return {"type": "object", "required": [*_ENVELOPE, "data"],
            "properties": {"data": data, "status": {"const": "success"},
                           "auth_token": _STR, "request_id": _STR, "node": _STR,
                           "timestamp": _STR, "version": _STR}}


_CHANNEL_PROPS: dict[str, Schema] = {
    "answered": {"type": "boolean"}, "destination": _STR, "username": _STR,
    "presence_id": _STR, "authorizing_id": _STR, "authorizing_type": _STR, "owner_id": _STR,
    "timestamp": {"type": "integer"}, "caller_id_name": _STR, "caller_id_number": _STR,
    "callee_id_name": _STR, "callee_id_number": _STR, "is_loopback": {"type": "boolean"},
    "reseller_id": _STR, "channel_authorized": {"type": "boolean"},
}

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object", "required": [*_ENVELOPE, "error", "message"],
        "properties": {"status": {"const": "error"}, "error": {"type": "string",
                                                               "pattern": "^[0-9]{3}$"},
                       "message": _STR, "data": {}, "auth_token": _STR,
                       "request_id": _STR, "node": _STR, "timestamp": _STR, "version": _STR},
        "description": "Crossbar's error envelope: `error` is the HTTP status as a string.",
    },
    "ListedChannel": {"type": "object", "required": ["uuid", "elapsed_s", "answered"],
                      "properties": {**_CHANNEL_PROPS, "uuid": _STR, "direction": _STR,
                                     "other_leg": _STR, "interaction_id": _STR,
                                     "is_onhold": {"type": "boolean"},
                                     "elapsed_s": {"type": "integer"}}},
    "Channel": {"type": "object", "required": ["call_id", "elapsed_seconds", "answered"],
                "properties": {**_CHANNEL_PROPS, "call_id": _STR, "call_direction": _STR,
                               "other_leg_call_id": _STR, "call_interaction_id": _STR,
                               "is_on_hold": {"type": "boolean"},
                               "elapsed_seconds": {"type": "integer"},
                               "custom_channel_vars": {"type": "object"}}},
    "Doc": {"type": "object", "required": ["id"], "properties": {"id": _STR}},
}

API = Api(
    title="Kazoo crossbar channels API (4.3)",
    description="Crossbar's `/v2` channels, auth and read-only directory resources. Tokens "
                "come from `PUT /v2/user_auth` or `/v2/api_auth`.",
    security_schemes={"token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}},
    security=("token",),
    schemas=SCHEMAS,
)

_ERR = Reply("Crossbar's error envelope (400 validation, 401, 403, 404, 405, 413, 414)",
             {JSON: ref("Error")})
_SWITCH = Reply("The switch refused or could not carry out the action (Kazoo's own 500/503)",
                {JSON: ref("Error")})
_PRETTY = Param("pretty_print", schema={"enum": ["true", "false"]})
_ACCEPT = Param("accept", schema={"enum": ["csv", "json", "text/csv"]})
#: a metaflow node per module, from the schemas the handler validates against
_METAFLOW: Schema = {"oneOf": [
    {**NODE, "required": ["module", "data"],
     "properties": {**NODE["properties"], "module": {"const": name}, "data": schema}}
    for name, schema in sorted(MODULES.items())]}
_ACTION_DATA: Schema = {"type": "object", "required": ["action"], "properties": {
    "action": {"enum": [*sorted(POST_ACTIONS), "metaflow"]},
    "target": _STR, "leg": {"enum": ["self", "bleg", "both"]},
    "transfer_type": {"enum": ["attended", "blind"]}, "id": _STR,
    "target_type": {"enum": ["device", "user", "number"]}, "target_id": _STR,
    "device_id": _STR, "owner_id": _STR, "auto_answer": {"type": "boolean"},
    "can_call_self": {"type": "boolean"}, "unbridged_only": {"type": "boolean"},
    "module": _STR}}
_ACTION_BODY = {JSON: {"type": "object", "required": ["data"],
                       "properties": {"data": {"anyOf": [_ACTION_DATA, _METAFLOW]},
                                      "verb": _STR}}}
_METAFLOW_BODY = {JSON: {"type": "object", "required": ["action", "data"],
                         "properties": {"action": {"const": "metaflow"}, "data": _METAFLOW}}}


def _get(summary: str, data: Schema, *, csv: bool = False) -> Op:
    content = {JSON: _success(data)}
    params: tuple[Param, ...] = (_PRETTY,)
    if csv:
        content[CSV] = {"type": "string"}
        params = (_PRETTY, _ACCEPT)
    return Op(summary, {"200": Reply("OK", content), "default": _ERR}, params=params)


_LIST = {"type": "array", "items": ref("ListedChannel")}
_AUTH_OK = {"201": Reply("A token and the account", {JSON: {
    "allOf": [_success({"type": "object"})], "required": ["auth_token"]}}), "default": _ERR}

_DOCS: dict[str, RouteDoc] = {
    "/user_auth": RouteDoc({"put": Op(
        "A token for a user's md5/sha of `user:password`", _AUTH_OK, security=(),
        body={JSON: {"type": "object", "required": ["data"], "properties": {"data": {
            "type": "object", "required": ["credentials"], "properties": {
                "credentials": {"type": "string", "minLength": 1, "maxLength": 64},
                "method": {"enum": ["md5", "sha"]},
                "account_name": {"type": "string", "minLength": 1, "maxLength": 128},
                "account_realm": {"type": "string", "minLength": 4, "maxLength": 253},
                "phone_number": {"type": "string", "minLength": 1, "maxLength": 64}}}}}})}),
    "/api_auth": RouteDoc({"put": Op(
        "A token for an account's API key", _AUTH_OK, security=(),
        body={JSON: {"type": "object", "required": ["data"], "properties": {"data": {
            "type": "object", "required": ["api_key"], "properties": {
                "api_key": {"type": "string", "minLength": 64, "maxLength": 64}}}}}})}),
    "/token_auth": RouteDoc({
        "get": _get("The token's claims", {"type": "object"}),
        "delete": Op("Revoke the token", {"200": Reply("Revoked", {JSON: _success({})}),
                                          "default": _ERR})}),
    "/channels": RouteDoc({"get": _get("Every channel (superduper admin only)", _LIST,
                                       csv=True)}),
    "/channels/{uuid}": FALLBACK,
    "/accounts/{account_id}/channels": RouteDoc({"get": _get("The account's channels", _LIST,
                                                             csv=True)}),
    "/accounts/{account_id}/channels/{uuid}": RouteDoc({
        "get": _get("One channel", ref("Channel")),
        "post": Op("An action: transfer, hangup, break, callflow, intercept, move, metaflow",
                   {"200": Reply("Initiated", {JSON: _success({"type": "string"})}),
                    "500": _SWITCH, "503": _SWITCH, "default": _ERR},
                   body=_ACTION_BODY, params=(Param("action"),)),
        "put": Op("A metaflow", {"201": Reply("Sent", {JSON: _success({"type": "string"})}),
                                 "500": _SWITCH, "503": _SWITCH, "default": _ERR},
                  body=_METAFLOW_BODY)}),
    "/accounts/{account_id}/users/{user_id}/channels": RouteDoc(
        {"get": _get("A user's devices' channels", _LIST, csv=True)}),
    "/accounts/{account_id}/devices/{device_id}/channels": RouteDoc(
        {"get": _get("A device's channels", _LIST, csv=True)}),
    "/accounts/{account_id}/children": RouteDoc(
        {"get": _get("Child accounts", {"type": "array", "items": ref("Doc")})}),
    "/accounts/{account_id}/users": RouteDoc(
        {"get": _get("Users", {"type": "array", "items": ref("Doc")})}),
    "/accounts/{account_id}/users/{user_id}": RouteDoc({"get": _get("A user", ref("Doc"))}),
    "/accounts/{account_id}/devices": RouteDoc(
        {"get": _get("Devices", {"type": "array", "items": ref("Doc")})}),
    "/accounts/{account_id}/devices/{device_id}": RouteDoc(
        {"get": _get("A device", ref("Doc"))}),
    "/accounts/{account_id}": RouteDoc({"get": _get("The account", ref("Doc"))}),
    "/accounts/{account_id}/{tail:.*}": FALLBACK,
    "": FALLBACK,
    "/{tail:.*}": FALLBACK,
}

#: crossbar echoes a client's request id (else makes one) on every answer
_REQUEST_ID = Param("X-Request-ID", "header",
                    description="Echoed in the answer's X-Request-ID (at most 128 characters)")


def _with_request_id(doc: RouteDoc) -> RouteDoc:
    return replace(doc, ops={m: replace(op, params=(*op.params, _REQUEST_ID))
                             for m, op in doc.ops.items()})


DOCS: dict[str, RouteDoc] = {path: _with_request_id(doc) for path, doc in _DOCS.items()}
