"""`keyun passenger`: a passenger's own account from the command line: register, frequent
passengers, their orders, and paying an order by wallet."""

from __future__ import annotations

import argparse
import getpass
import json
import os

from keyun.v1 import accounts_pb2, common_pb2, notices_pb2, orders_pb2

from . import printing
from .cli import DEFAULT_SERVER, _client, _common, _login
from .client import KeyunClient
from .flows import DOCUMENTS, WALLETS, name, show, table
from .orders_cli import add_order_arguments, create_order


def add_verbs(verbs) -> None:
    passenger = verbs.add_parser(
        "passenger", help="a passenger's account: register, frequent passengers, orders, pay by wallet"
    ).add_subparsers(dest="action", required=True)

    p = passenger.add_parser(
        "register", help="a new passenger account, logged in by phone number (password from env KEYUN_NEW_PASSWORD)"
    )
    p.add_argument("phone", help="mobile number, e.g. 13800138000; it is the login name")
    p.add_argument("--display-name", default="")
    p.add_argument(
        "--sms-code", default="", help="the code texted by `keyun passenger sms-code PHONE` (stations that send SMS)"
    )
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=_register)

    p = passenger.add_parser("sms-code", help="text a six-digit verification code to a phone (to register or reset)")
    p.add_argument("phone")
    p.add_argument("--purpose", choices=sorted(PURPOSES), default="register", help="default register")
    _common(p)
    p.set_defaults(run=_sms_code)

    p = passenger.add_parser(
        "reset-password",
        help="a new password with a code texted by `keyun passenger sms-code PHONE --purpose reset` (password from env "
        "KEYUN_NEW_PASSWORD); every session of the account ends",
    )
    p.add_argument("phone")
    p.add_argument("--sms-code", required=True)
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=_reset_password)

    p = passenger.add_parser("notices", help="your notices: trips delayed or cancelled, refunds paid, newest first")
    _common(p)
    p.set_defaults(run=_my_notices)

    p = passenger.add_parser(
        "login", help="log in by phone number and keep the session for the following commands (as `keyun login`)"
    )
    p.add_argument("login_name", metavar="phone", help="the mobile number the account was registered with")
    _common(p)
    p.set_defaults(run=_login)

    frequent = passenger.add_parser(
        "passengers", help="the frequent passengers of your account (the people tickets are in the name of)"
    ).add_subparsers(dest="passengers_action", required=True)
    p = frequent.add_parser("add", help="add a frequent passenger (real name and identity document)")
    p.add_argument("name")
    p.add_argument("document_number")
    p.add_argument("--document", choices=sorted(DOCUMENTS), default="resident_id", help="default resident_id")
    p.add_argument("--phone", default="")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=_add)
    p = frequent.add_parser("list", help="your frequent passengers (documents masked)")
    _common(p)
    p.set_defaults(run=_list)
    p = frequent.add_parser("remove", help="remove a frequent passenger")
    p.add_argument("passenger_id")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=_remove)

    p = passenger.add_parser("orders", help="your orders, newest first")
    _common(p)
    p.set_defaults(run=_orders)

    p = passenger.add_parser(
        "pay",
        help="hold seats for your passengers, order them by wallet and print the pay link (the server must take "
        "wallets, e.g. keyun serve --sandbox-pay)",
    )
    add_order_arguments(p, WALLETS, "wepay")
    _common(p)
    p.set_defaults(run=_pay)


def _register(args: argparse.Namespace) -> None:
    password = os.environ.get("KEYUN_NEW_PASSWORD") or getpass.getpass(f"new password for {args.phone}: ")
    client = KeyunClient(args.server, deadline_s=args.deadline, ca_file=args.ca, cert_file=args.cert, key_file=args.key)
    account = client.register(args.phone, password, args.display_name, args.request_id, args.sms_code)
    server = "" if args.server == DEFAULT_SERVER else f" --server {args.server}"
    show(
        args,
        account,
        f"registered {account.login_name} ({account.account_id}); log in with: keyun login {args.phone}{server}",
    )


PURPOSES = {
    "register": accounts_pb2.SMS_CODE_PURPOSE_REGISTER,
    "reset": accounts_pb2.SMS_CODE_PURPOSE_RESET_PASSWORD,
}


