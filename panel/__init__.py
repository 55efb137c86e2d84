"""The operator panel: a static page at `/panel/` on the main listener that signs in with a
directory user and shows that user's calls live, through the Webitel dialect (REST `/login` and
`/api/v2/channels`, the engine WebSocket at `/`) and `/healthz`.

The page is plain HTML, CSS and JavaScript shipped in this package: no build step, nothing
loaded from anywhere but the gateway. Two small helpers serve what the Webitel API cannot:
the Webitel login of a bare username (`POST /panel/signin-name`), and which switch node a
channel's FreeSWITCH hostname belongs to (`GET /panel/nodes`).
"""

from __future__ import annotations

from .routes import add_routes

__all__ = ["add_routes", "demo_line"]


def demo_line(base: str) -> str:
    """What `callgate serve --demo` prints about the panel."""
    return (f"  panel: {base}/panel/  (sign in as alice / demo-alice, "
            "or root / demo-admin for every tenant)")
