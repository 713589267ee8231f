"""`keyun admin rules show|schedule FILE --from TIME`: the station rules (the policy file) at
runtime, for the system administrator (docs/operations.md "Changing the station rules")."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import printing
from .board_cli import local_time
from .cli import _client, _common
from .client import new_request_id


def add_verbs(verbs) -> None:
    admin = verbs.add_parser("admin", help="station administration (system administrator)").add_subparsers(
        dest="area", required=True
    )
    rules = admin.add_parser("rules", help="the station rules: the policy file at runtime").add_subparsers(
        dest="action", required=True
    )
    p = rules.add_parser("show", help="the rules in force now and the changes scheduled after them")
    _common(p)
    p.set_defaults(run=_show)
    p = rules.add_parser("schedule", help="put a policy file's rules in force from a later time")
    p.add_argument("file", type=Path, help="a policy file (TOML, as for keyun serve --policy, without [accounts])")
    p.add_argument(
        "--from", dest="effective_at", type=local_time, required=True, help='local time, e.g. "2026-12-09 00:00"'
    )
    _common(p)
    p.set_defaults(run=_schedule)


def _show(args: argparse.Namespace) -> None:
    reply = _client(args).get_station_rules()
    if args.json:
        print(json.dumps(printing.as_json(reply), ensure_ascii=False, indent=2))
        return
    _print_set("in force now", reply.in_force)
    for change in reply.scheduled:
        _print_set("scheduled", change)


def _schedule(args: argparse.Namespace) -> None:
    client = _client(args)
    reply = client.schedule_station_rules(args.file.read_text(encoding="utf-8"), args.effective_at, new_request_id())
    if args.json:
        print(json.dumps(printing.as_json(reply), ensure_ascii=False, indent=2))
        return
    _print_set("scheduled", reply.scheduled)


def _print_set(title: str, rules) -> None:
    if rules.base:
        heading = f"{title}: the --policy file read at start"
    else:
        heading = f"{title}: from {printing.local(rules.effective_at)}, scheduled by {rules.scheduled_by}"
    print(f"# {heading}\n{rules.toml_text}")