def _anonymous(args: argparse.Namespace) -> KeyunClient:
    return KeyunClient(args.server, deadline_s=args.deadline, ca_file=args.ca, cert_file=args.cert, key_file=args.key)


def _sms_code(args: argparse.Namespace) -> None:
    reply = _anonymous(args).request_sms_code(args.phone, PURPOSES[args.purpose])
    show(args, reply, f"a code is on its way to the phone; it works until {printing.local(reply.expires_at)}")


def _reset_password(args: argparse.Namespace) -> None:
    password = os.environ.get("KEYUN_NEW_PASSWORD") or getpass.getpass(f"new password for {args.phone}: ")
    _anonymous(args).reset_password(args.phone, args.sms_code, password, args.request_id)
    print(json.dumps({"reset": True}) if args.json else f"password reset; log in with: keyun login {args.phone}")


def notice_rows(notices) -> list[tuple[str, ...]]:
    return [
        (
            printing.local(n.created_at),
            name(notices_pb2.NoticeKind, n.kind),
            n.subject,
            ", ".join(f"{d.phone} {name(notices_pb2.DeliveryStatus, d.status)}" for d in n.deliveries) or "-",
            n.text,
        )
        for n in notices
    ]


NOTICE_COLUMNS = ("at", "kind", "about", "deliveries", "text")


def _my_notices(args: argparse.Namespace) -> None:
    notices = _client(args).list_my_notices(page_size=100).notices
    show(args, list(notices), table(NOTICE_COLUMNS, notice_rows(notices), empty="no notices"))


def add_notices_verbs(verbs) -> None:
    notices = verbs.add_parser(
        "notices", help="notices to passengers and their SMS deliveries (station staff)"
    ).add_subparsers(dest="action", required=True)
    p = notices.add_parser("list", help="every notice, newest first, with each delivery's status (phones masked)")
    p.add_argument("--failed", action="store_true", help="only notices with a delivery that failed for good")
    _common(p)
    p.set_defaults(run=_all_notices)


def _all_notices(args: argparse.Namespace) -> None:
    notices = _client(args).list_notices(failed_only=args.failed, page_size=200).notices
    show(args, list(notices), table(NOTICE_COLUMNS, notice_rows(notices), empty="no notices"))


def _add(args: argparse.Namespace) -> None:
    added = _client(args).add_passenger(
        args.name, DOCUMENTS[args.document], args.document_number, args.phone, args.request_id
    )
    show(args, added, f"added {added.passenger_id}  {added.name}  {added.document_number}")


def _list(args: argparse.Namespace) -> None:
    passengers = _client(args).passengers()
    rows = [
        (p.passenger_id, p.name, name(common_pb2.DocumentType, p.document_type), p.document_number, p.phone or "-")
        for p in passengers
    ]
    show(args, passengers, table(("id", "name", "document", "number", "phone"), rows, empty="no frequent passengers"))


def _remove(args: argparse.Namespace) -> None:
    _client(args).remove_passenger(args.passenger_id, args.request_id)
    print(json.dumps({"removed": args.passenger_id}) if args.json else f"removed {args.passenger_id}")


def _orders(args: argparse.Namespace) -> None:
    client, token, orders = _client(args), "", []
    while True:
        page = client.orders_page(page_size=100, page_token=token)
        orders.extend(page.orders)
        token = page.next_page_token
        if not token:
            break
    rows = [
        (
            o.order_id,
            name(orders_pb2.OrderStatus, o.status),
            f"{o.from_stop.code}→{o.to_stop.code}",
            printing.local(o.from_stop.departs_at),
            ",".join(o.seat_numbers),
            printing.yuan(o.amount_fen),
        )
        for o in orders
    ]
    show(args, orders, table(("order", "status", "segment", "departs", "seats", "amount"), rows, empty="no orders"))


def _pay(args: argparse.Namespace) -> None:
    created = create_order(args)
    if not args.json:
        print(
            f"\nOpen {created.pay_url} in a browser (or scan the QR text) and press Pay before "
            f"{printing.local(created.order.pay_by)}; then `keyun order watch {created.order.order_id}` shows it "
            "ticketed."
        )
