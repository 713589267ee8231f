"""`keyun counter`, `keyun gate` and `keyun network`: terminal commands over the client library."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from pathlib import Path

from keyun.common import eticket
from keyun.common.network_file import parse_network_text
from keyun.common.tls import TlsError
from keyun.engine.reasons import Rejected

from . import advice, gate_lane, printing, qr, sessions
from .client import DOCUMENT_TYPES, KeyunClient, KeyunError, walk_in

DEFAULT_SERVER = "127.0.0.1:50051"


def _client(args: argparse.Namespace) -> KeyunClient:
    """A client for this command: logged in for this command alone when --user is given (logged
    out again by `run`), else in the session `keyun login` saved for this server, if any."""
    client = KeyunClient(args.server, deadline_s=args.deadline, ca_file=args.ca, cert_file=args.cert, key_file=args.key)
    if args.user:
        password = os.environ.get("KEYUN_PASSWORD") or getpass.getpass(f"password for {args.user}: ")
        client.login(args.user, password, args.totp or "")
        args.opened.append(client)
    elif (saved := sessions.load(args.server)) is not None:
        client.access_token, client.refresh_token = saved
        args.resumed.append(client)
    return client


def add_session(verbs) -> None:
    p = verbs.add_parser(
        "login", help="log in once and keep the session for the following commands (until logout or idle)"
    )
    p.add_argument("login_name")
    _common(p)
    p.set_defaults(run=_login)
    p = verbs.add_parser("logout", help="end the saved session on the server and forget it here")
    _common(p)
    p.set_defaults(run=_logout)


def _login(args: argparse.Namespace) -> None:
    client = KeyunClient(args.server, deadline_s=args.deadline, ca_file=args.ca, cert_file=args.cert, key_file=args.key)
    password = os.environ.get("KEYUN_PASSWORD") or getpass.getpass(f"password for {args.login_name}: ")
    reply = client.login(args.login_name, password, args.totp or "")
    path = sessions.save(args.server, client.access_token, client.refresh_token)
    print(f"logged in as {reply.account.login_name} ({','.join(reply.account.roles)}); session kept in {path}")


def _logout(args: argparse.Namespace) -> None:
    client = _client(args)
    if client in args.resumed:
        client.logout()
        args.resumed.remove(client)
    sessions.forget(args.server)
    print("logged out")


def _emit(args: argparse.Namespace, message, text: str) -> None:
    print(json.dumps(printing.as_json(message), ensure_ascii=False, indent=2) if args.json else text)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        default=os.environ.get("KEYUN_SERVER") or DEFAULT_SERVER,
        help=f"Keyun gateway address (env KEYUN_SERVER; default {DEFAULT_SERVER})",
    )
    parser.add_argument("--deadline", type=float, default=5.0, help="seconds each call may take (default 5)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    # From the environment too, so a terminal's wrapper script or service unit sets them once.
    parser.add_argument(
        "--ca",
        type=Path,
        default=os.environ.get("KEYUN_CA") or None,
        help="the station CA certificate (ca.pem): connect with TLS (env KEYUN_CA)",
    )
    parser.add_argument(
        "--cert",
        type=Path,
        default=os.environ.get("KEYUN_CERT") or None,
        help="this device's certificate, for servers that require one (env KEYUN_CERT)",
    )
    parser.add_argument(
        "--key",
        type=Path,
        default=os.environ.get("KEYUN_KEY") or None,
        help="this device's private key (env KEYUN_KEY)",
    )
    parser.add_argument(
        "--user",
        default=os.environ.get("KEYUN_USER") or None,
        help="log in as this account (env KEYUN_USER); the password comes from env KEYUN_PASSWORD or a prompt",
    )
    parser.add_argument("--totp", help="the current code of an administrator's authenticator")


TRIP_HELP = "<schedule>-<YYYYMMDD>, e.g. K103-20261208 (the Beijing date it leaves its first stop)"


def _stations_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("from_station", type=printing.station_code, help="station code, e.g. SJZ (any case)")
    parser.add_argument("to_station", type=printing.station_code, help="station code, e.g. BD (any case)")


def _seats(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def add_counter(verbs) -> None:
    workstation = verbs.add_parser(
        "counter",
        help="ticket counter: with no verb the full-screen workstation; or search, seat map, sell, refund, print",
        description="With no verb: the counter workstation, a full-screen application for ticket sellers "
        "(docs/counter.md).  The verbs do one thing each from the command line.",
    )
    _common(workstation)
    workstation.add_argument(
        "--print-dir",
        type=Path,
        default=Path(os.environ.get("KEYUN_PRINT_DIR") or Path.home() / "keyun-tickets"),
        help="where ticket PDFs are written (env KEYUN_PRINT_DIR; default ~/keyun-tickets)",
    )
    workstation.add_argument(
        "--printer",
        type=Path,
        default=os.environ.get("KEYUN_PRINTER") or None,
        help="the ticket printer: a device such as /dev/usb/lp0, or a file (env KEYUN_PRINTER; "
        "default <print-dir>/ticket-printer.txt)",
    )
    workstation.add_argument(
        "--printer-format",
        choices=("escpos", "text"),
        default="text",
        help="what the ticket printer takes: ESC/POS (GB18030 text) or plain UTF-8 text (default text)",
    )
    workstation.add_argument("--terminal-id", default="", help="this counter's card (POS) terminal id")
    workstation.set_defaults(run=_workstation)
    counter = workstation.add_subparsers(dest="action")

    p = counter.add_parser("stations", help="list the stations served")
    _common(p)
    p.set_defaults(run=lambda a: _stations(a))

    p = counter.add_parser("search", help="trips between two stations on a date")
    _stations_args(p)
    p.add_argument("--date", type=printing.station_date, default="today", help=f"{printing.DATE_HELP} (default today)")
    _common(p)
    p.set_defaults(run=lambda a: _search(a))

    p = counter.add_parser("seats", help="the seat map of a trip for a segment")
    p.add_argument("trip_id", help=TRIP_HELP)
    _stations_args(p)
    _common(p)
    p.set_defaults(
        run=lambda a: _emit(
            a, m := _client(a).seat_map(a.trip_id, a.from_station, a.to_station), printing.seat_map_text(m)
        )
    )

    p = counter.add_parser(
        "sell", help="sell seats (named with --seats, or any --count, or one per walk-in --passenger)"
    )
    p.add_argument("trip_id", help=TRIP_HELP)
    _stations_args(p)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--seats", type=_seats, help="seat numbers, e.g. 3,4")
    group.add_argument("--count", type=int, help="any N seats, side by side when possible")
    p.add_argument(
        "--passenger",
        action="append",
        type=_walk_in,
        default=[],
        help=PASSENGER_HELP,
    )
    p.add_argument("--request-id", help="idempotency key (default: a new one)")
    _common(p)
    p.set_defaults(run=lambda a: _sell(a))

    p = counter.add_parser(
        "find", help="a passenger's tickets by document or phone (audited, with --purpose; needs passenger_trace)"
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--document", help="the document number (as printed on it)")
    who.add_argument("--phone", help="the phone number given at the sale")
    p.add_argument("--doc", default="RESIDENT_ID", choices=DOCUMENT_TYPES, type=str.upper, help="the document type")
    p.add_argument("--purpose", required=True, help="why the tickets are needed: recorded in the audit log")
    _common(p)
    p.set_defaults(run=lambda a: _find(a))

    p = counter.add_parser(
        "pickup",
        help="取票: the tickets bought online, by order code and a passenger's document or by the document alone; "
        "each is marked printed and picked up once (needs ticket_pickup)",
    )
    p.add_argument("--order", default="", help="the order code; without it, the document's own tickets")
    p.add_argument("--document", required=True, help="a passenger's document number (as printed on it)")
    p.add_argument("--doc", default="RESIDENT_ID", choices=DOCUMENT_TYPES, type=str.upper, help="the document type")
    p.add_argument("--request-id", help="a retry with the same id is given the same tickets again")
    _common(p)
    p.set_defaults(run=lambda a: _pick_up(a))

    p = counter.add_parser("refund", help="refund a ticket (fee by the station's schedule)")
    p.add_argument("ticket_id")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: _emit(a, t := _client(a).refund(a.ticket_id, a.request_id), printing.ticket_text(t)))

    p = counter.add_parser("ticket", help="show or print a ticket (with its boarding credential's QR code)")
    p.add_argument("ticket_id")
    p.add_argument(
        "--qr", type=Path, help="the boarding credential's QR code: to FILE.png or FILE.svg, or - for the terminal"
    )
    _common(p)
    p.set_defaults(run=_show_ticket)


def _show_ticket(args: argparse.Namespace) -> None:
    ticket = _client(args).ticket(args.ticket_id)
    text = printing.ticket_text(ticket)
    if args.qr is not None:
        if not ticket.credential:
            raise SystemExit(f"CREDENTIAL_REVOKED: ticket {ticket.ticket_id} may not board, so it has no credential")
        if str(args.qr) == "-":  # on the terminal (or a text printer), under the ticket
            text += "\n" + qr.qr_block(ticket.credential)
        else:
            try:
                qr.write_qr(ticket.credential, args.qr)
            except (OSError, ValueError) as error:
                raise SystemExit(f"{args.qr}: {getattr(error, 'strerror', None) or error}") from None
            text += f"\nQR code of the boarding credential written to {args.qr}"
    _emit(args, ticket, text)


def _verify(args: argparse.Namespace) -> None:
    """Fetch the keys once (a gate keeps them), then decide locally: no call names the ticket."""
    keys = _client(args).credential_keys()
    public = {key.key_id: eticket.public_key_from_raw(key.public_key) for key in keys.keys}
    try:
        boarding = eticket.verify(args.credential, public, int(time.time()))
    except eticket.CredentialRefused as refused:
        raise SystemExit(f"STOP {refused.reason.name}: {refused.message}") from None
    if args.json:
        fields = {name: getattr(boarding, name) for name in boarding.__struct_fields__}
        print(json.dumps(fields | {"document_digest": boarding.document_digest.hex()}, ensure_ascii=False))
        return
    print(
        f"PASS signature good (key {boarding.key_id})\n  ticket {boarding.ticket_id}  trip {boarding.trip_id}  "
        f"{boarding.travel_date}\n  {boarding.from_stop} → {boarding.to_stop}  seat {boarding.seat}  "
        f"{boarding.ticket_type}  {boarding.holder_name}"
    )


def _boarding_trips(args: argparse.Namespace) -> None:
    reply = _client(args).boarding_trips(args.station)
    lines = [
        f"{printing.local(t.departs_at, fmt='%H:%M')}  {t.trip.trip_id:<16} "
        f"{' → '.join(stop.code for stop in t.trip.stops)}"
        for t in reply.trips
    ]
    _emit(args, reply, "\n".join(lines) or f"no trips leave {args.station} in the next three hours")


def _conflicts(args: argparse.Namespace) -> None:
    if args.journal is not None:
        gate_lane.print_conflicts(args)
        return
    if not args.trip_id:
        raise SystemExit("keyun gate conflicts: name a trip, or a lane's --journal")
    conflicts = _client(args).conflicts(args.trip_id)
    if args.json:
        print(json.dumps([printing.as_json(c) for c in conflicts], ensure_ascii=False, indent=2))
        return
    print("\n".join(gate_lane.conflict_line(c) for c in conflicts) or f"no conflicts on {args.trip_id}")


def add_lane_arguments(
    p: argparse.ArgumentParser, gate_help: str = "this lane's gate id, e.g. G1", gate_required: bool = True
) -> None:
    """The options of the lane program (terminals/gate_lane.py): `keyun gate run` and `keyun handheld
    board` run the same program (a handheld's gate id may default to its device login)."""
    p.add_argument("--gate", required=gate_required, default="", help=gate_help)
    p.add_argument("--station", required=True, type=printing.station_code, help="the station it boards at")
    p.add_argument("--journal", required=True, type=Path, help="directory of the lane's durable journal")
    p.add_argument("--listen", help="HOST:PORT of a local socket: one scan a line, one JSON answer a line")
    p.add_argument("--stdin", action="store_true", help="read scans from stdin (a scanner in keyboard mode)")
    p.add_argument(
        "--plain", action="store_true", help="one line a scan on stdout, not the full-screen display (headless, tests)"
    )
    p.add_argument("--sync-every", type=float, default=2.0, help="seconds between refreshes (default 2)")
    p.add_argument(
        "--heartbeat-every", type=float, default=15.0, help="seconds between heartbeats of a registered device"
    )
    p.add_argument(
        "--require-document-match",
        action="store_true",
        help="real-name boarding: after a ticket, the holder's identity card must be scanned",
    )
    _common(p)


def add_gate(verbs) -> None:
    gate = verbs.add_parser("gate", help="boarding gate: check tickets in, trip manifest").add_subparsers(
        dest="action", required=True
    )

    p = gate.add_parser("checkin", help="check a ticket in, by its id or a scanned --credential")
    p.add_argument("ticket_id", nargs="?", default="")
    p.add_argument("--credential", default="", help="a scanned boarding credential (KY1...) instead of the id")
    p.add_argument("--gate", required=True, help="this gate's id, e.g. G3")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(
        run=lambda a: _emit(
            a,
            t := _client(a).check_in(a.ticket_id, a.gate, a.request_id, a.credential),
            "BOARD\n" + printing.ticket_text(t),
        )
    )

    p = gate.add_parser(
        "verify", help="verify a boarding credential with the station's public keys, as a gate does offline"
    )
    p.add_argument("credential", help="the scanned text (KY1...)")
    _common(p)
    p.set_defaults(run=_verify)

    p = gate.add_parser("run", help="the program of one lane: scans in, pass or stop out, offline too")
    add_lane_arguments(p)
    p.set_defaults(run=lambda a: gate_lane.run(a))

    p = gate.add_parser("trips", help="the trips boarding at a station now (leaving in the next three hours)")
    p.add_argument("station", type=printing.station_code)
    _common(p)
    p.set_defaults(run=_boarding_trips)

    p = gate.add_parser(
        "conflicts", help="offline scans that could not be applied: a trip's (the server's report) or a lane's"
    )
    p.add_argument("trip_id", nargs="?", default="", help=TRIP_HELP)
    p.add_argument("--journal", type=Path, help="instead of a trip: a lane's journal directory")
    _common(p)
    p.set_defaults(run=_conflicts)

    p = gate.add_parser("manifest", help="every ticket of a trip")
    p.add_argument("trip_id", help=TRIP_HELP)
    _common(p)
    p.set_defaults(run=lambda a: _manifest(a))


def add_network(verbs) -> None:
    network = verbs.add_parser(
        "network", help="check or load a network file (stations, routes, schedules)"
    ).add_subparsers(dest="action", required=True)

    p = network.add_parser("check", help="validate a network file without a server")
    p.add_argument("file", type=Path)
    p.set_defaults(run=lambda a: _check(a))

    add_network_load(network)
    add_network_diff(network)


def add_network_load(network) -> argparse.ArgumentParser:
    """`load`: under `keyun network`, and `keyun dispatch` too."""
    p = network.add_parser("load", help="schedule a network file's trips on a running server")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--first-date",
        type=printing.station_date,
        help=f"the first day: {printing.DATE_HELP} (default: the network's today)",
    )
    p.add_argument("--days", type=int, default=7, help="days of trips to schedule (default 7)")
    p.add_argument(
        "--from",
        dest="effective_from",
        type=printing.station_date,
        help=f"the file's terms apply from this day on: {printing.DATE_HELP} (unsold trips take them)",
    )
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: _load(a))
    return p


