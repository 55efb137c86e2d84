"""What the simulated FreeSWITCH answers from its tables: `show channels`, `show calls`
(basic_calls) and `uuid_dump`, from the rows the event rules keep.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simswitch.esl_wire import Event, json_object
from simswitch.fs_channel import (
    B_COLUMNS,
    CALLS_COLUMNS,
    SHOW_COLUMNS,
    Channel,
)


class Tables:
    """`show channels`, `show calls` and `uuid_dump` of the model; mixed into SwitchModel."""

    channels: dict[str, Channel]

    if TYPE_CHECKING:  # event building, from EventSource
        def _common(self, name: str, source: str = "") -> list[tuple[str, str]]: ...
        def channel_headers(self, ch: Channel, extended: bool) -> list[tuple[str, str]]: ...

    def row(self, ch: Channel) -> dict[str, str]:
        r = dict(ch.row)
        if ch.alive and ch.state in ("CS_EXECUTE", "CS_EXCHANGE_MEDIA", "CS_CONSUME_MEDIA"):
            r["state"] = ch.state
        return {k: r.get(k, "") for k in SHOW_COLUMNS}

    def show_channels_json(self) -> str:
        rows = [self.row(ch) for ch in self.channels.values()]
        if not rows:
            return '{"row_count": 0}\n'
        body = ",".join(json_object(list(r.items())) for r in rows)
        return f'{{"row_count":{len(rows)},"rows":[{body}]}}'

    def calls_rows(self) -> list[dict[str, str]]:
        """basic_calls: one row per channel that is not the B side of a bridge."""
        out = []
        for ch in self.channels.values():
            peer = ch.partner
            if peer is not None and peer.bridge_owner:
                continue
            base = self.row(ch)
            r = {k: base[k] for k in CALLS_COLUMNS}
            if peer is not None:
                pr = self.row(peer)
                r.update({f"b_{k}": pr[k] for k in B_COLUMNS})
                r["call_created_epoch"] = base["created_epoch"]
            else:
                r.update({f"b_{k}": "" for k in B_COLUMNS})
                r["call_created_epoch"] = ""
            out.append(r)
        return out

    def show_calls_json(self) -> str:
        rows = self.calls_rows()
        if not rows:
            return '{"row_count": 0}\n'
        body = ",".join(json_object(list(r.items())) for r in rows)
        return f'{{"row_count":{len(rows)},"rows":[{body}]}}'

    def show_channels_csv(self) -> str:
        lines = [",".join(SHOW_COLUMNS)]
        lines += [",".join(self.row(ch).values()) for ch in self.channels.values()]
        return "\n".join(lines) + f"\n\n{len(self.channels)} total.\n"

    def dump(self, ch: Channel, fmt: str) -> str:
        h = self._common("CHANNEL_DATA") + self.channel_headers(ch, True)
        if fmt == "json":
            return json_object(h)
        if fmt == "plain":
            return "".join(f"{k}: [{v}]\n" for k, v in h)
        return Event(h).plain_frame().split(b"\n\n", 1)[1].decode()
