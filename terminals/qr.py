"""QR codes of boarding credentials (segno): PNG or SVG files, and a block for a text terminal."""

from __future__ import annotations

import io
from pathlib import Path

import segno

# Level M (15% of the code may be damaged) suits paper tickets and phone screens alike; a
# credential of about 300 characters is a version 9-11 code at this level.
ERROR_LEVEL = "m"


def write_qr(credential: str, path: Path, scale: int = 4) -> None:
    """Write the credential's QR code to `path`; the format follows its suffix (.png or .svg)."""
    if path.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"{path}: a QR code is written as .png or .svg")
    segno.make_qr(credential, error=ERROR_LEVEL).save(str(path), scale=scale, border=4)


def qr_block(credential: str) -> str:
    """The QR code as text for a terminal (two modules per character row)."""
    out = io.StringIO()
    segno.make_qr(credential, error=ERROR_LEVEL).terminal(out=out, compact=True)
    return out.getvalue()
