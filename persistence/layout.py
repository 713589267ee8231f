"""The data directory of a Keyun deployment.

keyun.json          format version and shard count (trips are placed by shard count, so it
                    cannot change without moving data); "keys": the fingerprint of the station's
                    keys this data is encrypted with, and the key directory they were last in
shards/NNNN/        one owner's directory (see store.py)
"""

from __future__ import annotations

import json
from pathlib import Path

from keyun.common.files import write_atomically
from keyun.engine import codec

MANIFEST = "keyun.json"
OWNER_DIRECTORIES = ("shards", "accounts", "audit")


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


def default_key_dir(data_dir: Path) -> Path:
    """Beside the data directory, never inside it: a copied data dir or backup reveals nothing."""
    data_dir = data_dir.resolve()
    return data_dir.parent / f"{data_dir.name}-keys"


def recorded_keys(data_dir: Path) -> dict | None:
    """{"fingerprint", "dir"} of the keys the data directory was made with; None if new, or made
    by a Keyun that did not record them."""
    manifest = read_manifest(data_dir)
    keys = None if manifest is None else manifest.get("keys")
    return keys if isinstance(keys, dict) and isinstance(keys.get("fingerprint"), str) else None


def record_keys(data_dir: Path, fingerprint: str, key_dir: Path) -> None:
    """Note in keyun.json which keys encrypt this data directory, and where they are now."""
    manifest = read_manifest(data_dir) or {}
    keys = {"fingerprint": fingerprint, "dir": str(key_dir.resolve())}
    if manifest.get("keys") != keys:
        write_atomically(data_dir / MANIFEST, (json.dumps({**manifest, "keys": keys}, indent=2) + "\n").encode(), 0o644)


def holds_data(data_dir: Path) -> bool:
    """Whether an owner ever stored anything here (a keyun.json alone is a start that got no further)."""
    return read_manifest(data_dir) is not None and any((data_dir / name).exists() for name in OWNER_DIRECTORIES)


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
