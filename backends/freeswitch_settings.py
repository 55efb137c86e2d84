"""The keys only a FreeSWITCH backend reads, from its `[[backends]]` table (type "freeswitch").

The core parses what every backend shares (name, host, port, timeouts...) and hands the same
table here, so adding a switch adds no code to the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.config import Section

DEFAULT_PORT = 8021  # mod_event_socket
#: Where recordings go when a command names no file (relative paths would land in the
#: switch's working directory).
DEFAULT_RECORDINGS_DIR = "/var/lib/callgate/recordings"


@dataclass(frozen=True, slots=True)
class FreeSwitchOptions:
    password: str = field(default="", repr=False)  # the event socket password


def parse(sec: Section) -> FreeSwitchOptions:
    options = FreeSwitchOptions(password=sec.secret("password", ""))
    if not options.password:
        sec.error("password", "required (or password_env)")
    return options
