"""Kazoo's `metaflows.<module>` JSON schemas (reference 5), as data: what a metaflow's `data`
may hold. Unknown keys are allowed, as in Kazoo's schemas."""

from __future__ import annotations

from typing import Any

_S: dict[str, Any] = {"type": "string"}
_B: dict[str, Any] = {"type": "boolean"}
_I: dict[str, Any] = {"type": "integer"}
_N: dict[str, Any] = {"type": "number"}
_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}


def _obj(required: tuple[str, ...] = (), **props: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    return schema


def _enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


MODULES: dict[str, dict[str, Any]] = {
    "transfer": _obj(target=_S, leg=_S, transfer_type=_enum("attended", "blind"),
                     captures=_STRINGS, timeout=_I, takeback_dtmf=_S, moh=_S, ringback=_S),
    "hangup": _obj(),
    "break": _obj(),
    "resume": _obj(),
    "hold": _obj(moh_aleg=_S, moh_bleg=_S, unhold_key=_S),
    "hold_control": _obj(action=_enum("hold", "unhold", "toggle")),
    "intercept": _obj(target_type=_enum("device", "user", "number"), target_id=_S,
                      auto_answer=_B, can_call_self=_B, unbridged_only=_B),
    "move": _obj(device_id=_S, owner_id=_S, auto_answer=_B, can_call_self=_B,
                 dial_strategy=_enum("simultaneous", "single")),
    "callflow": _obj(id=_S, captures=_STRINGS, collected=_STRINGS, flow={"type": "object"}),
    "play": _obj(id=_S, leg=_enum("self", "peer", "both")),
    "say": _obj(text=_S, type=_S, method=_enum("pronounced", "iterated", "counted"),
                gender=_S, language=_S),
    "tts": _obj(text=_S, voice=_S, engine=_S, language=_S, leg=_S, terminators=_STRINGS),
    "record_call": _obj(
        action=_enum("mask", "unmask", "start", "stop", "toggle"), format=_enum("mp3", "wav"),
        label=_S, media_name=_S, method=_enum("put", "post"), origin=_S,
        record_min_sec=_I, record_on_answer=_B, record_on_bridge=_B,
        record_sample_rate=_I, url=_S,
        time_limit={"type": "integer", "minimum": 1}),
    "audio_level": _obj(action=_enum("start", "stop"),
                        level={"type": "integer", "minimum": -4, "maximum": 4},
                        mode=_enum("read", "write")),
    "sound_touch": _obj(
        action=_enum("start", "stop"),
        adjust_in_octaves={"type": "integer", "minimum": -1, "maximum": 1},
        adjust_in_semitones={"type": "integer", "minimum": -14, "maximum": 14},
        hook_dtmf=_B, pitch=_N, rate=_N, tempo=_N, sending_leg=_B),
    "pivot": _obj(("voice_url",),
                  voice_url={"type": "string", "pattern": "^https?://"},
                  method=_enum("get", "post", "GET", "POST"), req_format=_enum("kazoo", "twiml"),
                  cdr_url=_S, debug=_B),
    "relate": _obj(("conference_id", "participant_id", "other_participant"),
                   conference_id=_S, participant_id=_S, other_participant=_S,
                   relationship=_enum("deaf", "clear", "mute")),
}

#: The metaflow node itself: a module name, its data, and DTMF-keyed children.
NODE: dict[str, Any] = {
    "type": "object",
    "required": ["module"],
    "properties": {
        "module": {"type": "string", "minLength": 1, "maxLength": 64},
        "data": {"type": "object"},
        "children": {"type": "object", "additionalProperties": {"type": "object"}},
    },
}
