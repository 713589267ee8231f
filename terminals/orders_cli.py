"""`keyun order` (an order's life at the counter: create, pay, show, watch, cancel, refund) and
`keyun finance reconcile` (a provider's bill against what Keyun recorded)."""

from __future__ import annotations

import argparse
import json

from keyun.v1 import orders_pb2

from . import printing
from .cli import _client, _common, _seats
from .client import KeyunError
from .flows import PAY_METHODS, name, order_text, show, split, table

# Watching stops once the order has left PENDING_PAYMENT, or with --until-final at these.
FINAL = {orders_pb2.ORDER_STATUS_CANCELLED, orders_pb2.ORDER_STATUS_REFUNDED, orders_pb2.ORDER_STATUS_CHANGED}


def add_order_arguments(p: argparse.ArgumentParser, methods: tuple[str, ...], default: str) -> None:
    """A hold's seats and the order's payment method: shared by `order create` and `passenger pay`."""
    p.add_argument("trip_id", help="e.g. K103-20261126 (<schedule>-<YYYYMMDD>, as `keyun counter search` lists)")
    p.add_argument("from_station", type=printing.station_code)
    p.add_argument("to_station", type=printing.station_code)
    p.add_argument("--seats", type=_seats, default=(), help="seat numbers, e.g. 3,4")
    p.add_argument("--count", type=int, default=0, help="any N seats (default: one per --passengers, else 1)")
    p.add_argument(
        "--passengers",
        type=split,
        default=(),
        help="frequent passengers' ids, one per seat (`keyun passenger passengers list`); passengers must name them",
    )
    p.add_argument("--method", choices=methods, default=default, help=f"how it is paid (default {default})")
    p.add_argument("--request-id", help="idempotency key of the order (default: a new one)")


def create_order(args: argparse.Namespace) -> orders_pb2.CreateOrderResponse:
    """Hold the seats and make the order for them; print it (with the pay link for a wallet)."""
    client = _client(args)
    count = args.count or (0 if args.seats else len(args.passengers) or 1)
    hold = client.hold(
        args.trip_id, args.from_station, args.to_station, args.seats, count, passenger_ids=args.passengers
    )
    try:
        created = client.create_order(hold.hold_id, PAY_METHODS[args.method], args.request_id)
    except KeyunError:
        client.release(hold.hold_id)  # the seats go back on sale at once, not when the hold expires
        raise
    show(args, created, order_text(created.order, created.pay_url, created.qr_text))
    return created


def add_verbs(verbs) -> None:
    order = verbs.add_parser(
        "order", help="orders: hold seats and order them, take payment, show, watch, cancel, refund"
    ).add_subparsers(dest="action", required=True)

    p = order.add_parser("create", help="hold seats and make an order to pay for them (cash by default)")
    add_order_arguments(p, tuple(PAY_METHODS), "cash")
    _common(p)
    p.set_defaults(run=create_order)

    p = order.add_parser("pay", help="the counter takes the order's money in cash (or by bank card) and tickets it")
    p.add_argument("order_id")
    p.add_argument("--card", metavar="TERMINAL_ID", help="paid by bank card on this POS terminal instead of cash")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=_pay)

    p = order.add_parser("show", help="an order: status, seats, tickets, payments and refunds")
    p.add_argument("order_id")
    _common(p)
    p.set_defaults(run=lambda a: show(a, o := _client(a).order(a.order_id), order_text(o)))

    p = order.add_parser(
        "watch",
        help="print the order now and at each change of status, until it is paid (or final); --json: JSON lines",
    )
    p.add_argument("order_id")
    p.add_argument("--until-final", action="store_true", help="keep watching until cancelled, refunded or changed")
    p.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds (default 900)")
    _common(p)
    p.set_defaults(run=_watch)

    p = order.add_parser("cancel", help="cancel an unpaid order; its seats go back on sale")
    p.add_argument("order_id")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: show(a, o := _client(a).cancel_order(a.order_id, a.request_id), order_text(o)))

    p = order.add_parser("refund", help="refund an order's tickets (all not refunded yet, or --tickets) to the payer")
    p.add_argument("order_id")
    p.add_argument("--tickets", type=split, default=(), help="comma-separated ticket ids (default: all)")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(
        run=lambda a: show(a, o := _client(a).refund_order(a.order_id, a.tickets, a.request_id), order_text(o))
    )

    finance = verbs.add_parser("finance", help="finance: reconcile the providers' bills").add_subparsers(
        dest="action", required=True
    )
    p = finance.add_parser("reconcile", help="a provider's bill for a day against Keyun's payments and refunds")
    p.add_argument("--date", type=printing.station_date, default="today", help=f"the bill's day: {printing.DATE_HELP}")
    p.add_argument(
        "--method", choices=("wepay", "alipay", "card"), default="wepay", help="the provider (default wepay)"
    )
    _common(p)
    p.set_defaults(run=_reconcile)


def _pay(args: argparse.Namespace) -> None:
    method, terminal = (PAY_METHODS["card"], args.card) if args.card else (PAY_METHODS["cash"], "")
    order = _client(args).pay_at_counter(args.order_id, method, terminal, args.request_id)
    show(args, order, order_text(order))


def _watch(args: argparse.Namespace) -> None:
    for order in _client(args).watch_order(args.order_id, args.timeout):
        print(json.dumps(printing.as_json(order), ensure_ascii=False) if args.json else order_text(order) + "\n")
        done = order.status in FINAL if args.until_final else order.status != orders_pb2.ORDER_STATUS_PENDING_PAYMENT
        if done:
            return


def _reconcile(args: argparse.Namespace) -> None:
    report = _client(args).reconcile(args.date, PAY_METHODS[args.method])
    rows = [
        (
            name(orders_pb2.Discrepancy, line.discrepancy),
            name(orders_pb2.ReconcileLineKind, line.kind),
            line.order_id or "-",
            line.provider_txn_id or "-",
            printing.yuan(line.provider_amount_fen),
            printing.yuan(line.keyun_amount_fen),
        )
        for line in report.discrepancies
    ]
    text = "\n".join(
        [
            f"{args.method} {args.date}: {report.matched} matched, {len(rows)} differing",
            f"paid      provider {printing.yuan(report.provider_paid_fen)}  keyun "
            f"{printing.yuan(report.keyun_paid_fen)}",
            f"refunded  provider {printing.yuan(report.provider_refunded_fen)}  keyun "
            f"{printing.yuan(report.keyun_refunded_fen)}",
            table(("difference", "kind", "order", "provider txn", "provider", "keyun"), rows, empty="no differences"),
        ]
    )
    show(args, report, text)
