"""MOR parameters from any body a client sends, as Rails reads them: a form, multipart or JSON
body, with the query string winning for the same key (Rails' `request_parameters.merge(
query_parameters)`), for every XML method; a JSON body that cannot be read is MOR's own
filter error, never a trace."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from lxml import etree

from tests.harness import dialect_client

CALLS = "/billing/api/active_calls_get"
ADMIN_HASH = hashlib.sha1(b"admin456789").hexdigest()
PREFIX = b'<?xml version="1.0" encoding="UTF-8"?>\n'


@pytest.fixture
async def api() -> AsyncIterator[TestClient]:
    async with dialect_client() as (_, client):
        yield client


def body_as(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for the client that send `fields` as a `kind` body."""
    if kind == "json":
        return {"data": json.dumps(fields), "headers": {"Content-Type": "application/json"}}
    if kind == "multipart":
        form = FormData()
        for key, value in fields.items():
            form.add_field(key, str(value))
        return {"data": form}
    return {"data": {k: str(v) for k, v in fields.items()}}  # urlencoded


async def xml(resp: Any) -> etree._Element:
    assert resp.status == 200
    body = await resp.read()
    assert body.startswith(PREFIX)
    return etree.fromstring(body)


def error_of(doc: etree._Element) -> tuple[str, str | None]:
    return doc.tag, doc.findtext("error") if doc.tag == "status" else doc.findtext(
        "status/error")


BODIES = ("json", "multipart", "form")


@pytest.mark.parametrize("kind", BODIES)
async def test_active_calls_get_from_the_body(api: TestClient, kind: str) -> None:
    resp = await api.post(CALLS, **body_as(kind, {"u": "admin", "hash": ADMIN_HASH}))
    doc = await xml(resp)
    assert doc.tag == "page" and doc.findtext("status/error") is None  # the list, no error
    resp = await api.post(CALLS, **body_as(kind, {"u": "admin", "hash": "0" * 40}))
    assert error_of(await xml(resp)) == ("status", "Incorrect hash")


async def test_the_laravel_clients_json_post(api: TestClient) -> None:
    """What the `kolmisoft` Laravel package sends: u, p and hash as a JSON object, with a
    charset on the media type."""
    body = json.dumps({"u": "admin", "p": "demo-admin", "hash": ADMIN_HASH})
    resp = await api.post(CALLS, data=body,
                          headers={"Content-Type": "application/json; charset=utf-8"})
    doc = await xml(resp)
    assert doc.tag == "page" and doc.findtext("status/error") is None


@pytest.mark.parametrize("kind", BODIES)
@pytest.mark.parametrize("path", ["/billing/api/user_login", "/billing/api/login"])
async def test_user_login_from_the_body(api: TestClient, kind: str, path: str) -> None:
    doc = await xml(await api.post(path, **body_as(kind, {"u": "bob", "p": "demo-bob"})))
    assert [(c.tag, c.text) for c in doc] == [
        ("name", "login"), ("status", "ok"), ("user_id", "4"),
        ("status_message", "Successfully logged in")]


@pytest.mark.parametrize("kind", BODIES)
@pytest.mark.parametrize("path", ["/billing/api/user_logout", "/billing/api/logout"])
async def test_user_logout_from_the_body(api: TestClient, kind: str, path: str) -> None:
    doc = await xml(await api.post(path, **body_as(kind, {"u": "admin", "hash": ADMIN_HASH})))
    assert [(c.tag, c.text) for c in doc] == [("name", "logout"), ("status", "ok")]


@pytest.mark.parametrize("kind", BODIES)
async def test_the_query_wins_over_the_body(api: TestClient, kind: str) -> None:
    """Rails merges the query string over the body parameters."""
    resp = await api.post(CALLS, params={"u": "admin", "hash": ADMIN_HASH},
                          **body_as(kind, {"u": "mallory", "hash": "0" * 40}))
    doc = await xml(resp)
    assert doc.tag == "page" and doc.findtext("status/error") is None
    resp = await api.post(CALLS, params={"u": "mallory"},
                          **body_as(kind, {"u": "admin", "hash": ADMIN_HASH}))
    assert error_of(await xml(resp)) == ("page", "Access Denied")
    # keys only in the body still count
    resp = await api.post(CALLS, params={"u": "admin"}, **body_as(kind, {"hash": ADMIN_HASH}))
    assert (await xml(resp)).findtext("status/error") is None


async def test_json_values_read_as_form_text(api: TestClient) -> None:
    """Numbers and booleans are the text a form would carry; objects, arrays and null carry
    no parameter (MOR's methods see them as absent)."""
    headers = {"Content-Type": "application/json"}
    body = {"u": "admin", "hash": ADMIN_HASH, "s_user_id": 999999}
    doc = await xml(await api.post(CALLS, data=json.dumps(body), headers=headers))
    assert error_of(doc) == ("page", "Originating User was not found")
    for u in ({"name": "admin"}, ["admin"], None, 1):
        body = {"u": u, "hash": ADMIN_HASH}
        doc = await xml(await api.post(CALLS, data=json.dumps(body), headers=headers))
        assert error_of(doc) == ("page", "Access Denied")
    for top in ("[]", '["u", "admin"]', '"admin"', "1", "null", "   "):
        doc = await xml(await api.post(CALLS, data=top, headers=headers))
        assert error_of(doc) == ("page", "Access Denied")


@pytest.mark.parametrize("body", [
    b'{"u": "admin", "hash": ',  # cut short
    b"{u: admin}",
    b'{"u": "\xff\xfe"}',  # not UTF-8
    b"[" * 3000 + b"]" * 3000,  # deeper than any decoder goes
    b'{"u": ' + b"9" * 5000 + b"}",  # a number longer than Python converts
])
async def test_unreadable_json_is_a_mor_error(api: TestClient, body: bytes,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    resp = await api.post(CALLS, params={"test": "1"}, data=body,
                          headers={"Content-Type": "application/json"})
    assert "Content-Disposition" not in resp.headers  # test=1 from the query is honoured
    doc = await xml(resp)
    assert error_of(doc) == ("status", "Parameters could not be read")
    for record in caplog.records:
        assert record.levelno < logging.ERROR, record.getMessage()
        assert record.exc_info is None
