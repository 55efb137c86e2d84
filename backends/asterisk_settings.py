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


#: (extension attribute of AsteriskOptions, what it does): what the backend Redirects channels
#: to, in `hold_context`; checked with ShowDialPlan at connect time.
REQUIRED_EXTENSIONS = (("hold_extension", "music on hold: hold, and the partner of a one-leg play"),
                       ("playback_extension", "plays ${PLAYBACK_MEDIA}: play"))


def required_extensions(options: AsteriskOptions) -> list[str]:
    """The extension names the backend needs in `hold_context`, in REQUIRED_EXTENSIONS order."""
    return [getattr(options, attr) for attr, _ in REQUIRED_EXTENSIONS]


def dialplan_snippet(options: AsteriskOptions) -> str:
    """The `extensions.conf` lines the backend needs: `callgate asterisk-dialplan` prints them.

    Hold redirects a channel into music on hold and sends it back (to its bridge partner, or
    to the context/extension/priority it was at); play sets PLAYBACK_MEDIA and redirects the
    listener to the playback extension, which then waits to be sent back."""
    moh, playback = options.hold_extension, options.playback_extension
    return (
        f"; callgate: the extensions the Asterisk backend redirects channels to\n"
        f"[{options.hold_context}]\n"
        f"exten => {moh},1,Answer()\n"
        f" same => n,MusicOnHold(default)\n"
        f"exten => {playback},1,Answer()\n"
        f" same => n,Playback(${{PLAYBACK_MEDIA}})\n"
        f" same => n,Wait(3600)\n"
    )
