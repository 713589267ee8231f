"""Printing counter tickets: a PDF page per ticket (a laser printer, or a preview) and a stream for
ticket printers (ESC/POS, or plain text) written to a file or a device path such as /dev/usb/lp0.

Both layouts show the fields a road passenger ticket (公路旅客运输客票) carries: the paper ticket
number (票号, from the seller's stock), station, operator, route, schedule (班次) and trip, date and
time of departure with its zone, from and to, seat, the ticket type, the fare by component (base,
station service fee, fuel surcharge, accident insurance) and its total, the passenger's masked name
and document, a free child riding on the ticket (masked), ticket id, status, seller, and the
boarding credential as a QR code (a PNG in the PDF; in the ESC/POS stream a GS ( k QR command, in
the plain text stream the credential's text).

The server masks names and document numbers in every reply; `mask_documents` masks any resident ID
that still reaches a printout, so a ticket never carries a full document number.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import segno

from . import printing, qr

# An 18-character resident ID (or an old 15-digit one) not already masked by the server.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{5,8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")


def mask_documents(text: str) -> str:
    """Mask the middle of every resident ID number in `text`, as the server masks them."""
    return _RESIDENT_ID.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


@dataclass(frozen=True)
class TicketLayout:
    """What a printed ticket shows, each as (Chinese label, English label, value)."""

    title: str
    lines: tuple[tuple[str, str, str], ...]
    ticket_id: str
    credential: str = ""  # the boarding credential, printed as a QR code


@dataclass(frozen=True)
class PrintExtras:
    """Facts a printout carries beyond the ticket: the station printing it, the seller, and, where the
    caller has them, fare components (label, fen) and the paper ticket's stock number."""

    station: str = ""
    seller: str = ""
    components: tuple[tuple[str, int], ...] = ()
    paper_number: str = ""
    reprint: bool = False


def layout(ticket, extras: PrintExtras = PrintExtras()) -> TicketLayout:
    """The ticket's printed fields, in the order they appear."""
    trip = ticket.trip
    lines: list[tuple[str, str, str]] = []
    if extras.paper_number:
        lines.append(("票号", "No.", extras.paper_number))
    lines += [
        ("车站", "Station", extras.station or ticket.from_stop.name),
        ("承运", "Operator", trip.operator_name),
        ("线路", "Route", trip.route_name),
        ("班次", "Schedule", f"{trip.schedule_id}  ({trip.trip_id})"),
        ("发车", "Departs", printing.local(ticket.from_stop.departs_at)),
        ("起点", "From", f"{ticket.from_stop.name} {ticket.from_stop.code}"),
        ("到站", "To", f"{ticket.to_stop.name} {ticket.to_stop.code}"),
        ("座号", "Seat", ticket.seat_number),
    ]
    lines += [(label, label, printing.yuan(fen)) for label, fen in extras.components]
    lines += fare_lines(ticket)
    if ticket.HasField("holder"):  # masked by the server
        holder = ticket.holder
        lines.append(("旅客", "Passenger", mask_documents(f"{holder.name} {holder.document_number}")))
        if holder.proof_type:
            lines.append(("优待证", "Proof", mask_documents(f"{holder.proof_type} {holder.proof_number}")))
    if ticket.HasField("free_child"):
        child = ticket.free_child
        lines.append(("免票儿童", "Free child", mask_documents(f"{child.name} {child.document_number}")))
    lines += [
        ("票证", "Ticket", ticket.ticket_id),
        ("状态", "Status", printing.TICKET_STATUS.get(ticket.status, "?")),
        ("售出", "Issued", printing.local(ticket.issued_at)),
    ]
    if ticket.changed_from:
        lines.append(("改签自", "Changed from", ticket.changed_from))
    if extras.seller:
        lines.append(("售票员", "Seller", extras.seller))
    title = "汽车客票" + (" (重打 reprint)" if extras.reprint else "")
    return TicketLayout(title, tuple(lines), ticket.ticket_id, ticket.credential)


TICKET_TYPES = {
    1: "全票 full",
    2: "儿童票 child",
    3: "免票儿童 free child",
    4: "优待票 concession",
    5: "学生票 student",
}


def fare_lines(ticket) -> list[tuple[str, str, str]]:
    """The ticket type and the fare by component, then the total (tickets sold before ticket types
    existed have no components: their price alone)."""
    if not ticket.HasField("fare"):
        return [("票价", "Fare", printing.yuan(ticket.price_fen))]
    fare = ticket.fare
    lines = [
        ("票种", "Type", TICKET_TYPES.get(fare.ticket_type, TICKET_TYPES[1])),
        ("基本票价", "Base fare", printing.yuan(fare.base_fen)),
        ("站务费", "Service fee", printing.yuan(fare.service_fee_fen)),
        ("燃油附加费", "Fuel surcharge", printing.yuan(fare.fuel_surcharge_fen)),
    ]
    if fare.insurance_fen:
        lines.append(("乘意险", "Insurance", printing.yuan(fare.insurance_fen)))
    lines.append(("票价", "Fare", printing.yuan(ticket.price_fen)))
    return lines


# --- plain text and ESC/POS --------------------------------------------------------------------

