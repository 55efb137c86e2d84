"""OpenAPI 3.1 documents built from the routes a dialect registered, never written beside them.

Each dialect attaches a `RouteDoc` to the `Endpoint` of every path it routes (through
`add_endpoints(..., docs=...)`); `document()` walks the dialect's mounted sub-applications,
reads each route's path template (path parameters come from it) and the doc on its endpoint,
and writes the paths. A route whose endpoint carries no doc is reported by `undocumented()`
(the tests fail on any), and a catch-all the platform answers with its 404 is marked `FALLBACK`
so it is known and left out of the document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Schema = dict[str, Any]

#: OpenAPI's operation keys; other verbs an endpoint may accept cannot be described.
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


@dataclass(frozen=True, slots=True)
class Param:
    """A query, header or cookie parameter (path parameters come from the route itself,
    unless one is given here to describe it)."""

    name: str
    where: str = "query"
    schema: Schema = field(default_factory=lambda: {"type": "string"})
    required: bool = False
    description: str = ""

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "in": self.where, "schema": self.schema}
        if self.required or self.where == "path":
            out["required"] = True
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True, slots=True)
class Reply:
    """One response: a description and its body schema per media type."""

    description: str
    content: Mapping[str, Schema] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"description": self.description}
        if self.content:
            out["content"] = {kind: {"schema": s} for kind, s in self.content.items()}
        return out


@dataclass(frozen=True, slots=True)
class Op:
    """One method of a path. `replies` maps a status ("200", "4XX", "default") to a Reply."""

    summary: str
    replies: Mapping[str, Reply]
    params: tuple[Param, ...] = ()
    body: Mapping[str, Schema] | None = None  # media type -> schema
    body_required: bool = False
    #: schemes required together; () = none, None = the document's default
    security: tuple[str, ...] | None = None
    description: str = ""

    def spec(self, path_params: Iterable[str], tag: str) -> dict[str, Any]:
        given = {p.name: p for p in self.params}
        params = [given[n].spec() if n in given else Param(n, "path").spec()
                  for n in path_params]
        params += [p.spec() for p in self.params if p.where != "path"]
        out: dict[str, Any] = {"summary": self.summary, "tags": [tag],
                               "responses": {k: r.spec() for k, r in self.replies.items()}}
        if self.description:
            out["description"] = self.description
        if params:
            out["parameters"] = params
        if self.body is not None:
            out["requestBody"] = {"required": self.body_required,
                                  "content": {k: {"schema": s} for k, s in self.body.items()}}
        if self.security is not None:
            out["security"] = [{name: [] for name in self.security}] if self.security else []
        return out


@dataclass(frozen=True, slots=True)
class RouteDoc:
    """The documented methods of one path. `hidden` marks a catch-all that only answers the
    platform's 404/405: documented as such in code, left out of the document."""

    ops: Mapping[str, Op] = field(default_factory=dict)
    hidden: bool = False


FALLBACK = RouteDoc(hidden=True)


@dataclass(frozen=True, slots=True)
class Api:
    """A dialect's document-level facts: title, description, security schemes, the default
    security, and shared schemas (`#/components/schemas/<name>`)."""

    title: str
    description: str = ""
    security_schemes: Mapping[str, Schema] = field(default_factory=dict)
    security: tuple[str, ...] = ()
    schemas: Mapping[str, Schema] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Route:
    """A registered route: its full path template and the endpoint's doc and methods."""

    path: str
    methods: tuple[str, ...]
    doc: RouteDoc | None


def routes(mounts: Mapping[str, web.Application]) -> Iterator[Route]:
    """Every endpoint route of the sub-applications, with its path template (a mounted
    sub-application's routes already carry its prefix). Routes whose handler is not an
    endpoint are not the dialect's resources: skipped."""
    seen: set[tuple[str, int]] = set()
    for app in mounts.values():
        for route in app.router.routes():
            endpoint = getattr(route.handler, "__self__", None)
            if endpoint is None or not hasattr(endpoint, "methods"):
                continue
            info = route.resource.get_info() if route.resource is not None else {}
            template = info.get("formatter", info.get("path", ""))
            key = (template, id(endpoint))
            if key in seen:
                continue
            seen.add(key)
            yield Route(template, tuple(endpoint.methods), getattr(endpoint, "doc", None))


def undocumented(mounts: Mapping[str, web.Application]) -> list[str]:
    """Paths whose endpoint has no doc, or documents a method the endpoint refuses."""
    bad = []
    for r in routes(mounts):
        if r.doc is None:
            bad.append(r.path)
            continue
        allowed = {m.lower() for m in r.methods} | ({"head"} if "GET" in r.methods else set())
        bad += [f"{m.upper()} {r.path}" for m in r.doc.ops if m not in allowed]
    return bad


def document(api: Api, mounts: Mapping[str, web.Application], tag: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the routes under `mounts`."""
    paths: dict[str, dict[str, Any]] = {}
    for r in routes(mounts):
        if r.doc is None or r.doc.hidden or not r.doc.ops:
            continue
        names = _PARAM.findall(r.path)
        path = _PARAM.sub(lambda m: "{" + m.group(1) + "}", r.path) or "/"
        item = paths.setdefault(path, {})
        for method, op in r.doc.ops.items():
            if method in METHODS and method not in item:
                item[method] = op.spec(names, tag)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": api.title, "version": "1.0.0", "description": api.description},
        "paths": dict(sorted(paths.items())),
    }
    components: dict[str, Any] = {}
    if api.schemas:
        components["schemas"] = dict(api.schemas)
    if api.security_schemes:
        components["securitySchemes"] = dict(api.security_schemes)
    if components:
        doc["components"] = components
    if api.security:
        doc["security"] = [{name: [] for name in api.security}]
    return doc


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}
