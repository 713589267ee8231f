"""`keyun announce`: station announcements for the departure boards (docs/board.md)."""

from __future__ import annotations

import argparse
import datetime as dt

from keyun.common.clock import CHINA, SYSTEM_CLOCK
from keyun.v1 import board_pb2

from . import printing
from .cli import _client, _common
from .flows import show, table

KINDS = {"notice": board_pb2.ANNOUNCEMENT_KIND_NOTICE, "weather": board_pb2.ANNOUNCEMENT_KIND_WEATHER}
KINDS["road_closure"] = board_pb2.ANNOUNCEMENT_KIND_ROAD_CLOSURE
KIND_NAMES = {number: name for name, number in KINDS.items()}


def local_time(text: str) -> int:
    """Epoch ms of "YYYY-MM-DD HH:MM" (or "...THH:MM") in Beijing time."""
    try:
        moment = dt.datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a local time like 2026-12-08 18:00") from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=CHINA)).timestamp() * 1000)


def _ends(args: argparse.Namespace) -> int:
    if args.until is not None:
        return int(args.until)
    start = args.starts or SYSTEM_CLOCK.now_ms()
    return start + int(args.hours * 3_600_000)


def announcement_rows(announcements) -> str:
    rows = [
        (
            a.announcement_id,
            KIND_NAMES.get(a.kind, "?"),
            ",".join(a.stations),
            printing.local(a.starts_at),
            printing.local(a.ends_at),
            "withdrawn" if a.HasField("withdrawn_at") else "",
            a.text_zh + (f" / {a.text_en}" if a.text_en else ""),
        )
        for a in announcements
    ]
    return table(("id", "kind", "stations", "starts", "ends", "", "text"), rows, empty="no announcements")


def add_verbs(verbs) -> None:
    announce = verbs.add_parser(
        "announce", help="station announcements on the departure boards: publish, list, withdraw"
    ).add_subparsers(dest="action", required=True)

    p = announce.add_parser("publish", help="publish an announcement (announce permission: dispatchers)")
    p.add_argument("text_zh", help="the text in Chinese (1 to 500 characters)")
    p.add_argument("--en", default="", help="the text in English (optional)")
    p.add_argument("--kind", choices=sorted(KINDS), default="notice")
    p.add_argument("--stations", default="*", help='station codes, comma-separated, or "*" for every station')
    p.add_argument("--starts", type=local_time, help="local time it starts (default: now)")
    p.add_argument("--until", type=local_time, help="local time it ends (default: --hours after it starts)")
    p.add_argument("--hours", type=float, default=4.0, help="how long it runs when --until is not given (default 4)")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(
        run=lambda a: show(
            a,
            n := _client(a).publish_announcement(
                KINDS[a.kind],
                a.text_zh,
                [code.strip() for code in a.stations.split(",") if code.strip()],
                _ends(a),
                text_en=a.en,
                starts_at_ms=a.starts or 0,
                request_id=a.request_id,
            ),
            announcement_rows([n]),
        )
    )

    p = announce.add_parser("list", help="announcements not yet ended nor withdrawn (--all: every one)")
    p.add_argument("--station", default="", help="only those shown at this station")
    p.add_argument("--all", action="store_true", help="ended and withdrawn ones too")
    _common(p)
    p.set_defaults(
        run=lambda a: show(a, found := _client(a).list_announcements(a.station, a.all), announcement_rows(found))
    )

    p = announce.add_parser("withdraw", help="take an announcement off the boards before its end")
    p.add_argument("announcement_id")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(
        run=lambda a: show(
            a, n := _client(a).withdraw_announcement(a.announcement_id, a.request_id), announcement_rows([n])
        )
    )
