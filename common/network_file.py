"""Reading a network file's text, as the gateway loads it and as `keyun network check` checks it offline."""

from __future__ import annotations

import tomllib

from keyun.engine.limits import MAX_NETWORK_FILE_BYTES
from keyun.engine.network import ADVANCE_PROBLEM, CALENDAR_PROBLEM, FLOW_PROBLEM, Network, NetworkError, parse_network
from keyun.engine.reasons import Reason, Rejected, reject

MAX_PROBLEMS_SHOWN = 20


def parse_network_text(text: str) -> Network:
    """Parse a network file's text; raise Rejected(BAD_NETWORK) naming every problem found."""
    if len(text.encode()) > MAX_NETWORK_FILE_BYTES:
        raise _bad_network([f"the file is larger than {MAX_NETWORK_FILE_BYTES} bytes"])
    try:
        return parse_network(tomllib.loads(text))
    except tomllib.TOMLDecodeError as error:
        raise _bad_network([f"not valid TOML: {error}"]) from None
    except NetworkError as error:
        raise _bad_network(error.problems) from None


def _reason(problems: list[str]) -> Reason:
    """BAD_CALENDAR or BAD_ADVANCE_DAYS when every problem is about that one field of schedules, so
    a client can tell a timetable's dates from a broken file; BAD_NETWORK otherwise."""
    paths = [problem.partition(": ")[0] for problem in problems]
    if paths and all(path.startswith("schedules[") and CALENDAR_PROBLEM in path for path in paths):
        return Reason.BAD_CALENDAR
    if paths and all(path.startswith("schedules[") and path.endswith(ADVANCE_PROBLEM) for path in paths):
        return Reason.BAD_ADVANCE_DAYS
    if paths and all(path.startswith("schedules[") and FLOW_PROBLEM in path for path in paths):
        return Reason.BAD_FLOW
    return Reason.BAD_NETWORK


def _bad_network(problems: list[str]) -> Rejected:
    shown = problems[:MAX_PROBLEMS_SHOWN]
    more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
    return Rejected(
        reject(
            _reason(problems),
            "bad network file: " + "; ".join(shown) + more,
            field="network_toml",
            problems=len(problems),
        )
    )
