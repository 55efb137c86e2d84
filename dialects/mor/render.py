"""MOR's XML documents, as its Ruby Builder writes them: UTF-8 declaration, 2-space indent, nil
values as self-closing tags, and HTTP 200 whatever happened (clients read the body, not the code).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from aiohttp import web
from lxml import etree  # type: ignore[import-untyped]

from .settings import MorSettings

DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
#: Characters XML 1.0 cannot carry; a caller name from a switch may hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

Fields = Sequence[tuple[str, object]]


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return _NOT_XML.sub("", str(value))


def element(tag: str, fields: Fields) -> etree._Element:
    el = etree.Element(tag)
    for name, value in fields:
        etree.SubElement(el, name).text = _text(value)
    return el


def serialize(root: etree._Element) -> bytes:
    return DECLARATION + etree.tostring(root, pretty_print=True, encoding="UTF-8",
                                        xml_declaration=False)


def filter_error(message: str) -> bytes:
    """Raised by a request filter (before the method runs): a bare `<status>` root."""
    return serialize(element("status", [("error", message)]))


def page_status(kind: str, message: str) -> bytes:
    """Raised inside a method (`error`) or an empty result (`message`): wrapped in `<page>`."""
    page = etree.Element("page")
    page.append(element("status", [(kind, message)]))
    return serialize(page)


def page_error(message: str) -> bytes:
    return page_status("error", message)


def undefined_method(name: str) -> bytes:
    return serialize(element("error", [("type", "Undefined method"), ("name", name)]))


def action(name: str, fields: Fields) -> bytes:
    return serialize(element("action", [("name", name), *fields]))


def active_calls(rows: Iterable[Fields]) -> bytes:
    page = etree.Element("page")
    for row in rows:
        page.append(element("active_call", row))
    if len(page) == 0:
        return page_status("message", "No data found...")
    return serialize(page)


def fragment(tag: str, fields: Fields) -> bytes:
    """`element` as compact XML, for a list to cache per call and parse back in one go."""
    return etree.tostring(element(tag, fields), encoding="UTF-8")


#: Our own fragments only (no entities, no network); a list of every call may exceed 10 MB.
_PARSER = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True)


def active_calls_of(fragments: Sequence[bytes], timed: Sequence[tuple[int, int, str]]) -> bytes:
    """`active_calls` from cached `<active_call>` fragments: one parse, then the per-request
    texts (`timed`: call position, child position, text) set before lxml pretty-prints it
    exactly as it prints a page built element by element."""
    if not fragments:
        return page_status("message", "No data found...")
    page = etree.fromstring(b"<page>" + b"".join(fragments) + b"</page>", _PARSER)
    for call, child, text in timed:
        page[call][child].text = text
    return serialize(page)


def respond(body: bytes, opts: MorSettings | None, inline: bool = False) -> web.Response:
    """MOR sends every answer as a download (`send_data`) unless `test=1` asks for it inline;
    `XML API Extension` only switches the MIME type."""
    xml = opts is not None and opts.xml_api_extension
    headers = {"Content-Type": "text/xml" if xml else "text/html"}
    if not inline:
        ext = "xml" if xml else "html"
        headers["Content-Disposition"] = f'attachment; filename="mor_api_response.{ext}"'
        headers["Content-Transfer-Encoding"] = "binary"
    return web.Response(body=body, status=200, headers=headers)
