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


#: A list page is these two around its `<active_call>` pieces.
PAGE_OPEN = DECLARATION + b"<page>\n"
PAGE_CLOSE = b"</page>\n"
NO_DATA = page_status("message", "No data found...")


def piece(tag: str, fields: Fields) -> bytes:
    """`element(tag, fields)` exactly as lxml pretty-prints it as a child of the document's
    root (indentation depends only on depth), so pieces spliced between `PAGE_OPEN` and
    `PAGE_CLOSE` are byte for byte the page lxml writes for the whole tree."""
    page = etree.Element("page")
    page.append(element(tag, fields))
    text = etree.tostring(page, pretty_print=True, encoding="UTF-8", xml_declaration=False)
    assert text.startswith(b"<page>\n") and text.endswith(PAGE_CLOSE)
    return bytes(text[len(b"<page>\n"):-len(PAGE_CLOSE)])


def split_at(text: bytes, tag: str, value: str) -> tuple[bytes, bytes]:
    """`text` cut around the value of its one `<tag>value</tag>`: (up to and including the
    start tag, from the end tag on). Unambiguous because `<` in any text is escaped."""
    mark = f"<{tag}>{value}</{tag}>".encode()
    head, found, tail = text.partition(mark)
    if not found:
        raise ValueError(f"no {mark!r} to split at")
    return head + f"<{tag}>".encode(), f"</{tag}>".encode() + tail


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