ESC, GS = b"\x1b", b"\x1d"
ESCPOS_INIT = ESC + b"@"
ESCPOS_CENTER, ESCPOS_LEFT = ESC + b"a\x01", ESC + b"a\x00"
ESCPOS_DOUBLE, ESCPOS_NORMAL = GS + b"!\x11", GS + b"!\x00"
ESCPOS_CUT = GS + b"V\x42\x00"  # feed to the cutter and cut (partial cut where only that exists)


def text_ticket(view: TicketLayout) -> str:
    """The ticket as plain text lines, Chinese and English labels, and the credential's text (a
    printer of plain text has no QR code; a scanner at the gate reads the text as well)."""
    body = [f"{zh} {en}: {value}" for zh, en, value in view.lines]
    if view.credential:
        body.append(f"电子客票 QR: {view.credential}")
    return "\n".join([view.title, "-" * 32, *body, "-" * 32, ""])


def escpos_qr(data: str) -> bytes:
    """ESC/POS QR code (GS ( k, model 2): select the model, module size 6, error level M, store the
    data, print it."""
    payload = data.encode("ascii")

    def command(fn: int, body: bytes) -> bytes:
        size = len(body) + 2
        return GS + b"(k" + bytes([size % 256, size // 256, 49, fn]) + body

    return b"".join(
        [
            GS + b"(k" + bytes([4, 0, 49, 65, 50, 0]),  # model 2
            command(67, bytes([6])),  # module size
            command(69, bytes([49])),  # error correction M
            command(80, b"0" + payload),  # store
            command(81, b"0"),  # print
        ]
    )


def escpos_ticket(view: TicketLayout) -> bytes:
    """The ticket for an ESC/POS ticket printer: GB18030 text (what Chinese printers take), the title
    centred and doubled, a cut at the end."""
    body = "\n".join(f"{zh} {en}: {value}" for zh, en, value in view.lines)
    return b"".join(
        [
            ESCPOS_INIT,
            ESCPOS_CENTER,
            ESCPOS_DOUBLE,
            view.title.encode("gb18030"),
            b"\n",
            ESCPOS_NORMAL,
            ESCPOS_LEFT,
            body.encode("gb18030"),
            b"\n",
            ESCPOS_CENTER,
            escpos_qr(view.credential) if view.credential else b"",
            b"\n\n\n",
            ESCPOS_CUT,
        ]
    )


def write_stream(views: Sequence[TicketLayout], target: Path, escpos: bool) -> None:
    """Append the tickets to a printer device or a file (created when missing)."""
    data = b"".join(escpos_ticket(v) if escpos else text_ticket(v).encode("utf-8") for v in views)
    with open(target, "ab") as out:
        out.write(data)


# --- PDF ---------------------------------------------------------------------------------------

PAGE_MM = (190.0, 110.0)  # landscape, a road ticket with its fare components and QR code


def find_cjk_font() -> Path | None:
    """An installed font that covers Chinese (fontconfig's `fc-list :lang=zh`), TrueType or OpenType."""
    if shutil.which("fc-list") is None:
        return None
    try:
        listing = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in listing.splitlines():
        path = Path(line.split(":")[0].strip())
        if path.suffix.lower() in (".ttf", ".otf") and path.is_file():
            return path
    return None


def _latin(text: str) -> str:
    """What Helvetica can print: Latin-1, the rest dropped (and spaces tidied)."""
    kept = text.encode("latin-1", errors="ignore").decode("latin-1")
    return " ".join(kept.split()) or "-"


def _qr_png(credential: str) -> io.BytesIO:
    """The credential's QR code as a PNG in memory (segno), for the PDF."""
    out = io.BytesIO()
    segno.make_qr(credential, error=qr.ERROR_LEVEL).save(out, kind="png", scale=4, border=2)
    out.seek(0)
    return out


def pdf_tickets(
    views: Sequence[TicketLayout], target: Path, cjk_font: Path | None = None, title: str = "Keyun tickets"
) -> Path:
    """Write one page per ticket to `target` (a PDF file).  With `cjk_font` (see find_cjk_font) the
    labels are Chinese and English and names print in full; without it Helvetica prints English
    labels and leaves out the characters it cannot show (station codes stay)."""
    from fpdf import FPDF  # imported here: only printing needs it

    pdf = FPDF(orientation="L", unit="mm", format=PAGE_MM)
    pdf.set_auto_page_break(False)
    pdf.set_title(title)
    family, cjk = "Helvetica", False
    if cjk_font is not None:
        try:
            pdf.add_font("cjk", fname=str(cjk_font))
            family, cjk = "cjk", True
        except Exception:  # a font fpdf2 cannot embed (a CFF OpenType, say): print as without one
            pass
    for view in views:
        pdf.add_page()
        pdf.set_font(family, size=16)
        title = view.title if cjk else "BUS TICKET" + (" (reprint)" if "reprint" in view.title else "")
        pdf.cell(0, 10, title, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, size=9)
        top = pdf.get_y()
        for zh, en, value in view.lines:
            label = f"{zh} {en}" if cjk else en
            shown = value if cjk else _latin(value)
            pdf.cell(38, 3.7, label)
            pdf.cell(100, 3.7, shown, new_x="LMARGIN", new_y="NEXT")
        if view.credential:
            pdf.image(_qr_png(view.credential), x=PAGE_MM[0] - 50, y=top, w=40, h=40)
    target.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(target))
    return target
