"""Everything the call-flow-control dialect keeps for one gateway, in one typed object that its
sub-applications and websocket share (built once in `create_apps`)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from .auth import TokenAuth
from .calls import Calls
from .commands import Commands
from .notify import Notifier
from .peers import Directory
from .render import View
from .settings import CallflowSettings


@dataclass(slots=True)
class CallflowState:
    options: CallflowSettings
    max_body: int  # the gateway's request body limit, read once
    auth: TokenAuth
    calls: Calls  # assignment, transfers: the dialect's own call state
    view: View
    commands: Commands
    notifier: Notifier
    directory: Directory  # peers, channels, users, recordings


STATE = web.AppKey("callflow", CallflowState)
