"""What the flow verbs (`keyun order`, `passenger`, `dispatch`, `finance`) share: one way to print a
reply as text or JSON, a plain table, refusals as JSON under --json, and the names of the enums."""

from __future__ import annotations

import argparse
import json
import unicodedata
from collections.abc import Sequence

from keyun.v1 import common_pb2, orders_pb2

from . import printing

PAY_METHODS = {
    "cash": orders_pb2.PAY_METHOD_CASH,
    "card": orders_pb2.PAY_METHOD_CARD,
    "wepay": orders_pb2.PAY_METHOD_WEPAY,
    "alipay": orders_pb2.PAY_METHOD_ALIPAY,
}
WALLETS = ("wepay", "alipay")
DOCUMENTS = {
    "resident_id": common_pb2.DOCUMENT_TYPE_RESIDENT_ID,
    "passport": common_pb2.DOCUMENT_TYPE_PASSPORT,
    "hk_macau_permit": common_pb2.DOCUMENT_TYPE_HK_MACAU_PERMIT,
    "taiwan_permit": common_pb2.DOCUMENT_TYPE_TAIWAN_PERMIT,
}


def name(enum, value: int) -> str:
    """An enum value as a short lower-case word: ORDER_STATUS_PENDING_PAYMENT -> pending payment."""
    full = enum.Name(value)
    prefix = full[: len(enum.DESCRIPTOR.values[0].name) - len("UNSPECIFIED")]
    return full.removeprefix(prefix).lower().replace("_", " ")


def show(args: argparse.Namespace, reply, text: str) -> None:
    """A message (or a list of them) as JSON under --json, else the text."""
    if args.json:
        value = [printing.as_json(m) for m in reply] if isinstance(reply, list) else printing.as_json(reply)
        print(json.dumps(value, ensure_ascii=False, indent=2))
    else:
        print(text)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str = "none") -> str:
    """Left-aligned columns as wide as their widest cell."""
    if not rows:
        return empty
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def _width(text: str) -> int:
    """Columns on a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def trip_line(trip) -> str:
    departs = printing.local(trip.stops[0].departs_at) if trip.stops else "-"
    return f"{trip.trip_id}  {printing.TRIP_STATUS.get(trip.status, '?')}  departs {departs}  {trip.route_name}"


def order_text(order, pay_url: str = "", qr_text: str = "") -> str:
    lines = [
        f"order    {order.order_id}  {name(orders_pb2.OrderStatus, order.status)}",
        f"trip     {order.trip.trip_id}  {order.from_stop.code}→{order.to_stop.code}  departs "
        f"{printing.local(order.from_stop.departs_at)}",
        f"seats    {','.join(order.seat_numbers)}",
        f"amount   {printing.yuan(order.amount_fen)} by {name(orders_pb2.PayMethod, order.method)}",
    ]
    if order.status == orders_pb2.ORDER_STATUS_PENDING_PAYMENT:
        lines.append(f"pay by   {printing.local(order.pay_by)}")
    lines += [
        f"ticket   {t.ticket_id}  seat {t.seat_number}  {printing.TICKET_STATUS.get(t.status, '?')}"
        for t in order.tickets
    ]
    lines += [
        f"refund   {r.refund_no}  {printing.yuan(r.amount_fen)} (fee {printing.yuan(r.fee_fen)})  {r.reason}"
        for r in order.refunds
    ]
    if pay_url:
        lines += [f"pay at   {pay_url}", f"QR text  {qr_text}"]
    return "\n".join(lines)
