"""The keys only an Asterisk backend reads, from its `[[backends]]` table (type "asterisk").

The core parses what every backend shares (name, host, port, timeouts...) and hands the same
table here, so adding a switch adds no code to the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.config import Section

DEFAULT_PORT = 5038  # AMI
DEFAULT_RECORDINGS_DIR = ""  # MixMonitor's own monitor directory


@dataclass(frozen=True, slots=True)
class AsteriskOptions:
    username: str = ""  # the manager.conf user
    secret: str = field(default="", repr=False)
    hold_context: str = "default"  # where the music-on-hold extension lives
    hold_extension: str = "moh"
    playback_extension: str = "playback"  # plays ${PLAYBACK_MEDIA}, in hold_context
    trunks: tuple[str, ...] = ()  # PJSIP endpoints that are carriers, not phones


def parse(sec: Section) -> AsteriskOptions:
    options = AsteriskOptions(
        username=sec.str("username", ""),
        secret=sec.secret("secret", ""),
        hold_context=sec.str("hold_context", "default"),
        hold_extension=sec.str("hold_extension", "moh"),
        playback_extension=sec.str("playback_extension", "playback"),
        trunks=sec.strings("trunks"),
    )
    if not (options.username and options.secret):
        sec.error("secret" if options.username else "username",
                  "required for an asterisk backend")
    return options
