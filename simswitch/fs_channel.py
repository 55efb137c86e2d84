"""FreeSWITCH's vocabulary for the simulator: state numbers, causes, event sources, table columns,
and the Channel record (one call leg with everything FreeSWITCH reports about it).

Values mirror the FreeSWITCH 1.11 captures in tests/fixtures/freeswitch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

STATE_NUM = {
    "CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8,
    "CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12, "CS_NONE": 13,
}
CALLSTATE_NUM = {
    "DOWN": 0, "DIALING": 1, "RINGING": 2, "EARLY": 3, "ACTIVE": 4, "HELD": 5,
    "RING_WAIT": 6, "HANGUP": 7, "UNHELD": 8,
}
Q850 = {
    "NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_ANSWER": 19, "NO_USER_RESPONSE": 18,
    "CALL_REJECTED": 21, "ORIGINATOR_CANCEL": 487, "NO_ROUTE_DESTINATION": 3,
    "MANAGER_REQUEST": 16, "PICKED_OFF": 16, "USER_NOT_REGISTERED": 20, "LOSE_RACE": 16,
    "ATTENDED_TRANSFER": 16, "SUBSCRIBER_ABSENT": 20, "INVALID_GATEWAY": 0,
}
# (file, function, line) per event, as reported by FreeSWITCH 1.11.1 in the captures.
CALLING = {
    "API": ("switch_loadable_module.c", "switch_api_execute", "2954"),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", "1569"),
    "CALL_UPDATE": ("switch_channel.c", "switch_channel_flip_cid", "3279"),
    # Not in the captures (the line is unknown): sofia's display update on a bridge.
    "CALL_UPDATE/SEND": ("mod_sofia.c", "sofia_receive_message", "0"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3848"),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1689"),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", "302"),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", "626"),
    "CHANNEL_DATA": ("mod_commands.c", "uuid_dump_function", "6495"),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", "1588"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2949"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "2972"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3447"),
    "CHANNEL_HANGUP_COMPLETE": (
        "switch_core_state_machine.c", "switch_core_session_reporting_state", "943"),
    "CHANNEL_HOLD": ("switch_ivr.c", "switch_ivr_hold", "1558"),
    "CHANNEL_UNHOLD": ("switch_ivr.c", "switch_ivr_unhold", "1611"),
    "CHANNEL_ORIGINATE": ("switch_core_state_machine.c", "switch_core_session_run", "632"),
    "CHANNEL_OUTGOING": (
        "switch_core_session.c", "switch_core_session_outgoing_channel", "768"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "1002"),
    "CHANNEL_PROGRESS": (
        "switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "3507"),
    "CHANNEL_PROGRESS_MEDIA": (
        "switch_channel.c", "switch_channel_perform_mark_pre_answered", "3562"),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", "2409"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1879"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1213"),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", "678"),
    "HEARTBEAT": ("switch_core.c", "send_heartbeat", "95"),
    # Not in the captures: file and function from switch_ivr_async.c, line unknown.
    "RECORD_START": ("switch_ivr_async.c", "record_callback", "0"),
    "RECORD_STOP": ("switch_ivr_async.c", "send_record_stop_event", "0"),
}
# Only these carry variable_* headers (switch_channel_event_set_extended_data).
EXTENDED = frozenset({
    "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_ANSWER", "CHANNEL_PARK",
    "CHANNEL_UNPARK", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DATA",
    "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_DESTROY", "CALL_UPDATE",
    "CHANNEL_HOLD", "CHANNEL_UNHOLD",
})
#: Every event type FreeSWITCH 1.10/1.11 knows (switch_event.c EVENT_NAMES). `event` ignores a
#: word that is none of these (switch_name_event fails), as the switch does.
EVENT_TYPES = frozenset({
    "CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING",
    "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID",
    "API", "LOG", "INBOUND_CHAN", "OUTBOUND_CHAN", "STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH",
    "TALK", "NOTALK", "SESSION_CRASH", "MODULE_LOAD", "MODULE_UNLOAD", "DTMF", "MESSAGE",
    "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT", "PRESENCE_PROBE", "MESSAGE_WAITING",
    "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB", "DETECTED_SPEECH", "DETECTED_TONE",
    "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE", "DEL_SCHEDULE", "EXE_SCHEDULE",
    "RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE", "PHONE_FEATURE_SUBSCRIBE",
    "SEND_MESSAGE", "RECV_MESSAGE", "REQUEST_PARAMS", "CHANNEL_DATA", "GENERAL", "COMMAND",
    "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED", "SERVER_DISCONNECTED", "SEND_INFO", "RECV_INFO",
    "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT", "RECORD_START",
    "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE", "SOCKET_DATA",
    "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY", "CONFERENCE_DATA",
    "CALL_SETUP_REQ", "CALL_SETUP_RESULT", "CALL_DETAIL", "DEVICE_STATE", "TEXT", "ALL",
})


def event_type(word: str) -> str | None:
    """The event type a subscription word names, as switch_name_event resolves it: any case,
    also with a 13-character prefix such as `SWITCH_EVENT_`; None for an unknown word."""
    up = word.upper()
    if up in EVENT_TYPES:
        return up
    if len(up) > 13 and up[13:] in EVENT_TYPES:
        return up[13:]
    return None


PROFILE_KEYS = (
    "Username", "Dialplan", "Caller-ID-Name", "Caller-ID-Number", "Orig-Caller-ID-Name",
    "Orig-Caller-ID-Number", "Callee-ID-Name", "Callee-ID-Number", "Network-Addr", "ANI",
)
PROFILE_KEYS_2 = ("Source", "Transfer-Source", "Context", "RDNIS")
TIME_KEYS = (
    "Channel-Answered-Time", "Channel-Progress-Time", "Channel-Progress-Media-Time",
    "Channel-Hangup-Time", "Channel-Transfer-Time", "Channel-Resurrect-Time",
    "Channel-Bridged-Time", "Channel-Last-Hold", "Channel-Hold-Accum",
)
SHOW_COLUMNS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num",
    "ip_addr", "dest", "application", "application_data", "dialplan", "context", "read_codec",
    "read_rate", "read_bit_rate", "write_codec", "write_rate", "write_bit_rate", "secure",
    "hostname", "presence_id", "presence_data", "accountcode", "callstate", "callee_name",
    "callee_num", "callee_direction", "call_uuid", "sent_callee_name", "sent_callee_num",
    "initial_cid_name", "initial_cid_num", "initial_ip_addr", "initial_dest",
    "initial_dialplan", "initial_context",
)
CALLS_COLUMNS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num",
    "ip_addr", "dest", "presence_id", "presence_data", "accountcode", "callstate",
    "callee_name", "callee_num", "callee_direction", "call_uuid", "hostname",
    "sent_callee_name", "sent_callee_num",
)
B_COLUMNS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num",
    "ip_addr", "dest", "presence_id", "presence_data", "accountcode", "callstate",
    "callee_name", "callee_num", "callee_direction", "sent_callee_name", "sent_callee_num",
)
CARRIER_IP = "203.0.113.10"
PHONE_NET = "192.0.2."


def now_us() -> int:
    return time.time_ns() // 1000


_date_cache: dict[int, tuple[str, str]] = {}


def date_strings(sec: int) -> tuple[str, str]:
    """Local and GMT renderings of one second, cached since every event carries both."""
    got = _date_cache.get(sec)
    if got is None:
        if len(_date_cache) > 64:
            _date_cache.clear()
        got = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sec)),
               time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(sec)))
        _date_cache[sec] = got
    return got


class Channel:
    """One call leg with the state FreeSWITCH reports for it."""

    __slots__ = (
        "answered",
        "app",
        "app_data",
        "attxfer_peer",
        "bridge_owner",
        "call_uuid",
        "callstate",
        "created",
        "dest_after",
        "direction",
        "hangup_cause",
        "held",
        "hit_dialplan",
        "kind",
        "name",
        "on_answer",
        "originator",
        "parked",
        "partner",
        "pending",
        "pending_result",
        "profile",
        "profile_index",
        "realm",
        "recordings",
        "row",
        "state",
        "state_num",
        "timers",
        "times",
        "user",
        "uuid",
        "variables",
    )

    def __init__(self, uid: str, name: str, direction: str, kind: str) -> None:
        self.uuid = uid
        self.name = name
        self.direction = direction
        self.kind = kind  # internal | gateway | external | loopback
        self.state = "CS_NEW"
        self.state_num = 0
        self.callstate = "DOWN"
        self.answered = "ringing"  # Answer-State
        self.hangup_cause = ""
        self.hit_dialplan = "true" if direction == "inbound" else "false"
        self.profile: dict[str, str] = {}
        self.profile_index = 1
        t = now_us()
        self.created = t
        self.times: dict[str, int] = dict.fromkeys(TIME_KEYS, 0)
        self.times["Profile-Created-Time"] = t
        self.variables: dict[str, str] = {}
        self.partner: Channel | None = None  # bridged peer
        self.originator: Channel | None = None  # who originated this leg (Other-Type)
        self.pending: Channel | None = None  # leg being dialled by this one's bridge app
        self.pending_result: asyncio.Future[str] | None = None
        self.on_answer: Callable[[], None] | None = None
        self.dest_after: str = ""
        self.attxfer_peer: Channel | None = None
        self.bridge_owner = False
        self.call_uuid = uid
        self.app = ""
        self.app_data = ""
        self.held = False
        self.parked = False
        self.recordings: dict[str, bool] = {}  # uuid_record path -> masked
        self.timers: list[asyncio.TimerHandle] = []
        self.user = ""
        self.realm = ""
        self.row: dict[str, str] = {}

    @property
    def alive(self) -> bool:
        return not self.hangup_cause

    @property
    def ringing(self) -> bool:
        return self.alive and self.answered in ("ringing", "early")

    def cancel_timers(self) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()
