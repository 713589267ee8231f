"""`keyun handheld`: lend a seat allotment, sell (offline from the allotment when the gateway cannot
be reached), settle and show the device's journal (terminals/handheld.py, docs/handheld.md).

Log in with the handheld's device account (`--user`, its secret in KEYUN_PASSWORD, or `keyun
login` once while online)."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import handheld as hh
from .cli import PASSENGER_HELP, TRIP_HELP, _client, _common, _seats, _walk_in, add_lane_arguments
from .flows import table


def add_verbs(verbs) -> None:
    handheld = verbs.add_parser(
        "handheld", help="handheld sale (移动售票): seat allotments sold from offline, and settled"
    ).add_subparsers(dest="action", required=True)

    p = handheld.add_parser("lend", help="borrow seats of a trip's segment for this device to sell offline")
    p.add_argument("trip_id", help=TRIP_HELP)
    p.add_argument("from_station")
    p.add_argument("to_station")
    p.add_argument("--seats", type=int, default=0, help="how many seats (any)")
    p.add_argument("--seat-numbers", type=_seats, default=(), help="these seats, comma-separated")
    _options(p)
    p.set_defaults(run=_lend)

    p = handheld.add_parser("sell", help="sell a seat to a walk-in passenger: online, or from the allotment offline")
    p.add_argument("trip_id", help=TRIP_HELP)
    p.add_argument("from_station")
    p.add_argument("to_station")
    p.add_argument("--passenger", type=_walk_in, required=True, help=PASSENGER_HELP)
    p.add_argument("--seat", default="", help="this seat (default: any free one)")
    p.add_argument("--offline", action="store_true", help="sell from the allotment without trying the gateway")
    _options(p)
    p.set_defaults(run=_sell)

    p = handheld.add_parser("settle", help="send the offline sales back: tickets issued, unsold seats returned")
    p.add_argument("--allotment", default="", help="only this allotment (default: every open one)")
    _options(p)
    p.set_defaults(run=_settle)

    p = handheld.add_parser(
        "board", help="check passengers in as a gate does (the lane program), offline too: platform, roadside, on board"
    )
    add_lane_arguments(p, gate_help="this handheld's gate id (default H-<the --user login>)", gate_required=False)
    p.set_defaults(run=_board)

    p = handheld.add_parser("status", help="this device's allotments and the sales in its journal")
    _options(p)
    p.set_defaults(run=_status)


def _board(args) -> None:
    """The gate's lane program (terminals/gate_lane.py) as the handheld: the same offline copy, scan
    journal and exactly-once uploads; scans are recorded with this device's gate id."""
    from . import gate_lane

    if not args.gate:
        if not args.user:
            raise SystemExit("keyun handheld board: give --gate, or --user for the default H-<login>")
        args.gate = f"H-{args.user}"
    gate_lane.run(args)


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        type=Path,
        default=hh.DEFAULT_STORE,
        help=f"the device's journal (env KEYUN_HANDHELD_STORE; default {hh.DEFAULT_STORE})",
    )
    _common(p)


def _lend(args) -> None:
    journal = hh.Journal(args.store)
    try:
        allotment = hh.lend(
            _client(args),
            journal,
            args.trip_id,
            args.from_station,
            args.to_station,
            seat_numbers=args.seat_numbers,
            seat_count=args.seats,
        )
    finally:
        journal.close()
    if args.json:
        from .printing import as_json

        print(hh.dumps(as_json(allotment)))
    else:
        print(
            f"allotment {allotment.allotment_id}: seats {', '.join(allotment.seat_numbers)} "
            f"from {allotment.from_station} to {allotment.to_station}"
        )


def _sell(args) -> None:
    journal = hh.Journal(args.store)
    try:
        # Offline, no login is possible: the client is made without one, and the sale is local.
        client = hh.offline_client(args) if args.offline else _client_or_offline(args)
        sale = hh.sell(
            client, journal, args.trip_id, args.from_station, args.to_station, args.passenger, args.seat, args.offline
        )
    finally:
        journal.close()
    if args.json:
        print(hh.dumps(sale))
    elif sale["online"]:
        print(f"sold online: ticket {sale['ticket_id']} seat {sale['seat']} {sale['price_fen'] / 100:.2f} yuan")
    else:
        print(
            f"sold offline from {sale['allotment_id']}: seat {sale['seat']} "
            f"{sale['from_station']}->{sale['to_station']} "
            f"{sale['price_fen'] / 100:.2f} yuan (sale {sale['sale_id']}; settle when back online)"
        )


def _client_or_offline(args):
    """A logged-in client; when the login itself cannot reach the gateway, one that is not (the
    sale then goes to the allotment)."""
    from .client import KeyunError

    try:
        return _client(args)
    except KeyunError as error:
        if error.code in hh.UNREACHABLE and not error.reason:
            return hh.offline_client(args)
        raise


def _settle(args) -> None:
    journal = hh.Journal(args.store)
    try:
        replies = hh.settle(_client(args), journal, args.allotment)
    finally:
        journal.close()
    if args.json:
        from .printing import as_json

        print(hh.dumps([as_json(reply) for reply in replies]))
        return
    for reply in replies:
        print(
            f"allotment {reply.allotment.allotment_id}: {reply.issued} issued, "
            f"{len(reply.unused_seats)} unused ({', '.join(reply.unused_seats) or '-'}), "
            f"{'returned' if reply.returned else 'not returned'}"
        )
        rows = [
            (
                line.sale_id[:12],
                line.ticket.ticket_id,
                line.ticket.seat_number,
                line.charged_fen,
                line.ticket.price_fen,
                "MISMATCH" if line.price_mismatch else "",
                "again" if line.already_settled else "",
            )
            for line in reply.lines
        ]
        print(table(("sale", "ticket", "seat", "charged", "price", "", ""), rows))


def _status(args) -> None:
    journal = hh.Journal(args.store)
    try:
        rows = hh.status(journal)
    finally:
        journal.close()
    if args.json:
        print(hh.dumps(rows))
        return
    print(
        table(
            ("allotment", "trip", "segment", "seats", "sold", "unsettled", "state"),
            [
                (
                    r["allotment_id"],
                    r["trip_id"],
                    f"{r['from_station']}-{r['to_station']}",
                    ",".join(r["seats"]),
                    r["sold"],
                    r["unsettled"],
                    "settled" if r["settled"] else "lent",
                )
                for r in rows
            ],
            empty="no allotments",
        )
    )
