"""Operator settlement (结算): contracts, locked periods and adjustments, hosted by the accounts owner.

A station sells its coach operators' seats and pays them what they earned, less what the station
keeps.  What it keeps is each operator's **contract**: the agency fee (客运代理费, basis points of
the transport fare), whether the station service fee (站务费) stays with the station, how refund
fees and no-show amounts are shared, and fixed deductions per period.  A finance user sets a
contract effective from a date; a sheet uses the contract in effect on its first day, so a change
never rewrites an older period.

A finance user **locks** an operator's period: the lock records the sheet's totals as they were,
and nothing edits them afterwards.  Later movements of the period's tickets (a late refund) show
on the sheet as an adjustment, and finance may add a manual **adjustment** (reason, amount) to a
locked period.  Contracts, locks and adjustments are events in the accounts owner's log, like the
shifts' and the announcements', replayed after a restart and projected into the reporting store
(persistence/settlement.py works the sheet out; docs/settlement.md).
"""

from __future__ import annotations

import datetime as dt
import re

import msgspec

from .reasons import Reason, Rejected, Rejection, invalid, reject
from .values import Command, Event, Query, Reply, Value

OPERATOR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
LOCK_ID = re.compile(r"L[0-9]{6,}")
FULL_BP = 10_000  # basis points: 10,000 is 100 %
MAX_DEDUCTIONS = 20
MAX_NAME_CHARS = 40
MAX_REASON_CHARS = 200
MAX_FEN = 10**12  # ten billion yuan: far beyond any station's period, and well inside int64
MAX_PERIOD_DAYS = 366


def _request(value: str) -> None:
    from .commands import check_request_id  # the trip commands' rule for request ids

    check_request_id(value)


