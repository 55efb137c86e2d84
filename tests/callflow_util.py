"""What call-flow-control tests share: the dialect's state as the running app holds it."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

from dialects.callflow.state import STATE, CallflowState
from tests.harness import Live


def callflow_state(where: Live | TestClient) -> CallflowState:
    """The `CallflowState` of the dialect mounted on the served application."""
    client = where.client if isinstance(where, Live) else where
    app = client.app
    assert app is not None
    for resource in app.router.resources():
        sub = resource.get_info().get("app")
        if isinstance(sub, web.Application) and STATE in sub:
            return sub[STATE]
    raise LookupError("call-flow-control is not mounted")
