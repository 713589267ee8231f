"""The one atomic file write: a key, a certificate or a manifest is either the old file or the new one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .platform import fsync_directory

PRIVATE_MODE = 0o600


def write_atomically(path: Path, data: bytes, mode: int = PRIVATE_MODE) -> None:
    """Write to a new file with `mode` from the start (mkstemp makes it 0600, so a key is never
    readable by others, not even for a moment), fsync it and rename it over `path`: a crash leaves
    the old file or the new one, and no temporary file."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
