"""`keyun shift` (a counter seller's shift: open, show, void, reprint, spoil, close, list),
`keyun stock` (paper ticket stock: receive, issue, list) and `keyun finance deposit` (docs/shifts.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from keyun.v1 import orders_pb2, shifts_pb2

from . import printing
from .cli import _client, _common
from .flows import name, show, table


def _money(text: str) -> int:
    """Yuan as typed at a counter ("123.5", "80") in fen."""
    try:
        yuan, _, fen = text.strip().partition(".")
        if not yuan.isdigit() or (fen and (not fen.isdigit() or len(fen) > 2)):
            raise ValueError(text)
        return int(yuan) * 100 + int(fen.ljust(2, "0") or 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in yuan, like 1234.50") from None


def shift_text(shift: shifts_pb2.Shift) -> str:
    lines = [
        f"shift {shift.shift_id}  counter {shift.counter_id}  {name(shifts_pb2.ShiftStatus, shift.status)}",
        f"opened {printing.local(shift.opened_at)}  closed {printing.local(shift.closed_at)}",
        f"paper numbers left {shift.numbers_left}, next {shift.next_number or '-'}",
    ]
    if shift.numbers:
        rows = [(u.number, u.ticket_id or "-", u.spoiled or "printed") for u in shift.numbers]
        lines.append(table(("number", "ticket", "use"), rows))
    if shift.HasField("slip"):
        lines.append(slip_text(shift.slip))
    if shift.deposit_fen or shift.deposited_by:
        lines.append(f"deposit confirmed {printing.yuan(shift.deposit_fen)} at {printing.local(shift.deposited_at)}")
    return "\n".join(lines)


def money(fen: int) -> str:
    """Yuan with a sign: a slip's differences and over/short may be negative."""
    return ("-" if fen < 0 else "") + printing.yuan(abs(fen))


def slip_text(slip: shifts_pb2.Slip) -> str:
    y = money
    lines = [
        "handover slip (交接单)",
        f"  sold      {slip.sold_count:>4}  {y(slip.sold_fen)}",
        f"  voided    {slip.voided_count:>4}  {y(slip.voided_fen)}",
        f"  refunded  {slip.refunded_count:>4}  {y(slip.refunded_fen)} paid back, fees kept {y(slip.refund_fees_fen)}",
        f"  reprinted {slip.reprinted_count:>4}",
        f"  changed   {slip.changed_count:>4}  {y(slip.changed_fen)} difference",
    ]
    lines += [
        f"  {name(orders_pb2.PayMethod, m.method):<5} sold {y(m.sold_fen)}  voided {y(m.voided_fen)}  "
        f"refunded {y(m.refunded_fen)}  changed {y(m.changed_fen)}  net {y(m.net_fen)}"
        for m in slip.methods
    ]
    lines.append(f"  numbers used {', '.join(slip.numbers_used) or '-'}")
    lines += [f"  spoiled {s.number}: {s.reason}" for s in slip.spoiled]
    if slip.unnumbered_ticket_ids:
        lines.append(f"  sold without a paper number: {', '.join(slip.unnumbered_ticket_ids)}")
    lines.append(
        f"  cash expected {y(slip.expected_cash_fen)}, counted {y(slip.counted_cash_fen)}, "
        f"over/short {y(slip.over_short_fen)}"
    )
    return "\n".join(lines)


def stock_text(stock: shifts_pb2.StockPage) -> str:
    batches = [(b.batch_id, b.batch_code or "-", b.first, b.last, b.unissued) for b in stock.batches]
    ranges = [(r.range_id, r.account_id, r.first, r.last, r.next or "used up", r.left) for r in stock.ranges]
    return "\n".join(
        [
            table(("batch", "code", "first", "last", "unissued"), batches, empty="no stock"),
            table(("range", "seller", "first", "last", "next", "left"), ranges, empty="no ranges issued"),
        ]
        + ([f"more: --page-token {stock.next_page_token}"] if stock.next_page_token else [])
    )


def _close(args: argparse.Namespace) -> None:
    client = _client(args)
    shift = client.close_shift(args.counted, args.request_id)
    if args.pdf:
        _write_pdf(client, shift.shift_id, args.pdf)
    show(args, shift, shift_text(shift) + (f"\nslip written to {args.pdf}" if args.pdf else ""))


def _write_pdf(client, shift_id: str, path: Path) -> None:
    slip = client.slip_pdf(shift_id)
    path.write_bytes(slip.pdf)


def _slip(args: argparse.Namespace) -> None:
    client = _client(args)
    slip = client.slip_pdf(args.shift_id)
    path = args.out or Path(slip.file_name)
    path.write_bytes(slip.pdf)
    show(args, shifts_pb2.GetSlipPdfResponse(file_name=str(path)), f"slip written to {path}")


