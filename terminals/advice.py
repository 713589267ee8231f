"""What a refused command tells a person: what to do next instead of protocol talk, and local times
instead of epoch milliseconds.  One table, ADVICE, for every terminal verb; `--json` gets the same
refusal as data."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable

from .client import KeyunError
from .printing import CHINA, local_ms

LOG_IN = "log in first: pass --user NAME (password from KEYUN_PASSWORD or a prompt), or run `keyun login NAME` once"


def _time_facts(error: KeyunError) -> dict[str, int]:
    """The facts that are moments (`retry_at_ms`, `locked_until_ms`, `boarding_opens_at_ms`...)."""
    return {
        key: int(value)
        for key, value in error.facts.items()
        if key.endswith(("_at_ms", "_until_ms")) and value.lstrip("-").isdigit()
    }


def _at(error: KeyunError, key: str) -> str:
    moment = _time_facts(error).get(key)
    return local_ms(moment) if moment is not None else "later"


# Reason (or, for a failure with no reason, the gRPC status) -> the line a person reads: what happened and
# what to do.  A reason not here is shown with the server's message.
ADVICE: dict[str, Callable[[KeyunError, str], str]] = {
    "NOT_AUTHENTICATED": lambda e, server: f"not logged in: {LOG_IN}",
    "TOKEN_EXPIRED": lambda e, server: f"the session expired: {LOG_IN}",
    "SESSION_ENDED": lambda e, server: f"the session has ended (logged out, idle or revoked): {LOG_IN}",
    "PERMISSION_DENIED": lambda e, server: (
        f"{e.message}: use an account that may (--user NAME), or ask the security administrator for the role "
        "(`keyun staff grant`)"
    ),
    "UNKNOWN_TRIP": lambda e, server: (
        f"{e.message}: a trip id is <schedule>-<YYYYMMDD>, the date the coach leaves its first stop (Beijing time), "
        "e.g. K103-20261208; `keyun counter search FROM TO --date today` lists the trips with their ids"
    ),
    "NOT_YET_BOARDING": lambda e, server: (
        f"boarding opens at {_at(e, 'boarding_opens_at_ms')}: check the ticket in then"
    ),
    "ACCOUNT_LOCKED": lambda e, server: (
        f"too many failed logins: the account is locked until {_at(e, 'locked_until_ms')}; wait until then, or ask "
        "the security administrator"
    ),
    "LOGIN_THROTTLED": lambda e, server: f"too soon after a failed login: try again at {_at(e, 'retry_at_ms')}",
    "TOO_MANY_LOGIN_ATTEMPTS": lambda e, server: (
        "other logins of this account are being checked right now: try again in a few seconds"
    ),
    "SECOND_FACTOR_REQUIRED": lambda e, server: (
        "this account needs its authenticator app's current code: pass --totp CODE"
    ),
    "TOTP_CODE_REUSED": lambda e, server: (
        "this code was used for a login already: wait for the authenticator app's next code (every 30 s) and pass it "
        "with --totp"
    ),
    "UNAVAILABLE": lambda e, server: (
        f"cannot reach the Keyun server at {server}: is `keyun serve` running there? (another address: --server "
        "HOST:PORT; a server with TLS: --ca ca.pem)"
    ),
    "DEADLINE_EXCEEDED": lambda e, server: (
        f"the Keyun server at {server} did not answer in time: try again, or allow longer with --deadline SECONDS"
    ),
}


def advice(error: KeyunError, server: str) -> str:
    said = ADVICE.get(error.reason or error.code.name)
    return said(error, server) if said is not None else error.message


def as_json(error: KeyunError, server: str) -> dict:
    """{"error": {"code", "reason", "reason_code", "message", "advice", ...facts}}; each moment among
    the facts also as an ISO time in the station's zone (`locked_until` beside `locked_until_ms`)."""
    body: dict[str, object] = {
        "code": error.code.name,
        "reason": error.reason or error.code.name,
        "reason_code": error.reason_code,
        "message": error.message,
        "advice": advice(error, server),
        **error.facts,
    }
    for key, moment in _time_facts(error).items():
        body[key.removesuffix("_ms")] = dt.datetime.fromtimestamp(moment / 1000, CHINA).isoformat(timespec="seconds")
    return {"error": body}


def report(error: KeyunError, server: str, as_data: bool) -> int:
    """Tell the refusal (JSON on stdout with --json, else lines on stderr); the exit code, 1."""
    if as_data:
        print(json.dumps(as_json(error, server), ensure_ascii=False, indent=2))
        return 1
    if not error.reason and error.code.name in ADVICE:  # the server was not reached, or did not answer
        print(f"keyun: {error.code.name}: {advice(error, server)}", file=sys.stderr)
        return 1
    print(f"refused: {error.reason or error.code.name}: {advice(error, server)}", file=sys.stderr)
    moments = _time_facts(error)
    for key, value in error.facts.items():
        shown = local_ms(moments[key]) if key in moments else value
        print(f"  {key.removesuffix('_ms') if key in moments else key}: {shown}", file=sys.stderr)
    return 1
