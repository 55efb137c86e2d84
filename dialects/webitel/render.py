"""A channel as a row of FreeSWITCH's `show channels` (the 38 columns of its `channels` table,
in table order, every value a string), for FreeSWITCH and Asterisk channels alike.

FreeSWITCH channels carry the switch's own columns in the model (switch_state, callstate,
hostname, initial tuple...). For Asterisk channels the same columns are derived from the
normalized fields, so a Webitel client cannot tell which switch holds the call.
"""

from __future__ import annotations

import json
import time

from gateway.model import Channel, State

COLUMNS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num",
    "ip_addr", "dest", "application", "application_data", "dialplan", "context", "read_codec",
    "read_rate", "read_bit_rate", "write_codec", "write_rate", "write_bit_rate", "secure",
    "hostname", "presence_id", "presence_data", "accountcode", "callstate", "callee_name",
    "callee_num", "callee_direction", "call_uuid", "sent_callee_name", "sent_callee_num",
    "initial_cid_name", "initial_cid_num", "initial_ip_addr", "initial_dest",
    "initial_dialplan", "initial_context",
)

#: bits per second of FreeSWITCH's codec implementations, where they do not depend on the rate.
_BIT_RATES = {"PCMU": 64000, "PCMA": 64000, "G722": 64000, "G729": 8000, "GSM": 13200,
              "OPUS": 0, "ILBC": 13330, "SPEEX": 0}
_CALLSTATES = {State.RINGING: "RINGING", State.EARLY: "EARLY", State.ANSWERED: "ACTIVE",
               State.HELD: "HELD", State.PARKED: "ACTIVE", State.HUNGUP: "HANGUP"}


def bit_rate(codec: str, rate: str) -> str:
    if not codec:
        return ""
    name = codec.upper()
    if name == "L16":
        return str(int(rate) * 16) if rate.isdigit() else "0"
    return str(_BIT_RATES.get(name, 0))


def created_local(epoch: int) -> str:
    """FreeSWITCH's `created`: the switch's local time, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def switch_state(ch: Channel) -> str:
    """CS_* as FreeSWITCH reports it; for other switches, what FreeSWITCH would be doing with
    such a leg (a dialled leg waits in CONSUME_MEDIA, then EXCHANGE_MEDIA once bridged; the
    calling leg executes its dialplan application)."""
    if ch.switch_state.startswith("CS_"):
        return ch.switch_state
    if ch.state is State.HUNGUP:
        return "CS_HANGUP"
    if ch.direction == "outbound":
        if not ch.answered:
            return "CS_CONSUME_MEDIA"
        return "CS_EXCHANGE_MEDIA" if ch.bridged else "CS_EXECUTE"
    return "CS_EXECUTE"


def callstate(ch: Channel) -> str:
    """FreeSWITCH's column as it keeps it; for other switches, from the normalized state."""
    if ch.switch_state.startswith("CS_"):
        return ch.callstate
    return ch.callstate or _CALLSTATES[ch.state]


def _initial(ch: Channel, dialplan: str, context: str) -> tuple[str, ...]:
    """FreeSWITCH's initial_* columns as kept; other switches' legs start from what they know
    (Asterisk has no dialplan type nor remote address in its first event)."""
    if ch.switch_state.startswith("CS_") and len(ch.initial) == 6:
        return ch.initial
    if len(ch.initial) == 6:
        name, num, ip, dest, plan, ctx = ch.initial
        return (name, num, ip, dest, plan or dialplan, ctx or context)
    return (ch.caller_id_name, ch.caller_id_number, ch.ip_addr, ch.destination, dialplan,
            context)


def row(ch: Channel, presence_realm: str = "") -> dict[str, str]:
    """One `show channels` row. `presence_realm` supplies `presence_id` for a switch that has
    none (FreeSWITCH's is `<user>@<domain>` of the phone)."""
    epoch = int(ch.created)
    dialplan = ch.dialplan or "XML"
    context = ch.context or "default"
    presence_id = ch.presence_id
    if not presence_id and ch.username and presence_realm:
        presence_id = f"{ch.username}@{presence_realm}"
    initial = _initial(ch, dialplan, context)
    values = (
        ch.id, ch.direction, created_local(epoch), str(epoch), ch.name, switch_state(ch),
        ch.caller_id_name, ch.caller_id_number, ch.ip_addr, ch.destination, ch.application,
        ch.application_data, dialplan, context, ch.read_codec, ch.read_rate,
        bit_rate(ch.read_codec, ch.read_rate), ch.write_codec, ch.write_rate,
        bit_rate(ch.write_codec, ch.write_rate), ch.secure, ch.hostname or ch.node,
        presence_id, ch.presence_data, ch.accountcode, callstate(ch),
        ch.callee_name, ch.callee_number, ch.callee_direction,
        ch.call_id if ch.bridged else "",  # set by CHANNEL_BRIDGE
        ch.sent_callee_name, ch.sent_callee_number,
        *initial,
    )
    return dict(zip(COLUMNS, values, strict=True))


def row_json(ch: Channel, presence_realm: str = "") -> str:
    """One row as `reply` writes it: a row is fixed while its channel is unchanged (no column
    depends on the clock), so lists cache this text and join it."""
    return json.dumps(row(ch, presence_realm), separators=(",", ":"), ensure_ascii=False)


def listing_json(rows: list[str], envelope: bool) -> str:
    """`show channels as json` (with the `rows: []` the engine's ESL library added to an empty
    answer; the seed wraps it in `{"status":"OK","data":...}`), joined from rows already
    serialized by `row_json`, byte for byte as `reply` writes the whole document."""
    data = f'{{"row_count":{len(rows)},"rows":[{",".join(rows)}]}}'
    return f'{{"status":"OK","data":{data}}}' if envelope else data
