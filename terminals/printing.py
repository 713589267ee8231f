"""Text renderings for counter and gate screens: money, times, tickets, seat maps, search results."""

from __future__ import annotations

import argparse
import datetime as dt

from google.protobuf.json_format import MessageToDict

from keyun.common.clock import CHINA, SYSTEM_CLOCK
from keyun.v1 import common_pb2

# The station's zone: Beijing time, the demo network's utc_offset.  Dates and times the CLI reads
# or prints are in it, whatever the zone of the machine it runs on.
ZONE = "UTC+8"
DATE_HELP = "today, tomorrow, +N (days from today) or YYYY-MM-DD; Beijing dates (UTC+8)"
TICKET_STATUS = {
    common_pb2.TICKET_STATUS_ISSUED: "valid",
    common_pb2.TICKET_STATUS_CHECKED_IN: "checked in",
    common_pb2.TICKET_STATUS_REFUNDED: "refunded",
    common_pb2.TICKET_STATUS_CHANGED: "changed",
    common_pb2.TICKET_STATUS_VOID: "void",
}
TRIP_STATUS = {
    common_pb2.TRIP_STATUS_ON_SALE: "on sale",
    common_pb2.TRIP_STATUS_CHECKING_IN: "boarding",
    common_pb2.TRIP_STATUS_DEPARTED: "departed",
    common_pb2.TRIP_STATUS_CANCELLED: "cancelled",
}


def yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def local(stamp, tz: dt.timezone = CHINA, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A protobuf Timestamp as the station's local time, zone shown: `2026-12-08 07:30 (UTC+8)`."""
    if not stamp.seconds and not stamp.nanos:
        return "-"
    return stamp.ToDatetime(tzinfo=dt.UTC).astimezone(tz).strftime(fmt) + f" ({ZONE})"


def local_ms(epoch_ms: int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Epoch milliseconds (as refusals carry them) as the station's local time, zone shown."""
    return dt.datetime.fromtimestamp(epoch_ms / 1000, CHINA).strftime(fmt) + f" ({ZONE})"


def station_date(text: str, today: dt.date | None = None) -> str:
    """A date as the CLI takes it (`today`, `tomorrow`, `+N` days, or ISO `YYYY-MM-DD`) as the ISO
    date the server expects.  "today" is the station's day (Beijing), not the machine's."""
    today = today or dt.datetime.fromtimestamp(SYSTEM_CLOCK.now_ms() / 1000, CHINA).date()
    word = text.strip().lower()
    try:
        if word in ("today", "tomorrow"):
            return (today + dt.timedelta(days=word == "tomorrow")).isoformat()
        if word.startswith("+") and word[1:].isdigit():
            return (today + dt.timedelta(days=int(word[1:]))).isoformat()
        return dt.date.fromisoformat(word).isoformat()
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: give {DATE_HELP}") from None


def station_code(text: str) -> str:
    """Station codes are upper case (SJZ); people may type them in lower case."""
    return text.strip().upper()


def as_json(message) -> dict:
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def offers_table(offers) -> str:
    lines = [
        f"{'trip':<16} {'leaves':<24} {'from':<6} {'to':<6} {'fare':>8} {'free':>5}  {'status':<9} route / operator"
    ]
    for o in offers:
        lines.append(
            f"{o.trip.trip_id:<16} {local(o.from_stop.departs_at):<24} {o.from_stop.code:<6} {o.to_stop.code:<6} "
            f"{yuan(o.fare_fen):>8} {o.seats_free:>5}  {TRIP_STATUS.get(o.status, '?'):<9} {o.trip.route_name} / "
            f"{o.trip.operator_name}"
        )
    return "\n".join(lines) if offers else "no trips"


def seat_map_text(seat_map) -> str:
    """Free seats by number, taken ones as [xx], the aisle as a gap."""
    width = max((len(s.seat_number) for row in seat_map.rows for s in row.seats), default=2)
    lines = [
        f"{seat_map.trip_id}  {seat_map.from_stop.code}→{seat_map.to_stop.code}  fare {yuan(seat_map.fare_fen)}  "
        f"{seat_map.seats_free} free",
        "front",
    ]
    for row in seat_map.rows:
        cells = []
        for seat in row.seats:
            if not seat.seat_number:
                cells.append(" " * (width + 2))
            else:
                label = seat.seat_number.rjust(width)
                cells.append(f" {label} " if seat.free else f"[{'x' * width}]")
        lines.append(" ".join(cells))
    return "\n".join(lines)


TICKET_TYPE = {
    common_pb2.TICKET_TYPE_FULL: "全票 full",
    common_pb2.TICKET_TYPE_CHILD: "儿童票 child",
    common_pb2.TICKET_TYPE_FREE_CHILD: "免票儿童 free child",
    common_pb2.TICKET_TYPE_CONCESSION: "优待票 concession",
    common_pb2.TICKET_TYPE_STUDENT: "学生票 student",
}


def fare_lines(ticket) -> list[str]:
    """A ticket's type and components, when it is more than a full fare of its price."""
    fare = ticket.fare
    plain = fare.ticket_type in (common_pb2.TICKET_TYPE_UNSPECIFIED, common_pb2.TICKET_TYPE_FULL)
    if plain and fare.base_fen == ticket.price_fen:
        return []
    return [
        f"  type     {TICKET_TYPE.get(fare.ticket_type, '?')}",
        f"    base {yuan(fare.base_fen)}  service {yuan(fare.service_fee_fen)}  fuel {yuan(fare.fuel_surcharge_fen)}"
        f"  insurance {yuan(fare.insurance_fen)}",
    ]


def ticket_text(ticket) -> str:
    """The ticket as printed at the counter."""
    trip = ticket.trip
    lines = [
        "=" * 40,
        f"  {trip.operator_name}",
        f"  {ticket.from_stop.name} → {ticket.to_stop.name}",
        f"  {ticket.from_stop.code} → {ticket.to_stop.code}   班次 {trip.schedule_id}",
        f"  departs  {local(ticket.from_stop.departs_at)}",
        f"  seat     {ticket.seat_number}",
        f"  fare     {yuan(ticket.price_fen)}",
        f"  ticket   {ticket.ticket_id}",
        f"  status   {TICKET_STATUS.get(ticket.status, '?')}",
    ]
    lines += fare_lines(ticket)
    if ticket.HasField("holder"):  # masked by the server; the printout never shows more
        lines.append(f"  passenger {ticket.holder.name}  {ticket.holder.document_number}")
        if ticket.holder.proof_type:
            lines.append(f"  proof    {ticket.holder.proof_type} {ticket.holder.proof_number}")
    if ticket.HasField("free_child"):
        lines.append(f"  free child {ticket.free_child.name}  {ticket.free_child.document_number}")
    if ticket.status == common_pb2.TICKET_STATUS_CHECKED_IN:
        lines.append(f"  boarded  {local(ticket.checked_in_at)} at gate {ticket.gate_id}")
    if ticket.status == common_pb2.TICKET_STATUS_REFUNDED:
        lines.append(
            f"  refunded {yuan(ticket.refunded_fen)} (fee {yuan(ticket.refund_fee_fen)}) at {local(ticket.refunded_at)}"
        )
    lines.append("=" * 40)
    return "\n".join(lines)
