"""`keyun setup` (a production station's first administrators) and `keyun staff` (accounts, roles,
real-name look-ups): the administrators' side of the terminal CLI.

Passwords never go on the command line (it shows in `ps` and shell history): they come from the
environment or a prompt.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from collections.abc import Callable

from keyun.v1 import accounts_pb2, common_pb2, staff_pb2

from . import printing
from .cli import _client, _common
from .client import KeyunClient, new_request_id

ADMINISTRATORS = (
    ("system_admin", "system administrator"),
    ("security_admin", "security administrator"),
    ("audit_admin", "audit administrator"),
)
KINDS = {"staff": accounts_pb2.ACCOUNT_KIND_STAFF, "device": accounts_pb2.ACCOUNT_KIND_DEVICE}


def add_verbs(verbs) -> None:
    p = verbs.add_parser(
        "setup", help="create a production station's three administrators with the one-time setup token"
    )
    p.add_argument(
        "--token",
        default=os.environ.get("KEYUN_SETUP_TOKEN"),
        help="the token `keyun serve` printed (env KEYUN_SETUP_TOKEN)",
    )
    for role, title in ADMINISTRATORS:
        p.add_argument(
            f"--{role.replace('_', '-')}",
            dest=role,
            required=True,
            metavar="LOGIN_NAME",
            help=f"login name of the {title}",
        )
    _common(p)
    p.set_defaults(run=_setup)

    staff = verbs.add_parser(
        "staff", help="staff and device accounts, roles, real-name look-ups (administrators)"
    ).add_subparsers(dest="action", required=True)
    p = staff.add_parser("create", help="a staff or device account, without roles (system administrator)")
    p.add_argument("login_name")
    p.add_argument("--kind", choices=sorted(KINDS), default="staff")
    p.add_argument("--display-name", default="")
    p.add_argument(
        "--second-factor",
        action="store_true",
        help="staff: log in with a TOTP code too (needed to become an administrator)",
    )
    _common(p)
    p.set_defaults(run=_create)

    p = staff.add_parser("list", help="every account (system administrator)")
    _common(p)
    p.set_defaults(run=_list)

    p = staff.add_parser("disable", help="disable an account and end its sessions (system administrator)")
    p.add_argument("account_id")
    _common(p)
    p.set_defaults(run=_disable)

    p = staff.add_parser(
        "unlock", help="lift an account's lock-out after failed logins, at once (security administrator)"
    )
    p.add_argument("account_id")
    _common(p)
    p.set_defaults(run=_unlock)

    p = staff.add_parser("grant", help="set an account's roles and scope (security administrator)")
    p.add_argument("account_id")
    p.add_argument("--roles", required=True, help="comma-separated, e.g. ticket_seller,gate_inspector")
    p.add_argument("--stations", default="", help="comma-separated station codes, or * for all")
    p.add_argument("--operators", default="", help="comma-separated operator ids, or * for all")
    p.add_argument(
        "--cash-acceptor",
        action="store_true",
        help="kiosks: the kiosk has a cash acceptor, so it may take cash and sell without an order",
    )
    _common(p)
    p.set_defaults(run=_grant)

    p = staff.add_parser(
        "lookup", help="a frequent passenger's unmasked name and document, for a real-name check (audited)"
    )
    p.add_argument("account_id")
    p.add_argument("passenger_id")
    p.add_argument("--purpose", required=True, help="why, kept in the audit record")
    _common(p)
    p.set_defaults(run=_lookup)


def _password(prompt: str, env: str) -> str:
    return os.environ.get(env) or getpass.getpass(prompt)


def _setup(args: argparse.Namespace) -> None:
    if not args.token:
        raise SystemExit("keyun setup: give the setup token `keyun serve` printed (--token or KEYUN_SETUP_TOKEN)")
    admins = {
        role: staff_pb2.NewAdministrator(
            login_name=getattr(args, role),
            password=_password(f"password for the {title} {getattr(args, role)}: ", f"KEYUN_{role.upper()}_PASSWORD"),
        )
        for role, title in ADMINISTRATORS
    }
    client = KeyunClient(args.server, deadline_s=args.deadline, ca_file=args.ca, cert_file=args.cert, key_file=args.key)
    reply = client.call(client.staff.SetUp, staff_pb2.SetUpRequest(setup_token=args.token, **admins))
    if args.json:
        print(json.dumps([printing.as_json(a) for a in reply.administrators], ensure_ascii=False, indent=2))
        return
    print(
        "Administrators created.  Load each TOTP secret into that person's authenticator app now; it is not shown "
        "again."
    )
    for admin in reply.administrators:
        print(
            f"  {admin.account.login_name:<16} {','.join(admin.account.roles):<16} {admin.account.account_id}  secret "
            f"{admin.totp_secret}"
        )
        print(f"  {'':<16} {admin.totp_uri}")


def _create(args: argparse.Namespace) -> None:
    client = _client(args)
    password = "" if args.kind == "device" else _password(f"password for {args.login_name}: ", "KEYUN_NEW_PASSWORD")
    reply = client.call(
        client.staff.CreateAccount,
        staff_pb2.CreateAccountRequest(
            request_id=new_request_id(),
            kind=KINDS[args.kind],
            login_name=args.login_name,
            password=password,
            display_name=args.display_name,
            second_factor=args.second_factor,
        ),
    )
    if args.json:  # the whole reply: the secrets are shown this once
        print(json.dumps(printing.as_json(reply), ensure_ascii=False, indent=2))
        return
    _show(args, reply.account)
    if reply.device_secret:
        print(f"device secret (shown once; the device logs in with it): {reply.device_secret}")
    if reply.totp_secret:
        print(f"TOTP secret (shown once; load it into the authenticator app): {reply.totp_secret}\n{reply.totp_uri}")


def _list(args: argparse.Namespace) -> None:
    client, token, accounts = _client(args), "", []
    while True:
        page = client.call(client.staff.ListAccounts, staff_pb2.ListAccountsRequest(page_size=500, page_token=token))
        accounts.extend(page.accounts)
        token = page.next_page_token
        if not token:
            break
    if args.json:
        print(json.dumps([printing.as_json(a) for a in accounts], ensure_ascii=False, indent=2))
        return
    for account in accounts:
        print(_account_line(account))


def _on_account(rpc: str, request_type: type) -> Callable[[argparse.Namespace], None]:
    """A verb that sends one account id to a Staff RPC and shows the account it returns."""

    def run(args: argparse.Namespace) -> None:
        client = _client(args)
        reply = client.call(
            getattr(client.staff, rpc), request_type(request_id=new_request_id(), account_id=args.account_id)
        )
        _show(args, reply.account)

    return run


_disable = _on_account("DisableAccount", staff_pb2.DisableAccountRequest)
_unlock = _on_account("UnlockAccount", staff_pb2.UnlockAccountRequest)


def _grant(args: argparse.Namespace) -> None:
    split = lambda text: [part.strip() for part in text.split(",") if part.strip()]  # noqa: E731
    client = _client(args)
    reply = client.call(
        client.staff.GrantRoles,
        staff_pb2.GrantRolesRequest(
            request_id=new_request_id(),
            account_id=args.account_id,
            roles=split(args.roles),
            stations=split(args.stations),
            operators=split(args.operators),
            cash_acceptor=args.cash_acceptor,
        ),
    )
    _show(args, reply.account)


def _lookup(args: argparse.Namespace) -> None:
    client = _client(args)
    passenger = client.call(
        client.staff.LookUpPassenger,
        staff_pb2.LookUpPassengerRequest(
            account_id=args.account_id,
            passenger_id=args.passenger_id,
            purpose=args.purpose,
        ),
    ).passenger
    if args.json:
        print(json.dumps(printing.as_json(passenger), ensure_ascii=False, indent=2))
        return
    document = common_pb2.DocumentType.Name(passenger.document_type).removeprefix("DOCUMENT_TYPE_")
    print(f"{passenger.passenger_id}  {passenger.name}  {document}  {passenger.document_number}  {passenger.phone}")


def _account_line(account) -> str:
    kind = accounts_pb2.AccountKind.Name(account.kind).removeprefix("ACCOUNT_KIND_").lower()
    state = " ".join(
        word for word, present in (("cash-acceptor", account.cash_acceptor), ("disabled", account.disabled)) if present
    )
    return (
        f"{account.account_id}  {kind:<9} {account.login_name:<16} {','.join(account.roles) or '-':<40} "
        f"stations={','.join(account.stations) or '-'} {state}"
    )


def _show(args: argparse.Namespace, account) -> None:
    print(json.dumps(printing.as_json(account), ensure_ascii=False, indent=2) if args.json else _account_line(account))
