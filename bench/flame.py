"""Profiles as collapsed stacks ("frame;frame;frame count" lines, py-spy's raw format): a summary
table of the functions taking the most samples, and an SVG icicle chart (callers above callees,
widths by samples; hover a box for its full name)."""

from __future__ import annotations

import re
import zlib
from collections import Counter
from pathlib import Path
from xml.sax.saxutils import escape

WIDTH, ROW, MIN_PX = 1200, 17, 1.0
LINE_NUMBER = re.compile(r":\d+\)$")
# py-spy --nonblocking reads the process's memory while it runs, and now and then reads a frame's
# name half-changed: control characters or bytes that are not UTF-8, which no SVG may contain.
TORN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def read_stacks(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in TORN.sub("\ufffd", path.read_text(encoding="utf-8", errors="replace")).splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():  # "func (file.py:123)" → "func (file.py)": one box per function
            stacks.append(([LINE_NUMBER.sub(")", frame) for frame in frames.split(";")], int(count)))
    return stacks


def top_functions(stacks: list[tuple[list[str], int]], limit: int = 25) -> tuple[int, list[tuple[str, int, int]]]:
    """(total samples, [(function, self samples, inclusive samples)]) by inclusive samples."""
    own, inclusive, total = Counter(), Counter(), 0
    for frames, count in stacks:
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return total, [(name, own[name], n) for name, n in inclusive.most_common(limit)]


def write_flame(path: Path, stacks: list[tuple[list[str], int]], title: str) -> None:
    tree: dict = {}
    for frames, count in stacks:
        node = tree
        for frame in frames:
            child = node.setdefault(frame, [0, {}])
            child[0] += count
            node = child[1]
    total = sum(count for _, count in stacks) or 1
    boxes: list[str] = []
    depth_max = 0

    def draw(children: dict, x: float, depth: int) -> None:
        nonlocal depth_max
        for name, (count, grandchildren) in sorted(children.items()):
            width = WIDTH * count / total
            if width >= MIN_PX:
                depth_max = max(depth_max, depth)
                y = 30 + depth * ROW
                hue = 20 + zlib.crc32(name.split(" (")[-1].encode()) % 40  # stable colour per file
                label = escape(name.split(" (")[0][: int(width / 7)])  # cut, then escape: never half an entity
                boxes.append(
                    f"<g><title>{escape(name)}: {count} samples, {100 * count / total:.1f} %</title>"
                    f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{ROW - 1}" fill="hsl({hue},80%,62%)"/>'
                    f'<text x="{x + 3:.1f}" y="{y + 12}">{label}</text></g>'
                )
                draw(grandchildren, x, depth + 1)
            x += width

    draw(tree, 0.0, 0)
    height = 40 + (depth_max + 1) * ROW
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="monospace" font-size="11">\n'
        '<rect width="100%" height="100%" fill="white"/>'
        f'<text x="4" y="18" font-size="14">{escape(title)} ({total} samples)</text>\n'
        + "\n".join(boxes)
        + "\n</svg>\n",
        encoding="utf-8",
    )
