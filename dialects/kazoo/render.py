"""Channel -> Kazoo 4.3 JSON: the list view (reference 3.1), the detail view with its renamed
keys (3.2), and CSV. Only keys Kazoo emits, never null: absent values are left out."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

from gateway.directory import Directory
from gateway.model import Channel, State
from gateway.render_cache import RenderCache, Ticking, keep_list
from gateway.store import ChannelStore
from gateway.watch import Watch

from .envelope import gregorian, now

#: Column order of the CSV export (the list keys, flat values only).
CSV_COLUMNS = (
    "uuid", "answered", "direction", "destination", "username", "presence_id",
    "authorizing_id", "authorizing_type", "owner_id", "other_leg", "timestamp", "elapsed_s",
    "caller_id_name", "caller_id_number", "callee_id_name", "callee_id_number",
    "interaction_id", "is_onhold", "is_loopback", "reseller_id",
)


def _reseller_id(directory: Directory, ch: Channel) -> str:
    if not ch.account_id:
        return ""
    reseller = directory.reseller_of(ch.account_id)
    return reseller.id if reseller is not None else ""


def _common(ch: Channel, directory: Directory, at: float) -> dict[str, Any]:
    created = ch.created or at
    out: dict[str, Any] = {
        "answered": ch.answered,
        "destination": ch.destination,
        "username": ch.username.lower(),
        "presence_id": ch.presence_id,
        "authorizing_id": ch.authorizing_id,
        "authorizing_type": ch.authorizing_type,
        "owner_id": ch.owner_id,
        "timestamp": gregorian(created),
        "caller_id_name": ch.caller_id_name,
        "caller_id_number": ch.caller_id_number,
        "callee_id_name": ch.callee_name,
        "callee_id_number": ch.callee_number,
        "is_loopback": ch.name.startswith("loopback/"),
        "reseller_id": _reseller_id(directory, ch),
    }
    if ch.authorizing_id:
        out["channel_authorized"] = True
    return out


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v != "" and v is not None}


def _elapsed(ch: Channel, at: float) -> int:
    return max(0, int(at - (ch.created or at)))


def _list_static(ch: Channel, directory: Directory, at: float) -> dict[str, Any]:
    """Everything but `elapsed_s`; `at` matters only to a channel without a creation time."""
    out = _common(ch, directory, at)
    out.update(
        uuid=ch.id,
        direction=ch.direction,
        other_leg=ch.other_leg,
        interaction_id=ch.call_id,
        is_onhold=ch.held or ch.state is State.HELD,
    )
    return _drop_empty(out)


def _detail_static(ch: Channel, directory: Directory, at: float) -> dict[str, Any]:
    """Everything but `elapsed_seconds` (as `_list_static`)."""
    out = _common(ch, directory, at)
    out.update(
        call_id=ch.id,
        call_direction=ch.direction,
        other_leg_call_id=ch.other_leg,
        call_interaction_id=ch.call_id,
        is_on_hold=ch.held or ch.state is State.HELD,
    )
    # custom_channel_vars keeps the inner keys cb_channels strips from the top level
    out["custom_channel_vars"] = _drop_empty({
        "account_id": ch.account_id,
        "authorizing_id": ch.authorizing_id,
        "authorizing_type": ch.authorizing_type,
        "owner_id": ch.owner_id,
        "presence_id": ch.presence_id,
        "reseller_id": out["reseller_id"],
        "realm": ch.realm.lower(),
        "username": ch.username.lower(),
        "call_interaction_id": ch.call_id,
        "channel_authorized": True if ch.authorizing_id else None,
    })
    return _drop_empty(out)


#: Where `_fragments` cuts an item: `"elapsed_s": 0` can only be that key, as quotes inside
#: JSON strings are escaped.
_ELAPSED_KEY = '"elapsed_s": '
_ELAPSED_MARK = _ELAPSED_KEY + "0"


def _fragments(static: dict[str, Any], pretty: bool) -> tuple[str, str]:
    """A list item as the envelope's `json.dumps(sort_keys=True)` writes it inside `data`
    (pretty: indented two levels deep), cut around the value of `elapsed_s`, so a list
    re-encodes nothing but that number."""
    text = json.dumps({**static, "elapsed_s": 0}, indent=2 if pretty else None, sort_keys=True)
    if pretty:  # raw newlines are only indentation: strings escape theirs
        text = text.replace("\n", "\n    ")
    pre, _, post = text.partition(_ELAPSED_MARK)
    return pre + _ELAPSED_KEY, post


class Items:
    """The time-independent part of each channel's list and detail item, rendered once per
    channel version; replies are serialized with sorted keys, so adding the elapsed time
    last changes no byte. (Shared dicts: callers copy before adding anything.) `list_json`
    and `list_pretty` hold the list item already serialized, as `_fragments`."""

    __slots__ = ("accounts", "detail", "list", "list_json", "list_pretty", "store")

    def __init__(self, store: ChannelStore, directory: Directory) -> None:
        self.store = store
        #: (account id, pretty) -> an account's whole list as a template (`account_json`)
        self.accounts: dict[tuple[str, bool], _Template] = {}
        # a channel without a creation time shows the request time: those bypass the cache
        self.list = RenderCache(lambda ch: _list_static(ch, directory, 0.0), store)
        self.detail = RenderCache(lambda ch: _detail_static(ch, directory, 0.0), store)
        self.list_json = RenderCache(lambda ch: _fragments(self.list.get(ch), False), store)
        self.list_pretty = RenderCache(lambda ch: _fragments(self.list.get(ch), True), store)


def list_item(ch: Channel, directory: Directory, at: float | None = None,
              items: Items | None = None) -> dict[str, Any]:
    at = now() if at is None else at
    if items is not None and ch.created:
        static = items.list.get(ch)
    else:
        static = _list_static(ch, directory, at)
    return {**static, "elapsed_s": _elapsed(ch, at)}


def detail(ch: Channel, directory: Directory, at: float | None = None,
           items: Items | None = None) -> dict[str, Any]:
    at = now() if at is None else at
    if items is not None and ch.created:
        static = items.detail.get(ch)
    else:
        static = _detail_static(ch, directory, at)
    return {**static, "elapsed_seconds": _elapsed(ch, at)}


def listing(channels: Iterable[Channel], directory: Directory,
            items: Items | None = None) -> list[dict[str, Any]]:
    """Channels must be unique by id, as every store index yields them."""
    at = now()
    return [list_item(ch, directory, at, items) for ch in channels]


def listing_json(channels: Iterable[Channel], directory: Directory, items: Items | None,
                 pretty: bool) -> str:
    """`listing` serialized as the envelope's `json.dumps(sort_keys=True)` writes its `data`
    (pretty: `indent=2`), byte for byte, from the cached fragments of each item. Per item
    there is one cache lookup and the elapsed seconds (`_elapsed`, inlined: this loop is
    most of a list request); the pieces are joined once."""
    at = now()
    get = None if items is None else (items.list_pretty if pretty else items.list_json).get
    sep = ",\n    " if pretty else ", "
    parts: list[str] = []
    extend = parts.extend
    for ch in channels:
        created = ch.created
        if get is not None and created:
            pre, post = get(ch)
            elapsed = int(at - created)
            extend((sep, pre, str(elapsed if elapsed > 0 else 0), post))
        else:
            pre, post = _fragments(_list_static(ch, directory, at), pretty)
            extend((sep, pre, str(_elapsed(ch, at)), post))
    if not parts:
        return "[]"
    parts[0] = "[\n    " if pretty else "["
    parts.append("\n  ]" if pretty else "]")
    return "".join(parts)


class _Template:
    """An account's list as `listing_json` writes it, cut around each item's elapsed seconds,
    with the store watch on the account's bucket and legs it was made from."""

    __slots__ = ("page", "watch")

    def __init__(self, page: Ticking[bytes], watch: Watch) -> None:
        self.page = page
        self.watch = watch