def add_network_diff(network) -> argparse.ArgumentParser:
    """`diff`: what loading a file would change against the network the server keeps."""
    p = network.add_parser("diff", help="show what loading a network file would change, without changing anything")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--from",
        dest="effective_from",
        type=printing.station_date,
        help=f"the day the load would take effect: {printing.DATE_HELP} (default today)",
    )
    _common(p)
    p.set_defaults(run=lambda a: _diff(a))
    return p


def run(args: argparse.Namespace) -> int:
    """Run a terminal verb.  Exit codes: 0 done; 1 refused, or the server not reached (what to do on
    stderr, or with --json the refusal as JSON on stdout); 2 a usage or TLS problem; 130 Ctrl-C;
    141 the reader of the output went away (`| head`), as for a command killed by SIGPIPE."""
    try:
        code = _run(args)
        sys.stdout.flush()  # here, so that a closed pipe is met inside the try
        return code
    except BrokenPipeError:
        # Nothing more can be written, and Python's flush at exit would complain: point stdout at nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(f"\nkeyun {args.verb}: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    args.opened, args.resumed = [], []
    try:
        try:
            args.run(args)
        finally:
            for client in args.resumed:  # a refresh during the command rotated the tokens, refused or not
                sessions.save(args.server, client.access_token, client.refresh_token)
        for client in args.opened:
            client.logout()
    except KeyunError as error:
        return advice.report(error, getattr(args, "server", ""), getattr(args, "json", False))
    except TlsError as error:
        print(f"keyun {args.verb}: TLS: {error}", file=sys.stderr)
        return 2
    return 0