def check_date(field_name: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else _bad_date(field_name, value)
    except ValueError:
        return _bad_date(field_name, value)


def _bad_date(field_name: str, value: str) -> dt.date:
    if not value:
        raise Rejected(reject(Reason.MISSING_FIELD, f"{field_name}: a local date YYYY-MM-DD", field=field_name))
    raise invalid(field_name, f"{value[:20]!r} is not a date YYYY-MM-DD")


def check_operator(value: str) -> None:
    if not value:
        raise Rejected(reject(Reason.MISSING_FIELD, "operator_id: the operator's id", field="operator_id"))
    if not OPERATOR_ID.fullmatch(value):
        raise invalid("operator_id", "1 to 32 letters, digits, '_' or '-'")


def _basis_points(field_name: str, value: int) -> None:
    if not 0 <= value <= FULL_BP:
        raise invalid(field_name, "basis points, 0 to 10000 (100 %)")


def _text(field_name: str, value: str, max_chars: int) -> None:
    if not value.strip():
        raise Rejected(reject(Reason.MISSING_FIELD, f"{field_name} is required", field=field_name))
    if len(value) > max_chars or any(ord(ch) < 32 for ch in value):
        raise invalid(field_name, f"at most {max_chars} printable characters")


def check_period(from_date: str, to_date: str) -> None:
    first, last = check_date("from_date", from_date), check_date("to_date", to_date)
    if not 0 <= (last - first).days < MAX_PERIOD_DAYS:
        raise invalid("to_date", f"on or after from_date, at most {MAX_PERIOD_DAYS} days in all")


class Deduction(Value):
    """A fixed deduction per settled period (a departure-bay rent, a cleaning charge), in fen."""

    name: str
    fen: int

    def __post_init__(self) -> None:
        _text("deductions.name", self.name, MAX_NAME_CHARS)
        if not 0 < self.fen <= MAX_FEN:
            raise invalid("deductions.fen", "a positive amount in fen")


class Contract(Value):
    """An operator's settlement terms from `effective_from` (a local date) on."""

    operator_id: str
    effective_from: str
    agency_fee_bp: int  # of the transport fare (base + fuel surcharge) of every ticket that stands
    operator_keeps_service_fee: bool = False  # normally the station keeps its 站务费
    refund_fee_station_bp: int = FULL_BP  # the station's share of refund fees kept (10000: all, 0: none)
    no_show_station_bp: int = 0  # the station's share of a no-show's transport fare (0: the operator's)
    deductions: tuple[Deduction, ...] = ()
    set_by: str = ""
    set_at_ms: int = 0

    def __post_init__(self) -> None:
        check_operator(self.operator_id)
        check_date("effective_from", self.effective_from)
        _basis_points("agency_fee_bp", self.agency_fee_bp)
        _basis_points("refund_fee_station_bp", self.refund_fee_station_bp)
        _basis_points("no_show_station_bp", self.no_show_station_bp)
        if len(self.deductions) > MAX_DEDUCTIONS:
            raise invalid("deductions", f"at most {MAX_DEDUCTIONS}")
        if len({d.name for d in self.deductions}) != len(self.deductions):
            raise invalid("deductions", "a deduction named twice")


class SettlementLock(Value):
    """An operator's period, closed: the sheet's totals when it was locked, never edited after."""

    lock_id: str
    operator_id: str
    from_date: str
    to_date: str
    as_of_ms: int  # the sheet counted the tickets' movements up to this time
    totals: tuple[tuple[str, int], ...]  # the sheet's figures by name (persistence/settlement.FIGURES)
    deductions_fen: int
    amount_payable_fen: int
    locked_by: str
    locked_at_ms: int


class Adjustment(Value):
    """A manual correction to a locked period: added to what it pays, never edited into it."""

    adjustment_id: str
    lock_id: str
    reason: str
    amount_fen: int  # + pays the operator more, - less
    added_by: str
    added_at_ms: int


class SettlementBook(Value, frozen=False):
    contracts: dict[str, tuple[Contract, ...]] = msgspec.field(default_factory=dict)  # by operator, by date
    locks: dict[str, SettlementLock] = msgspec.field(default_factory=dict)
    adjustments: dict[str, Adjustment] = msgspec.field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Commands, queries, events and replies.


class SetContract(Value, Command):
    request_id: str
    contract: Contract  # set_by and set_at_ms are filled in by the owner

    def __post_init__(self) -> None:
        _request(self.request_id)


class LockSettlement(Value, Command):
    request_id: str
    operator_id: str
    from_date: str
    to_date: str
    as_of_ms: int
    totals: tuple[tuple[str, int], ...]
    deductions_fen: int
    amount_payable_fen: int
    account_id: str

    def __post_init__(self) -> None:
        _request(self.request_id)
        check_operator(self.operator_id)
        check_period(self.from_date, self.to_date)


class AddAdjustment(Value, Command):
    request_id: str
    lock_id: str
    reason: str
    amount_fen: int
    account_id: str

    def __post_init__(self) -> None:
        _request(self.request_id)
        if not LOCK_ID.fullmatch(self.lock_id):
            raise invalid("lock_id", "a lock id like L000001")
        _text("reason", self.reason, MAX_REASON_CHARS)
        if not 0 < abs(self.amount_fen) <= MAX_FEN:
            raise invalid("amount_fen", "a non-zero amount in fen")


class GetSettlementTerms(Value, Query):
    """An operator's contracts, locks and adjustments ("" for every operator's)."""

    operator_id: str = ""

    def __post_init__(self) -> None:
        if self.operator_id:
            check_operator(self.operator_id)


class ContractSet(Value, Event):
    contract: Contract


class SettlementLocked(Value, Event):
    lock: SettlementLock


class AdjustmentAdded(Value, Event):
    adjustment: Adjustment


class SettlementTerms(Value, Reply):
    contracts: tuple[Contract, ...]
    locks: tuple[SettlementLock, ...]
    adjustments: tuple[Adjustment, ...]


SETTLEMENT_COMMANDS = (SetContract, LockSettlement, AddAdjustment)
SETTLEMENT_QUERIES = (GetSettlementTerms,)
SETTLEMENT_EVENTS = (ContractSet, SettlementLocked, AdjustmentAdded)


# ---------------------------------------------------------------------------------------------
# The rules.


def contract_for(contracts: tuple[Contract, ...], first_day: str) -> Contract | None:
    """The contract in effect on a period's first day: the latest effective on or before it."""
    found = [c for c in contracts if c.effective_from <= first_day]
    return found[-1] if found else None


def _locks_of(book: SettlementBook, operator_id: str) -> list[SettlementLock]:
    return [lock for lock in book.locks.values() if lock.operator_id == operator_id]


def decide(book: SettlementBook, command: Command, now_ms: int) -> tuple[Event, ...] | Rejection:
    match command:
        case SetContract(_, contract):
            for lock in _locks_of(book, contract.operator_id):
                if contract.effective_from <= lock.to_date:
                    return reject(
                        Reason.SETTLEMENT_PERIOD_LOCKED,
                        f"effective_from: {contract.operator_id}'s period {lock.from_date}..{lock.to_date} is locked "
                        f"({lock.lock_id}); a new contract takes effect after it",
                        field="effective_from",
                        lock_id=lock.lock_id,
                    )
            stamped = msgspec.structs.replace(contract, set_at_ms=now_ms)
            return (ContractSet(stamped),)
        case LockSettlement(_, operator_id, from_date, to_date, as_of_ms, totals, deductions, payable, account_id):
            for lock in _locks_of(book, operator_id):
                if lock.from_date == from_date and lock.to_date == to_date:
                    return reject(
                        Reason.SETTLEMENT_ALREADY_LOCKED,
                        f"{operator_id}'s period {from_date}..{to_date} is locked already ({lock.lock_id})",
                        lock_id=lock.lock_id,
                    )
                if lock.from_date <= to_date and from_date <= lock.to_date:
                    return reject(
                        Reason.SETTLEMENT_LOCK_OVERLAPS,
                        f"{operator_id}'s period {from_date}..{to_date} overlaps the locked "
                        f"{lock.from_date}..{lock.to_date} ({lock.lock_id})",
                        lock_id=lock.lock_id,
                    )
            lock_id = f"L{len(book.locks) + 1:06d}"
            new = SettlementLock(
                lock_id, operator_id, from_date, to_date, as_of_ms, totals, deductions, payable, account_id, now_ms
            )
            return (SettlementLocked(new),)
        case AddAdjustment(_, lock_id, reason, amount_fen, account_id):
            if lock_id not in book.locks:
                return reject(Reason.SETTLEMENT_UNKNOWN_LOCK, f"no settlement lock {lock_id}", lock_id=lock_id)
            adjustment_id = f"J{len(book.adjustments) + 1:06d}"
            return (AdjustmentAdded(Adjustment(adjustment_id, lock_id, reason, amount_fen, account_id, now_ms)),)
    raise AssertionError(f"not a settlement command: {command!r}")


def evolve(book: SettlementBook, event: Event) -> None:
    match event:
        case ContractSet(contract):
            kept = [
                c for c in book.contracts.get(contract.operator_id, ()) if c.effective_from != contract.effective_from
            ]
            book.contracts[contract.operator_id] = tuple(sorted([*kept, contract], key=lambda c: c.effective_from))
        case SettlementLocked(lock):
            book.locks[lock.lock_id] = lock
        case AdjustmentAdded(adjustment):
            book.adjustments[adjustment.adjustment_id] = adjustment


def render(book: SettlementBook, command: Command, events: tuple[Event, ...]) -> SettlementTerms:
    """The reply to a command that succeeded: what it made (an empty reply is never sent)."""
    match events[0]:
        case ContractSet(contract):
            return SettlementTerms((contract,), (), ())
        case SettlementLocked(lock):
            return SettlementTerms((), (lock,), ())
        case AdjustmentAdded(adjustment):
            return SettlementTerms((), (), (adjustment,))
    raise AssertionError(f"not a settlement command: {command!r}")


def answer(book: SettlementBook, query: Query, now_ms: int) -> SettlementTerms:
    assert isinstance(query, GetSettlementTerms), f"not a settlement query: {query!r}"
    wanted = query.operator_id
    contracts = tuple(c for op, found in sorted(book.contracts.items()) if not wanted or op == wanted for c in found)
    locks = tuple(lock for lock in book.locks.values() if not wanted or lock.operator_id == wanted)
    lock_ids = {lock.lock_id for lock in locks}
    adjustments = tuple(a for a in book.adjustments.values() if a.lock_id in lock_ids)
    return SettlementTerms(contracts, locks, adjustments)
