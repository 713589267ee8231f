"""The data directory of a Keyun deployment.

keyun.json          format version and shard count (trips are placed by shard count, so it
                    cannot change without moving data)
shards/NNNN/        one owner's directory (see store.py)
"""

from __future__ import annotations

import json
from pathlib import Path

from keyun.engine import codec

MANIFEST = "keyun.json"


class DataDirError(Exception):
    pass


def read_manifest(data_dir: Path) -> dict | None:
    path = data_dir / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataDirError(f"{path} is unreadable: {error}") from None


def recorded_shards(data_dir: Path) -> int | None:
    """The shard count a data directory was created with, or None for a new one."""
    manifest = read_manifest(data_dir)
    return None if manifest is None else manifest.get("shards")


def prepare(data_dir: Path, shards: int) -> bool:
    """Create or check the data directory for `shards` owners; True if it was new."""
    manifest = read_manifest(data_dir)
    if manifest is None:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / MANIFEST
        path.write_text(
            json.dumps({"format": codec.FORMAT_VERSION, "shards": shards}, indent=2) + "\n", encoding="utf-8"
        )
        return True
    check_format(data_dir, manifest)
    if manifest.get("shards") != shards:
        raise DataDirError(
            f"{data_dir} was created with {manifest.get('shards')} shards; start with --shards {manifest.get('shards')}"
        )
    return False


def check_format(data_dir: Path, manifest: dict) -> None:
    """Refuse data of a format this Keyun does not read; for the format before, name the command
    that converts it (engine/codec.py says how formats change)."""
    if manifest.get("format") == codec.FORMAT_VERSION - 1:
        raise DataDirError(
            f"{data_dir} holds data of format {manifest.get('format')}; this Keyun reads format "
            f"{codec.FORMAT_VERSION}: convert it first with `keyun upgrade --data-dir {data_dir}`"
        )
    if manifest.get("format") != codec.FORMAT_VERSION:
        raise DataDirError(
            f"{data_dir} holds data of format {manifest.get('format')}; this Keyun reads format {codec.FORMAT_VERSION}"
        )


def shard_directories(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / "shards").glob("[0-9]" * 4) if p.is_dir())