def _workstation(args) -> None:
    from .counter_app import run  # Textual is loaded only for the workstation

    run(args)


def _stations(args) -> None:
    stations = _client(args).stations()
    if args.json:
        print(json.dumps([printing.as_json(s) for s in stations], ensure_ascii=False, indent=2))
    else:
        print("\n".join(f"{s.code:<6} {s.name}" for s in stations))


def _search(args) -> None:
    response = _client(args).search(args.from_station, args.to_station, args.date, page_size=500)
    _emit(args, response, printing.offers_table(response.offers))


PASSENGER_HELP = (
    "a walk-in passenger (实名制), repeatable: TYPE,NUMBER,NAME[,+ins][,doc=PASSPORT][,proof=KIND/NUMBER] "
    "with TYPE full, child, free_child, concession or student, e.g. child,11010120150307123X,张小明,+ins "
    "(docs/tickets.md); a free child takes no seat"
)
TICKET_TYPES = ("full", "child", "free_child", "concession", "student")


def _walk_in(text: str):
    """A --passenger option as a WalkInPassenger (the server validates the document)."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) < 3 or parts[0] not in TICKET_TYPES:
        raise argparse.ArgumentTypeError(f"expected TYPE,NUMBER,NAME with TYPE one of {', '.join(TICKET_TYPES)}")
    options: dict[str, object] = {}
    for option in parts[3:]:
        if option == "+ins":
            options["insurance"] = True
        elif option.startswith("doc="):
            options["document_type"] = option.removeprefix("doc=").upper()
            if options["document_type"] not in DOCUMENT_TYPES:
                raise argparse.ArgumentTypeError(f"doc= takes one of {', '.join(DOCUMENT_TYPES)}")
        elif option.startswith("proof=") and "/" in option:
            options["proof_type"], options["proof_number"] = option.removeprefix("proof=").split("/", 1)
        else:
            raise argparse.ArgumentTypeError(f"unknown option {option!r}: +ins, doc=TYPE or proof=KIND/NUMBER")
    return walk_in(parts[1], parts[2], parts[0], **options)  # type: ignore[arg-type]


def _sell(args) -> None:
    if not (args.seats or args.count or args.passenger):
        raise SystemExit("keyun counter sell: give --seats, --count or --passenger")
    response = _client(args).sell(
        args.trip_id,
        args.from_station,
        args.to_station,
        args.seats or (),
        args.count or 0,
        args.request_id,
        passengers=tuple(args.passenger),
    )
    text = "\n".join(printing.ticket_text(t) for t in response.tickets) + f"\ntotal {printing.yuan(response.total_fen)}"
    # A counter seller's sale in a shift: the paper number each ticket is printed on (docs/shifts.md).
    text += "".join(f"\npaper {p.ticket_id} {p.number}" for p in response.paper_numbers)
    _emit(args, response, text)


def _find(args) -> None:
    tickets = _client(args).find_passenger_tickets(
        args.purpose, document_number=args.document or "", document_type=args.doc, phone=args.phone or ""
    )
    if args.json:
        print(json.dumps([printing.as_json(t) for t in tickets], ensure_ascii=False, indent=2))
    else:
        print("\n".join(printing.ticket_text(t) for t in tickets) if tickets else "no tickets found")


def _pick_up(args) -> None:
    tickets = _client(args).pick_up_tickets(args.document, args.doc, args.order, args.request_id)
    if args.json:
        print(json.dumps([printing.as_json(t) for t in tickets], ensure_ascii=False, indent=2))
    else:
        print("\n".join(printing.ticket_text(t) for t in tickets))


def _manifest(args) -> None:
    client, token, tickets = _client(args), "", []
    while True:
        response = client.manifest(args.trip_id, page_size=500, page_token=token)
        tickets.extend(response.tickets)
        token = response.next_page_token
        if not token:
            break
    lines = [
        f"{args.trip_id}: {response.tickets_issued} issued, {response.tickets_checked_in} checked in, "
        f"{response.tickets_refunded} refunded"
    ]
    lines += [
        f"{t.seat_number:>4} {t.from_stop.code:>5}→{t.to_stop.code:<5} {t.ticket_id:<22} "
        f"{printing.TICKET_STATUS.get(t.status, '?'):<10} {t.gate_id}"
        for t in tickets
    ]
    if args.json:
        print(json.dumps([printing.as_json(t) for t in tickets], ensure_ascii=False, indent=2))
    else:
        print("\n".join(lines))


def _check(args) -> None:
    try:
        network = parse_network_text(args.file.read_text(encoding="utf-8"))
    except OSError as error:
        raise SystemExit(f"{args.file}: {error.strerror}") from None
    except Rejected as rejected:
        raise SystemExit(f"{args.file}: {rejected.rejection.message}") from None
    print(
        f"{args.file}: ok, {len(network.stations)} stations, {len(network.routes)} routes, {len(network.schedules)} "
        "schedules"
    )


def _load(args) -> None:
    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as error:
        raise SystemExit(f"{args.file}: {error.strerror}") from None
    effective_from = getattr(args, "effective_from", None) or ""
    response = _client(args).load_network(
        text, args.first_date or "", args.days, args.request_id, effective_from=effective_from
    )
    lines = [
        f"{response.trips_created} trips scheduled, {response.trips_unchanged} already there ({response.schedules} "
        f"schedules, {response.stations} stations)"
    ]
    if response.effective_from:
        lines.append(f"from {response.effective_from}: {response.trips_replaced} unsold trips took the new terms")
        if response.trips_retired:
            lines.append(f"cancelled (schedule dropped, nothing sold): {', '.join(response.trips_retired)}")
        if response.trips_left_sold:
            lines.append(f"left on their old terms (sold): {', '.join(response.trips_left_sold)}")
    _emit(args, response, "\n".join(lines))


def _diff(args) -> None:
    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as error:
        raise SystemExit(f"{args.file}: {error.strerror}") from None
    response = _client(args).diff_network(text, args.effective_from or "")
    _emit(args, response, "\n".join(diff_lines(response)))


def diff_lines(response) -> list[str]:
    """`keyun network diff`'s report, one change a line."""
    lines = [f"against the network kept by the server, from {response.effective_from}:"]
    if response.nothing_kept:
        lines.append("  the server keeps no network yet")
    lines += [f"  schedule added: {s}" for s in response.schedules_added]
    lines += [f"  schedule removed: {s}" for s in response.schedules_removed]
    lines += [f"  schedule changed: {c.schedule_id} ({', '.join(c.fields)})" for c in response.schedules_changed]
    lines += [f"  station renamed: {r.code} {r.old_name} -> {r.new_name}" for r in response.stations_renamed]
    for label, trips in (
        ("trips to create", response.trips_to_create),
        ("trips to replace (unsold)", response.trips_to_replace),
        ("trips to cancel (schedule removed, unsold)", response.trips_to_retire),
        ("trips left on their old terms (sold)", response.trips_left_sold),
    ):
        lines.append(f"  {label}: {len(trips)}" + (f": {', '.join(trips)}" if trips else ""))
    lines.append(f"  trips unchanged: {response.trips_unchanged}")
    return lines