def account_json(key: str, bucket: Mapping[str, Channel], directory: Directory, items: Items,
                 pretty: bool) -> str | bytes:
    """`listing_json` of an index bucket (an account's legs), kept whole as a template while
    the store's watch on the bucket and its legs stays fresh (gateway/watch.py): per request,
    one flag read, and the elapsed seconds written between the static parts when one of them
    has ticked. An item rests on its channel alone (and the directory, fixed for the gateway's
    life), so the legs and the bucket's membership are all it depends on. The template is kept
    as UTF-8, so a poll copies the page once; a list that cannot be kept comes as text."""
    memo = items.accounts.get((key, pretty))
    if memo is None or not memo.watch.fresh:
        channels = list(bucket.values())
        if not channels or not all(ch.created for ch in channels):
            return listing_json(channels, directory, items, pretty)  # the request's clock
        get = (items.list_pretty if pretty else items.list_json).get
        sep = ",\n    " if pretty else ", "
        parts: list[str] = []
        tail = "[\n    " if pretty else "["
        for ch in channels:
            pre, post = get(ch)
            parts.append(tail + pre)
            tail = post + sep
        parts.append(tail[:-len(sep)] + ("\n  ]" if pretty else "]"))
        watch = items.store.watch(Watch(), [ch.id for ch in channels], [("account_id", key)])
        memo = keep_list(items.accounts, (key, pretty), _Template(
            Ticking([p.encode("utf-8") for p in parts], [ch.created for ch in channels]),
            watch))
    return memo.page.page(now())


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore",
                            lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: str(v).lower() if isinstance(v, bool) else v
                         for k, v in row.items()})
    return buf.getvalue()
