"""One route shape for every dialect, after Kazoo crossbar's resource callbacks: the methods a
resource allows, how a request becomes the dialect's context (its principal, parsed body...),
an optional authorization step, and the handler. Adding a resource is adding one `Endpoint`.

Failures are raised, never answered here: `MethodNotAllowed` and the dialect's own exceptions
reach the dialect's error map (gateway/errors.py), which renders them natively.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from aiohttp import web

from .errors import MethodNotAllowed
from .openapi import RouteDoc

C = TypeVar("C")

Auth = Callable[[web.Request], Awaitable[C]]
Authorize = Callable[[C], Awaitable[None]]
Handle = Callable[[web.Request, C], Awaitable[web.StreamResponse]]
MethodOf = Callable[[web.Request, C], str]


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[C]):
    """`methods` allowed; `auth` turns the request into the dialect's context or raises the
    dialect's 401; `authorize` may refuse it (403/404); `handle` answers.

    By default the method is checked first (405 before 401). `auth_first` runs `auth` before
    the method check, for a platform where a bad token wins over a wrong method (crossbar);
    `method_of` then reads the effective method from the context (a tunnelled verb)."""

    methods: tuple[str, ...]
    handle: Handle[C]
    auth: Auth[C]
    authorize: Authorize[C] | None = None
    auth_first: bool = False
    method_of: MethodOf[C] | None = None
    #: what the OpenAPI document says of this path (gateway/openapi.py)
    doc: RouteDoc | None = None

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if self.auth_first:
            context = await self.auth(request)
            method = self.method_of(request, context) if self.method_of else request.method
            self._allow(method)
        else:
            self._allow(request.method)
            context = await self.auth(request)
        if self.authorize is not None:
            await self.authorize(context)
        return await self.handle(request, context)

    def _allow(self, method: str) -> None:
        if method not in self.methods and not (method == "HEAD" and "GET" in self.methods):
            raise MethodNotAllowed(self.methods)


def add_endpoints(app: web.Application,
                  table: Iterable[tuple[str, Endpoint]],  # type: ignore[type-arg]
                  docs: Mapping[str, RouteDoc] | None = None) -> None:
    """Route every method of each path to its endpoint, so the method check (and its native
    405) is the endpoint's, not the router's. `docs` (path -> RouteDoc) is attached to the
    endpoints of those paths, where the OpenAPI document reads it."""
    for path, endpoint in table:
        if docs is not None and path in docs:
            endpoint = replace(endpoint, doc=docs[path])
        # the bound method, which aiohttp recognizes as a coroutine function (an instance
        # with an async __call__ is taken for a deprecated bare function)
        app.router.add_route("*", path, endpoint.__call__)
