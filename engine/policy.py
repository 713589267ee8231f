"""Station rules an owner decides by: hold lifetime, boarding window, refund fees.

The defaults follow the national bus-station rules: a refund more than two hours before the
coach leaves costs 10 % of the fare but at least 0.5 yuan, within two hours 20 % but at least
1 yuan, and after departure there is none.  A trip the station cancelled refunds in full.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .fares import COMPONENTS, DOCUMENT_RULES, ROUND_STEPS_FEN, ROUNDINGS, FareRules
from .limits import DEFAULT_HOLD_TTL_MS
from .values import Value

if TYPE_CHECKING:  # the accounts owner hosts the station rules scheduled at runtime, which are Policies
    from .accounts import AccountRules

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
DAY_MS = 24 * HOUR_MS
# A trip is archived this long after it left its last stop: long enough for a month's
# reconciliation with the payment providers and its corrections, which read the trips' money.
DEFAULT_ARCHIVE_AFTER_DAYS = 62
MIN_ARCHIVE_AFTER_DAYS, MAX_ARCHIVE_AFTER_DAYS = 31, 3650


class RefundTier(Value):
    min_ms_before: int  # the tier applies when more than this long before departure
    fee_basis_points: int  # 1000 = 10 %
    min_fee_fen: int = 0  # the fee is at least this (never more than the fare)


class Policy(Value):
    hold_ttl_ms: int = DEFAULT_HOLD_TTL_MS
    boarding_opens_ms: int = 60 * MINUTE_MS  # check-in opens this long before the coach leaves the stop
    boarding_closes_ms: int = 5 * MINUTE_MS  # ...and closes this long after, unless dispatch says it left
    sales_close_ms: int = 0  # sales stop this long before departure from the boarding stop
    refund_tiers: tuple[RefundTier, ...] = (RefundTier(2 * HOUR_MS, 1000, 50), RefundTier(0, 2000, 100))
    archive_after_ms: int = (
        DEFAULT_ARCHIVE_AFTER_DAYS * DAY_MS
    )  # a trip leaves the owner's memory this long after its last stop
    fares: FareRules = FareRules()  # ticket types and fare components (the policy file's [fares])
    void_window_ms: int = 10 * MINUTE_MS  # a counter sale may be voided (废票) this long after it, in its shift
    # Real-name boarding (the policy file's [boarding]): a gate lane asks for the holder's identity
    # card after a ticket, and lets through only when it matches (terminals/boarding_core.py).
    require_document_match: bool = False
    # The safety check (安检, the policy file's [dispatch]): check-in for a trip opens only after its
    # safety check has passed (Fleet/RecordSafetyCheck); a failed check keeps it closed.
    require_safety_check: bool = False

    def __post_init__(self) -> None:
        tiers = [tier.min_ms_before for tier in self.refund_tiers]
        assert tiers == sorted(tiers, reverse=True), "refund tiers run from earliest to latest"
        assert all(0 <= tier.fee_basis_points <= 10_000 for tier in self.refund_tiers)

    def refund_fee_fen(self, price_fen: int, ms_before_departure: int) -> int | None:
        """The fee for refunding this long before departure, or None when no refund is allowed."""
        for tier in self.refund_tiers:
            if ms_before_departure > tier.min_ms_before:
                return min(price_fen, max(tier.min_fee_fen, (price_fen * tier.fee_basis_points + 5000) // 10_000))
        return None


class PolicyError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


POLICY_KEYS = {
    "hold_minutes",
    "boarding_opens_minutes",
    "boarding_closes_minutes",
    "sales_close_minutes",
    "refund_tiers",
    "archive_after_days",
    "accounts",
    "fares",
    "void_minutes",
    "boarding",
    "dispatch",
}
DISPATCH_KEYS = {"require_safety_check"}
BOARDING_KEYS = {"require_document_match"}
ACCOUNT_KEYS = {
    "idle_session_minutes",
    "max_failed_logins",
    "lockout_minutes",
    "device_offline_seconds",
    "device_behind_seconds",
    "sms_codes_per_client_hour",
}
MAX_POLICY_MINUTES = 24 * 60


def parse_policy(doc: dict[str, Any]) -> Policy:
    """A station's rules from a policy file (TOML, docs/operations.md); every problem is named.

    hold_minutes = 10
    boarding_opens_minutes = 60
    boarding_closes_minutes = 5
    sales_close_minutes = 0
    refund_tiers = [
        { hours_before = 2, fee_percent = 10, min_fee_fen = 50 },
        { hours_before = 0, fee_percent = 20, min_fee_fen = 100 },
    ]
    archive_after_days = 62
    void_minutes = 10
    """
    problems = [
        f"{key}: unknown key (expected one of {', '.join(sorted(POLICY_KEYS))})"
        for key in sorted(set(doc) - POLICY_KEYS)
    ]
    defaults = Policy()

    def minutes(key: str, default_ms: int, low: int) -> int:
        value = doc.get(key, default_ms // MINUTE_MS)
        if type(value) is not int or not low <= value <= MAX_POLICY_MINUTES:
            problems.append(f"{key}: must be a whole number of minutes in {low}..{MAX_POLICY_MINUTES}")
            return default_ms
        return value * MINUTE_MS

    hold_ms = minutes("hold_minutes", defaults.hold_ttl_ms, 1)
    if hold_ms > 30 * MINUTE_MS:
        problems.append("hold_minutes: at most 30 (a hold keeps seats from everyone else)")
    opens_ms = minutes("boarding_opens_minutes", defaults.boarding_opens_ms, 0)
    closes_ms = minutes("boarding_closes_minutes", defaults.boarding_closes_ms, 0)
    sales_ms = minutes("sales_close_minutes", defaults.sales_close_ms, 0)
    tiers = _parse_tiers(doc.get("refund_tiers"), problems) if "refund_tiers" in doc else defaults.refund_tiers
    archive_days = doc.get("archive_after_days", DEFAULT_ARCHIVE_AFTER_DAYS)
    if type(archive_days) is not int or not MIN_ARCHIVE_AFTER_DAYS <= archive_days <= MAX_ARCHIVE_AFTER_DAYS:
        problems.append(
            f"archive_after_days: must be a whole number of days in {MIN_ARCHIVE_AFTER_DAYS}..{MAX_ARCHIVE_AFTER_DAYS}"
        )
    fares = parse_fares(doc.get("fares", {}), problems)
    void_ms = minutes("void_minutes", defaults.void_window_ms, 0)
    if void_ms > 60 * MINUTE_MS:
        problems.append("void_minutes: at most 60 (a void gives everything back, with no fee)")
    document_match = _parse_boarding(doc.get("boarding", {}), problems)
    safety_check = _parse_dispatch(doc.get("dispatch", {}), problems)
    if problems:
        raise PolicyError(problems)
    return Policy(
        hold_ms,
        opens_ms,
        closes_ms,
        sales_ms,
        tiers,
        archive_days * DAY_MS,
        fares,
        void_ms,
        document_match,
        safety_check,
    )


def _parse_dispatch(table: Any, problems: list[str]) -> bool:
    """The `[dispatch]` table: `require_safety_check = true` opens check-in only after the trip's
    safety check (安检) has passed."""
    if not isinstance(table, dict):
        problems.append("dispatch: must be a table")
        return False
    problems += [
        f"dispatch.{key}: unknown key (expected one of {', '.join(sorted(DISPATCH_KEYS))})"
        for key in sorted(set(table) - DISPATCH_KEYS)
    ]
    value = table.get("require_safety_check", False)
    if type(value) is not bool:
        problems.append("dispatch.require_safety_check: must be true or false")
        return False
    return value


def _parse_boarding(table: Any, problems: list[str]) -> bool:
    """The `[boarding]` table: `require_document_match = true` for real-name boarding at the gates."""
    if not isinstance(table, dict):
        problems.append("boarding: must be a table")
        return False
    problems += [
        f"boarding.{key}: unknown key (expected one of {', '.join(sorted(BOARDING_KEYS))})"
        for key in sorted(set(table) - BOARDING_KEYS)
    ]
    value = table.get("require_document_match", False)
    if type(value) is not bool:
        problems.append("boarding.require_document_match: must be true or false")
        return False
    return value


FARE_KEYS = {
    "child_percent",
    "concession_percent",
    "student_percent",
    "service_fee_fen",
    "fuel_surcharge_fen",
    "insurance_fen",
    "round_to_fen",
    "rounding",
    "minimum_fare_fen",
    "refundable",
    "one_ticket_per_document",
    "free_child_percent",
}
MAX_COMPONENT_FEN = 100_000  # 1000 yuan: more is a typing slip


def parse_fares(table: object, problems: list[str]) -> FareRules:
    """The `[fares]` table of a policy file (docs/tickets.md); each problem is added to `problems`.

    [fares]
    child_percent = 50
    concession_percent = 50
    student_percent = 50
    service_fee_fen = 0
    fuel_surcharge_fen = 0
    insurance_fen = 300
    round_to_fen = 1            # 1, 10, 50 or 100
    rounding = "half_up"        # half_up, half_down, up or down
    minimum_fare_fen = 0
    refundable = ["base", "service_fee", "fuel_surcharge"]
    one_ticket_per_document = "overlapping"   # or "trip", or "off"
    free_child_percent = 10
    """
    defaults = FareRules()
    if not isinstance(table, dict):
        problems.append("fares: must be a table")
        return defaults
    problems.extend(
        f"fares.{key}: unknown key (expected one of {', '.join(sorted(FARE_KEYS))})"
        for key in sorted(set(table) - FARE_KEYS)
    )

    def whole(key: str, low: int, high: int, unit: str) -> int:
        value = table.get(key, getattr(defaults, key))
        if type(value) is not int or not low <= value <= high:
            problems.append(f"fares.{key}: must be a whole number of {unit} in {low}..{high}")
            return int(getattr(defaults, key))
        return value

    def choice(key: str, allowed: tuple[object, ...]) -> object:
        value = table.get(key, getattr(defaults, key))
        if type(value) is not type(getattr(defaults, key)) or value not in allowed:
            problems.append(f"fares.{key}: must be one of {', '.join(map(str, allowed))}")
            return getattr(defaults, key)
        return value

    child, concession, student = (
        whole(f"{kind}_percent", 0, 100, "percent") for kind in ("child", "concession", "student")
    )
    service_fee, fuel, insurance = (
        whole(key, 0, MAX_COMPONENT_FEN, "fen") for key in ("service_fee_fen", "fuel_surcharge_fen", "insurance_fen")
    )
    step = choice("round_to_fen", ROUND_STEPS_FEN)
    rounding = choice("rounding", ROUNDINGS)
    minimum = whole("minimum_fare_fen", 0, MAX_COMPONENT_FEN, "fen")
    refundable = table.get("refundable", list(defaults.refundable))
    if (
        not isinstance(refundable, list)
        or not set(refundable) <= set(COMPONENTS)
        or len(set(refundable)) != len(refundable)
    ):
        problems.append(f"fares.refundable: must be a list of distinct components from {', '.join(COMPONENTS)}")
        refundable = list(defaults.refundable)
    one_per_document = choice("one_ticket_per_document", DOCUMENT_RULES)
    return FareRules(
        child_percent=child,
        concession_percent=concession,
        student_percent=student,
        service_fee_fen=service_fee,
        fuel_surcharge_fen=fuel,
        insurance_fen=insurance,
        round_to_fen=step if isinstance(step, int) else defaults.round_to_fen,
        rounding=str(rounding),
        minimum_fare_fen=minimum,
        refundable=tuple(refundable),
        one_ticket_per_document=str(one_per_document),
        free_child_percent=whole("free_child_percent", 0, 100, "percent"),
    )


def parse_account_rules(doc: dict[str, Any]) -> AccountRules:
    """The `[accounts]` table of a policy file: session idle time and the login lock-out.

    [accounts]
    idle_session_minutes = 30
    max_failed_logins = 5
    lockout_minutes = 15
    device_offline_seconds = 90   # no heartbeat for this long: the device is offline (docs/devices.md)
    device_behind_seconds = 300   # a last sync older than this: the device is behind
    sms_codes_per_client_hour = 20   # SMS codes asked from one client address an hour (docs/notices.md)
    """
    from .accounts import AccountRules  # here: engine/accounts.py imports this module's Policy

    table = doc.get("accounts", {})
    if not isinstance(table, dict):
        raise PolicyError(["accounts: must be a table"])
    problems = [
        f"accounts.{key}: unknown key (expected one of {', '.join(sorted(ACCOUNT_KEYS))})"
        for key in sorted(set(table) - ACCOUNT_KEYS)
    ]
    defaults = AccountRules()

    def whole(key: str, default: int, low: int, high: int) -> int:
        value = table.get(key, default)
        if type(value) is not int or not low <= value <= high:
            problems.append(f"accounts.{key}: must be a whole number in {low}..{high}")
            return default
        return value

    # GB/T 22239 level 3 wants idle sessions to end and repeated failures to lock: allow tuning,
    # not switching either off.
    idle = whole("idle_session_minutes", defaults.idle_ms // MINUTE_MS, 1, 8 * 60)
    failures = whole("max_failed_logins", defaults.max_failed_logins, 3, 10)
    lockout = whole("lockout_minutes", defaults.lockout_ms // MINUTE_MS, 1, 24 * 60)
    offline = whole("device_offline_seconds", defaults.device_offline_ms // 1000, 10, 24 * 3600)
    behind = whole("device_behind_seconds", defaults.device_behind_ms // 1000, 10, 7 * 24 * 3600)
    # A campus or a carrier's NAT puts many phones behind one address: allow more, never none.
    per_client = whole("sms_codes_per_client_hour", defaults.sms_codes_per_client_hour, 1, 10_000)
    if problems:
        raise PolicyError(problems)
    return AccountRules(
        idle * MINUTE_MS,
        failures,
        lockout * MINUTE_MS,
        device_offline_ms=offline * 1000,
        device_behind_ms=behind * 1000,
        sms_codes_per_client_hour=per_client,
    )


def _min_fee_ok(value: object) -> bool:
    return type(value) is int and 0 <= value <= 10_000


def _parse_tiers(value: object, problems: list[str]) -> tuple[RefundTier, ...]:
    if not isinstance(value, list) or not value:
        problems.append("refund_tiers: must be a non-empty array of { hours_before, fee_percent } tables")
        return ()
    tiers = []
    for n, tier in enumerate(value):
        hours, percent = (tier.get("hours_before"), tier.get("fee_percent")) if isinstance(tier, dict) else (None, None)
        if not isinstance(hours, (int, float)) or isinstance(hours, bool) or not 0 <= hours <= 24 * 30:
            problems.append(f"refund_tiers[{n}].hours_before: must be a number of hours in 0..720")
        elif not isinstance(percent, (int, float)) or isinstance(percent, bool) or not 0 <= percent <= 100:
            problems.append(f"refund_tiers[{n}].fee_percent: must be a percentage in 0..100")
        elif not _min_fee_ok(tier.get("min_fee_fen", 0)):
            problems.append(f"refund_tiers[{n}].min_fee_fen: must be a whole number of fen in 0..10000")
        else:
            tiers.append(RefundTier(int(hours * HOUR_MS), round(percent * 100), tier.get("min_fee_fen", 0)))
    if [t.min_ms_before for t in tiers] != sorted({t.min_ms_before for t in tiers}, reverse=True):
        problems.append("refund_tiers: hours_before must fall from one tier to the next")
    return tuple(tiers)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return str(value)


def _number(value: float) -> str:
    """A whole number without a decimal point, else as few decimals as it needs."""
    return str(int(value)) if value == int(value) else repr(value)


def fares_toml(fares: FareRules) -> str:
    """The `[fares]` table that parse_fares reads back as `fares`."""
    return "".join(f"{key} = {_toml_value(getattr(fares, key))}\n" for key in sorted(FARE_KEYS))


def policy_toml(policy: Policy) -> str:
    """A policy file that parse_policy reads back as `policy` (the `[accounts]` table aside, which
    is not a Policy's): how the station rules in force are shown (StationRules/GetStationRules)."""
    tiers = ",\n".join(
        f"    {{ hours_before = {_number(tier.min_ms_before / HOUR_MS)}, "
        f"fee_percent = {_number(tier.fee_basis_points / 100)}, min_fee_fen = {tier.min_fee_fen} }}"
        for tier in policy.refund_tiers
    )
    return (
        f"hold_minutes = {policy.hold_ttl_ms // MINUTE_MS}\n"
        f"boarding_opens_minutes = {policy.boarding_opens_ms // MINUTE_MS}\n"
        f"boarding_closes_minutes = {policy.boarding_closes_ms // MINUTE_MS}\n"
        f"sales_close_minutes = {policy.sales_close_ms // MINUTE_MS}\n"
        f"refund_tiers = [\n{tiers},\n]\n"
        f"archive_after_days = {policy.archive_after_ms // DAY_MS}\n"
        f"void_minutes = {policy.void_window_ms // MINUTE_MS}\n"
        f"\n[boarding]\nrequire_document_match = {_toml_value(policy.require_document_match)}\n"
        f"\n[dispatch]\nrequire_safety_check = {_toml_value(policy.require_safety_check)}\n"
        f"\n[fares]\n{fares_toml(policy.fares)}"
    )
