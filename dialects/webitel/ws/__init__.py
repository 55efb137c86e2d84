"""The engine's WebSocket API (engine v3): `exec-*` envelopes, `auth`, call control and the
`SE:*` channel events, served at `/` of the listener that serves Webitel."""
