"""The handover slip (交接单) as a PDF, from the slip the shift's close journaled.

The slip's numbers are kept in the accounts owner's log (engine.shifts.Slip), so the PDF made
from them is the same every time it is asked for.  Labels are English with the Chinese term in
pinyin: the PDF's built-in fonts have no Chinese glyphs, and the server may have no CJK font
installed.  A station that installs one can set KEYUN_SLIP_FONT to its .ttf/.otf path to have the
Chinese terms printed too.
"""

from __future__ import annotations

import datetime as dt
import os

from fpdf import FPDF

from keyun.engine.shifts import ShiftView


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _local(ms: int, utc_offset_min: int) -> str:
    if not ms:
        return "-"
    zone = dt.timezone(dt.timedelta(minutes=utc_offset_min))
    return dt.datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M:%S")


def _ranges(numbers: tuple[str, ...]) -> str:
    """Consecutive numbers shown as first-last: a slip lists a roll, not every sheet."""
    if not numbers:
        return "-"
    parts: list[str] = []
    start = previous = numbers[0]
    for number in numbers[1:]:
        if number.isdigit() and previous.isdigit() and int(number) == int(previous) + 1:
            previous = number
            continue
        parts.append(start if start == previous else f"{start}-{previous}")
        start = previous = number
    parts.append(start if start == previous else f"{start}-{previous}")
    return ", ".join(parts)


def slip_pdf(view: ShiftView, seller_login: str, utc_offset_min: int) -> bytes:
    slip = view.slip
    assert slip is not None, "a closed shift has its slip"
    pdf = FPDF(format=(148, 210))  # A5, in mm
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    font = os.environ.get("KEYUN_SLIP_FONT", "")
    chinese = bool(font) and os.path.exists(font)
    if chinese:
        pdf.add_font("slip", "", font)
        pdf.set_font("slip", size=10)
    else:
        pdf.set_font("Helvetica", size=10)

    def line(label: str, value: str, bold: bool = False) -> None:
        if not chinese:
            pdf.set_font("Helvetica", "B" if bold else "", 10)
        pdf.cell(70, 6, label)
        pdf.cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")

    title = "交接单 Shift handover slip" if chinese else "Shift handover slip (Jiaojie dan)"
    if not chinese:
        pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    line("Shift", view.shift_id)
    line("Seller", seller_login)
    line("Counter", view.counter_id)
    line("Opened", _local(slip.opened_at_ms, utc_offset_min))
    line("Closed", _local(slip.closed_at_ms, utc_offset_min))
    pdf.ln(2)
    line("Tickets sold", f"{slip.sold_count}   {yuan(slip.sold_fen)} yuan")
    line("Tickets voided (feipiao)", f"{slip.voided_count}   {yuan(slip.voided_fen)} yuan")
    line("Tickets refunded", f"{slip.refunded_count}   {yuan(slip.refunded_fen)} yuan paid back")
    line("Refund fees kept", f"{yuan(slip.refund_fees_fen)} yuan")
    line("Tickets reprinted", str(slip.reprinted_count))
    line("Tickets changed (gaiqian)", f"{slip.changed_count}   {yuan(slip.changed_fen)} yuan difference")
    pdf.ln(2)
    for total in slip.methods:
        line(
            f"  {total.method}",
            f"sold {yuan(total.sold_fen)}  voided {yuan(total.voided_fen)}  "
            f"refunded {yuan(total.refunded_fen)}  changed {yuan(total.changed_fen)}  net {yuan(total.net_fen)}",
        )
    pdf.ln(2)
    line("Paper numbers used", _ranges(slip.numbers_used))
    for number, reason in slip.spoiled:
        line(f"  spoiled {number}", reason)
    if slip.unnumbered:
        line("Sold without a paper number", ", ".join(slip.unnumbered))
    pdf.ln(2)
    line("Cash expected", f"{yuan(slip.expected_cash_fen)} yuan", bold=True)
    line("Cash counted", f"{yuan(slip.counted_cash_fen)} yuan", bold=True)
    over_short = "over" if slip.over_short_fen > 0 else "short" if slip.over_short_fen < 0 else "even"
    line("Over / short", f"{yuan(slip.over_short_fen)} yuan ({over_short})", bold=True)
    if view.deposited_at_ms:
        line(
            "Deposit confirmed (jiaokuan)",
            f"{yuan(view.deposit_fen)} yuan, {_local(view.deposited_at_ms, utc_offset_min)}",
        )
    pdf.ln(8)
    line("Seller signature", "____________________")
    line("Finance signature", "____________________")
    return bytes(pdf.output())
