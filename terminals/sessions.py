"""The session `keyun login` keeps for later commands: its tokens in a file only the user reads.

One file per server under ~/.config/keyun/sessions (or the file KEYUN_SESSION names).  The refresh
token in it is a credential: the file is created with mode 0600 where the platform has modes, and
`keyun logout` ends the session on the server before removing it.  Idle sessions end on the server
whatever the file says.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path


def path_for(server: str) -> Path:
    named = os.environ.get("KEYUN_SESSION")
    if named:
        return Path(named)
    return Path.home() / ".config" / "keyun" / "sessions" / (re.sub(r"[^A-Za-z0-9_.-]", "_", server) + ".json")


def save(server: str, access_token: str, refresh_token: str) -> Path:
    path = path_for(server)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump({"server": server, "access_token": access_token, "refresh_token": refresh_token}, file)
    os.replace(temporary, path)
    return path


def load(server: str) -> tuple[str, str] | None:
    """The saved tokens for `server`, or None (no file, another server's, or unreadable)."""
    try:
        saved = json.loads(path_for(server).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("server") != server:
        return None
    return str(saved.get("access_token", "")), str(saved.get("refresh_token", ""))


def forget(server: str) -> None:
    path = path_for(server)
    if load(server) is not None:
        path.unlink(missing_ok=True)
