"""Which logins each user can use, for `check-config`: a user imported with a platform's
password hash instead of the password logs in only where that hash is checked."""

from __future__ import annotations

from .config import Settings


def where(settings: Settings, table: str, index: int) -> str:
    """`users[3]`, or `dir.toml: users[0]` for a row of an included file."""
    rows = settings.origins.get(table)
    if rows and index < len(rows) and rows[index][0] != settings.path:
        file, local = rows[index]
        return f"{file}: {table}[{local}]"
    return f"{table}[{index}]"


def login_notes(settings: Settings) -> list[str]:
    """One line per user without a plaintext password, saying what it can still use."""
    notes = []
    for i, user in enumerate(settings.users):
        if user.password:
            continue
        ways: list[tuple[str, str]] = []
        missing = ["Kazoo", "Webitel", "MOR"]
        if user.md5_auth or user.sha1_auth:
            kinds = "/".join(k for k, v in (("md5", user.md5_auth), ("sha1", user.sha1_auth))
                             if v)
            ways.append(("kazoo user_auth", f"{kinds} hash"))
            missing.remove("Kazoo")
        if user.a1_hash:
            ways.append(("webitel /login as <username>@<realm>", "a1-hash"))
            missing.remove("Webitel")
        if user.password_sha1:
            ways.append(("mor user_login and v2 login", "sha1 of the password"))
            missing.remove("MOR")
        head = f"{where(settings, 'users', i)} ({user.username})"
        if len(ways) == 1:
            notes.append(f"{head}: {ways[0][0]} only ({ways[0][1]}); "
                         f"no {'/'.join(missing)} password")
        elif ways:
            both = " and ".join(f"{way} ({kind})" for way, kind in ways)
            notes.append(f"{head}: {both} only; no {'/'.join(missing)} password")
        else:
            notes.append(f"{head}: no password or hash: no login (tokens and api keys only)")
    return notes