def _list(args: argparse.Namespace) -> None:
    page = _client(args).shifts_page(args.page_size, args.page_token, args.account or "")
    rows = [
        (s.shift_id, s.account_id, s.counter_id, name(shifts_pb2.ShiftStatus, s.status), printing.local(s.opened_at))
        for s in page.shifts
    ]
    more = f"\nmore: --page-token {page.next_page_token}" if page.next_page_token else ""
    show(args, page, table(("shift", "seller", "counter", "status", "opened"), rows, empty="no shifts") + more)


def add_verbs(verbs) -> None:
    shift = verbs.add_parser(
        "shift", help="a counter seller's shift: open, show, void, reprint, spoil, close, slip, list"
    ).add_subparsers(dest="action", required=True)

    p = shift.add_parser("open", help="open your shift at a counter")
    p.add_argument("--counter", required=True, help="this counter's id, e.g. W01")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: show(a, s := _client(a).open_shift(a.counter, a.request_id), shift_text(s)))

    p = shift.add_parser("show", help="your open shift, or a shift by id: numbers used and spoiled, the slip")
    p.add_argument("shift_id", nargs="?", default="")
    _common(p)
    p.set_defaults(run=lambda a: show(a, s := _client(a).shift(a.shift_id), shift_text(s)))

    p = shift.add_parser("void", help="void (废票) a sale of your open shift: in full, no fee, within the void window")
    p.add_argument("ticket_id")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(
        run=lambda a: show(
            a,
            v := _client(a).void_ticket(a.ticket_id, a.request_id),
            printing.ticket_text(v.ticket) + f"\npaper number {v.spoiled_number or '-'} spoiled",
        )
    )

    p = shift.add_parser("reprint", help="print a ticket again on the next paper number; the old one is spoiled")
    p.add_argument("ticket_id")
    p.add_argument("--reason", default="", help='"reprint" or "reprint: <note>"')
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(
        run=lambda a: show(
            a,
            r := _client(a).reprint(a.ticket_id, a.reason, a.request_id),
            f"{a.ticket_id}: now on {r.paper_number.number}, {r.spoiled_number} spoiled",
        )
    )

    p = shift.add_parser("spoil", help="spoil your next paper number (a jam, a skipped sheet)")
    p.add_argument("reason", help='jam, skip or misprint, optionally "jam: <note>"')
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: show(a, s := _client(a).spoil_number(a.reason, a.request_id), shift_text(s)))

    p = shift.add_parser("close", help="close your shift with the cash counted; prints the handover slip")
    p.add_argument("--counted", type=_money, required=True, help="cash counted in the drawer, in yuan (e.g. 1234.50)")
    p.add_argument("--pdf", type=Path, help="also write the slip as a PDF here")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=_close)

    p = shift.add_parser("slip", help="write a closed shift's handover slip as a PDF")
    p.add_argument("shift_id")
    p.add_argument("--out", type=Path, help="where (default slip-<shift>.pdf here)")
    _common(p)
    p.set_defaults(run=_slip)

    p = shift.add_parser("list", help="shifts, newest first (sellers: their own)")
    p.add_argument("--account", help="only this seller's (account id)")
    p.add_argument("--page-size", type=int, default=20)
    p.add_argument("--page-token", default="")
    _common(p)
    p.set_defaults(run=_list)

    stock = verbs.add_parser("stock", help="paper ticket stock (票据): receive, issue to sellers, list").add_subparsers(
        dest="action", required=True
    )
    p = stock.add_parser("receive", help="receive a batch of pre-numbered paper tickets")
    p.add_argument("first", help="the batch's first number as printed, e.g. 00010001")
    p.add_argument("last", help="its last number, with as many digits")
    p.add_argument("--code", default="", help="the batch code the tax authority printed, if any")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(
        run=lambda a: show(a, s := _client(a).receive_stock(a.first, a.last, a.code, a.request_id), stock_text(s))
    )

    p = stock.add_parser("issue", help="issue a range of a batch to a counter seller")
    p.add_argument("batch_id")
    p.add_argument("first")
    p.add_argument("last")
    p.add_argument("--seller", required=True, help="the counter seller's login name")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(
        run=lambda a: show(
            a, s := _client(a).issue_stock(a.batch_id, a.seller, a.first, a.last, a.request_id), stock_text(s)
        )
    )

    p = stock.add_parser("list", help="batches received and the ranges issued")
    p.add_argument("--page-size", type=int, default=20)
    p.add_argument("--page-token", default="")
    _common(p)
    p.set_defaults(run=lambda a: show(a, s := _client(a).stock_page(a.page_size, a.page_token), stock_text(s)))

    finance = _subcommands(verbs, "finance")  # `keyun finance` is terminals/orders_cli.py's
    p = finance.add_parser("deposit", help="confirm a closed shift's money was received (缴款)")
    p.add_argument("shift_id")
    p.add_argument("--amount", type=_money, required=True, help="the amount received, in yuan")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(
        run=lambda a: show(a, s := _client(a).confirm_deposit(a.shift_id, a.amount, a.request_id), shift_text(s))
    )


def _subcommands(verbs, verb: str):
    """The sub-command list of a verb another module added, to add actions to it."""
    parser = verbs.choices[verb]
    return next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
