"""A small SVG chart of a load run: throughput as a share of the echo ceiling, and p50/p99 latency."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

WIDTH, ROW, LEFT, BAR = 760, 34, 90, 260


def write_chart(path: Path, results) -> None:
    height = 70 + ROW * len(results)
    worst_ms = max((r.p99_ms for r in results), default=1.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="13">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-weight="bold">throughput (share of echo ceiling)</text>',
        f'<text x="{LEFT + BAR + 60}" y="22" font-weight="bold">latency ms: p50 (dark) and p99</text>',
    ]
    for n, r in enumerate(results):
        y = 40 + ROW * n
        share = min(r.ratio_to_echo, 1.0)
        p50, p99 = BAR * r.p50_ms / worst_ms, BAR * r.p99_ms / worst_ms
        parts += [
            f'<text x="{LEFT - 8}" y="{y + 16}" text-anchor="end">{escape(r.scenario)}</text>',
            f'<rect x="{LEFT}" y="{y}" width="{BAR}" height="22" fill="#eee"/>',
            f'<rect x="{LEFT}" y="{y}" width="{BAR * share:.1f}" height="22" fill="#9dbfe3"/>',
            f'<text x="{LEFT + 6}" y="{y + 16}" fill="#111">{r.throughput:.0f}/s  {r.ratio_to_echo:.2f}x</text>',
            f'<rect x="{LEFT + BAR + 60}" y="{y}" width="{p99:.1f}" height="22" fill="#f0a060"/>',
            f'<rect x="{LEFT + BAR + 60}" y="{y}" width="{p50:.1f}" height="22" fill="#c05020"/>',
            f'<text x="{LEFT + BAR + 66 + p99:.1f}" y="{y + 16}">{r.p50_ms:.0f} / {r.p99_ms:.0f}</text>',
        ]
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
