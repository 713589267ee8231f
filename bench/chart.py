"""Small SVG charts of load runs.

write_chart: each scenario's throughput as a share of the echo ceiling, and p50/p99 latency; a
scenario that mixes RPCs gets a latency row for each of them under its own row.
write_timeline: calls answered in each second of a run (bench.day).
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

WIDTH, ROW, LEFT, BAR = 760, 34, 110, 260


def write_chart(path: Path, results) -> None:
    # (label, the scenario's result for a throughput bar or None, p50 ms, p99 ms)
    rows = []
    for r in results:
        rows.append((r.scenario, r, r.p50_ms, r.p99_ms))
        rows += [(rpc, None, figures["p50_ms"], figures["p99_ms"]) for rpc, figures in r.by_rpc.items()]
    height = 70 + ROW * len(rows)
    worst_ms = max((p99 for *_, p99 in rows), default=1.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="sans-serif" font-size="13">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-weight="bold">throughput (share of echo ceiling)</text>',
        f'<text x="{LEFT + BAR + 60}" y="22" font-weight="bold">latency ms: p50 (dark) and p99</text>',
    ]
    for n, (label, r, p50_ms, p99_ms) in enumerate(rows):
        y = 40 + ROW * n
        p50, p99 = BAR * p50_ms / worst_ms, BAR * p99_ms / worst_ms
        if r is not None:
            parts += [
                f'<text x="{LEFT - 8}" y="{y + 16}" text-anchor="end">{escape(label)}</text>',
                f'<rect x="{LEFT}" y="{y}" width="{BAR}" height="22" fill="#eee"/>',
                f'<rect x="{LEFT}" y="{y}" width="{BAR * min(r.ratio_to_echo, 1.0):.1f}" height="22" fill="#9dbfe3"/>',
                f'<text x="{LEFT + 6}" y="{y + 16}" fill="#111">{r.throughput:.0f}/s  {r.ratio_to_echo:.2f}x</text>',
            ]
        else:  # one RPC of the scenario above: latency only
            parts.append(
                f'<text x="{LEFT - 8}" y="{y + 16}" text-anchor="end" font-size="11" fill="#555">{escape(label)}</text>'
            )
        parts += [
            f'<rect x="{LEFT + BAR + 60}" y="{y}" width="{p99:.1f}" height="22" fill="#f0a060"/>',
            f'<rect x="{LEFT + BAR + 60}" y="{y}" width="{p50:.1f}" height="22" fill="#c05020"/>',
            f'<text x="{LEFT + BAR + 66 + p99:.1f}" y="{y + 16}">{p50_ms:.0f} / {p99_ms:.0f}</text>',
        ]
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def write_timeline(path: Path, ended_at_s: list[float], title: str, target_s: float | None = None) -> None:
    """A bar per second of the run (how many calls were answered in it), the run's mean rate as a
    line, and with `target_s` the time the run had to finish by, as a dashed line."""
    per_second = [0] * (int(max(ended_at_s, default=0.0)) + 1)
    for t in ended_at_s:
        per_second[int(t)] += 1
    span_s = max(len(per_second), int(target_s or 0) + 1)
    height, plot_h, bar_w = 260, 180, max(2.0, (WIDTH - LEFT - 20) / span_s)
    top = max(per_second) or 1
    mean = len(ended_at_s) / max(max(ended_at_s), 1e-9) if ended_at_s else 0.0
    mean_y = 40 + plot_h - plot_h * min(mean, top) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="sans-serif" font-size="13">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-weight="bold">{escape(title)}</text>',
        f'<text x="{LEFT - 8}" y="44" text-anchor="end">{top:,}/s</text>',
        f'<text x="{LEFT - 8}" y="{40 + plot_h}" text-anchor="end">0</text>',
        f'<text x="{LEFT}" y="{height - 16}">0 s</text>',
        f'<text x="{LEFT + bar_w * len(per_second):.1f}" y="{height - 16}" text-anchor="middle">'
        f"{len(per_second)} s</text>",
    ]
    for n, count in enumerate(per_second):
        h = plot_h * count / top
        parts.append(
            f'<rect x="{LEFT + n * bar_w:.1f}" y="{40 + plot_h - h:.1f}" width="{bar_w * 0.85:.1f}" height="{h:.1f}" '
            f'fill="#9dbfe3"><title>{n} s: {count:,} calls</title></rect>'
        )
    parts += [
        f'<line x1="{LEFT}" y1="{mean_y:.1f}" x2="{LEFT + bar_w * len(per_second):.1f}" y2="{mean_y:.1f}" '
        'stroke="#c05020" stroke-width="2"/>',
        f'<text x="{LEFT + 4}" y="{mean_y - 5:.1f}" fill="#c05020">mean {mean:,.0f}/s</text>',
    ]
    if target_s is not None:
        x = LEFT + bar_w * target_s
        parts += [
            f'<line x1="{x:.1f}" y1="36" x2="{x:.1f}" y2="{40 + plot_h}" stroke="#333" stroke-dasharray="5,4"/>',
            f'<text x="{x - 4:.1f}" y="{height - 16}" text-anchor="end">target {target_s:.0f} s</text>',
        ]
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
