"""A small progress bar on stderr for long operations (backup, restore, verify, replay)."""

from __future__ import annotations

import sys
import time

BAR_WIDTH = 30
REDRAW_EVERY_S = 0.1


class Progress:
    """Redraws one line on a terminal; prints only the final line when stderr is not a terminal."""

    def __init__(self, label: str, total: int, unit: str = "", stream=None):
        self.label, self.total, self.unit = label, max(total, 1), unit
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.live = self.stream.isatty()

    def advance(self, amount: int = 1, note: str = "") -> None:
        self.done += amount
        if self.live and time.monotonic() - self.drawn_at >= REDRAW_EVERY_S:
            self._draw(note, end="\r")

    def finish(self, note: str = "") -> None:
        self.done = min(self.done, self.total) if self.done else self.total
        self._draw(note, end="\n")

    def _draw(self, note: str, end: str) -> None:
        self.drawn_at = time.monotonic()
        filled = BAR_WIDTH * min(self.done, self.total) // self.total
        elapsed = time.monotonic() - self.started
        line = (
            f"{self.label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total}{self.unit} "
            f"{elapsed:.1f}s {note}"
        )
        print(line.ljust(100)[:160], end=end, file=self.stream, flush=True)
