"""The trip sheet (路单) as text and as a PDF, from Dispatch/GetTripSheet's reply (docs/dispatch.md).

The PDF is made as the ticket PDFs are (terminals/ticket_print.py): fpdf2, with an installed
Chinese font when fontconfig finds one (labels then print in Chinese and English), else Helvetica
with English labels and only the characters it can show (the plate's province character is left
out, its letters and digits stay).
"""

from __future__ import annotations

from pathlib import Path

from . import printing
from .ticket_print import _latin, find_cjk_font

# (Chinese, English) column heads of the segment table.
SEGMENT_HEADS = (
    ("区间", "Segment"),
    ("售", "Sold"),
    ("检", "In"),
    ("未到", "No-show"),
    ("免童", "Free ch."),
    ("票款", "Base"),
    ("站务", "Service"),
    ("燃油", "Fuel"),
    ("保险", "Insur."),
    ("合计", "Total"),
)


def _money(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _head_lines(sheet) -> list[tuple[str, str, str]]:
    """(Chinese label, English label, value) for the sheet's heading."""
    trip = sheet.trip
    staff = ", ".join(f"{person.name} ({person.role})" for person in sheet.staff) or "-"
    return [
        ("路单号", "Sheet no.", sheet.sheet_number),
        ("班次", "Trip", f"{trip.trip_id}  {trip.schedule_id}  {trip.route_name}"),
        ("承运", "Operator", trip.operator_name or "-"),
        ("车牌", "Plate", sheet.plate or "-"),
        ("驾驶员", "Driver", f"{sheet.driver_masked_name or '-'} ({sheet.driver_id or '-'})"),
        ("随车人员", "Staff on board", staff),
        ("发车", "Departed", printing.local(sheet.departed_at)),
        ("备注", "Note", sheet.note or "-"),
    ]


def _segment_row(name: str, counts) -> tuple[str, ...]:
    return (
        name,
        str(counts.tickets_sold),
        str(counts.checked_in),
        str(counts.no_shows),
        str(counts.free_children),
        _money(counts.base_fen),
        _money(counts.service_fee_fen),
        _money(counts.fuel_surcharge_fen),
        _money(counts.insurance_fen),
        _money(counts.total_fen),
    )


def _rows(sheet) -> list[tuple[str, ...]]:
    rows = [_segment_row(f"{s.from_stop.code}-{s.to_stop.code}", s.counts) for s in sheet.segments]
    rows.append(_segment_row("TOTAL", sheet.totals))
    return rows


def _checked_line(sheet) -> str:
    t = sheet.totals
    return (
        f"issued {sheet.tickets_issued}: sold {t.tickets_sold}, checked in {t.checked_in}, no-shows {t.no_shows}; "
        f"refunded {t.refunded}, changed {t.changed}, void {t.void}"
    )


def sheet_text(sheet) -> str:
    """The sheet as a plain-text table, for the terminal."""
    lines = [f"{en:<15} {value}" for _zh, en, value in _head_lines(sheet)]
    heads = tuple(en for _zh, en in SEGMENT_HEADS)
    widths = [max(len(row[k]) for row in [heads, *_rows(sheet)]) for k in range(len(heads))]
    lines.append("")
    for row in [heads, *_rows(sheet)]:
        lines.append(
            "  ".join(cell.ljust(w) if k == 0 else cell.rjust(w) for k, (cell, w) in enumerate(zip(row, widths)))
        )
    lines.append("")
    lines.append("Boarding by stop: " + (", ".join(_boarding(b) for b in sheet.boardings) or "-"))
    lines.append(_checked_line(sheet))
    return "\n".join(lines)


def _boarding(boarding) -> str:
    free = f" +{boarding.free_children} free children" if boarding.free_children else ""
    return f"{boarding.stop.code} {boarding.passengers} ({boarding.checked_in} checked in){free}"


def pdf_sheet(sheet, target: Path, cjk_font: Path | None = None) -> Path:
    """Write the sheet to `target` (a PDF file, A4 landscape)."""
    from fpdf import FPDF  # imported here: only printing needs it

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=12)
    pdf.set_title(f"Trip sheet {sheet.sheet_number}")
    family, cjk = "Helvetica", False
    if cjk_font is not None:
        try:
            pdf.add_font("cjk", fname=str(cjk_font))
            family, cjk = "cjk", True
        except Exception:  # a font fpdf2 cannot embed (a CFF OpenType, say): print as without one
            pass

    def text(value: str) -> str:
        return value if cjk else _latin(value)

    pdf.add_page()
    pdf.set_font(family, size=15)
    pdf.cell(0, 10, "路单 Trip sheet" if cjk else "Trip sheet (Ludan)", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=10)
    for zh, en, value in _head_lines(sheet):
        pdf.cell(40, 6, f"{zh} {en}" if cjk else en)
        pdf.cell(0, 6, text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    widths = (45, 16, 16, 20, 20, 26, 26, 26, 26, 30)
    pdf.set_font(family, size=9)
    for (zh, en), w in zip(SEGMENT_HEADS, widths, strict=True):
        pdf.cell(w, 7, f"{zh} {en}" if cjk else en, border=1)
    pdf.ln()
    for row in _rows(sheet):
        for k, (cell, w) in enumerate(zip(row, widths, strict=True)):
            pdf.cell(w, 6, text(cell), border=1, align="L" if k == 0 else "R")
        pdf.ln()
    pdf.ln(3)
    pdf.set_font(family, size=10)
    pdf.cell(0, 6, "Boarding by stop: " + (", ".join(_boarding(b) for b in sheet.boardings) or "-"))
    pdf.ln()
    pdf.cell(0, 6, _checked_line(sheet), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.cell(0, 6, "Dispatcher ____________________     Driver ____________________", new_x="LMARGIN", new_y="NEXT")
    target.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(target))
    return target


def write_pdf(sheet, target: Path) -> Path:
    """The sheet's PDF, with a Chinese font when one is installed."""
    return pdf_sheet(sheet, target, find_cjk_font())
