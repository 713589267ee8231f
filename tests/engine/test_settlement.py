"""Operator settlement's pure core (engine/settlement.py) as the accounts owner runs it, and the
per-ticket sheet arithmetic (persistence/settlement.py) on its own."""

from __future__ import annotations

import pytest

from keyun.engine import accounts as ac
from keyun.engine import codec
from keyun.engine import settlement as st
from keyun.engine.reasons import Reason, Rejected, Rejection
from keyun.persistence.settlement import Terms, share, ticket_line

T0 = 1_800_000_000_000
FINANCE = "A000004"


def run(engine: ac.AccountsEngine, item, now=T0):
    (reply,), _ = engine.execute([item], now)
    return reply


def contract(effective_from: str, agency_fee_bp: int = 800, operator: str = "OP1", **terms) -> st.SetContract:
    return st.SetContract(
        f"c-{operator}-{effective_from}-{agency_fee_bp}",
        st.Contract(operator, effective_from, agency_fee_bp, set_by=FINANCE, **terms),
    )


def lock(first: str, last: str, operator: str = "OP1", request_id: str = "") -> st.LockSettlement:
    totals = (("payable_fen", 1000),)
    return st.LockSettlement(
        request_id or f"l-{operator}-{first}-{last}", operator, first, last, T0, totals, 0, 1000, FINANCE
    )


def test_a_sheet_takes_the_contract_in_effect_on_its_first_day():
    engine = ac.AccountsEngine()
    for day, fee in (("2026-11-01", 500), ("2026-12-01", 800), ("2027-01-01", 900)):
        reply = run(engine, contract(day, fee))
        assert reply.contracts[0].set_at_ms == T0 and reply.contracts[0].set_by == FINANCE
    contracts = engine.state.settlement.contracts["OP1"]
    assert st.contract_for(contracts, "2026-10-31") is None
    assert st.contract_for(contracts, "2026-11-30").agency_fee_bp == 500
    assert st.contract_for(contracts, "2026-12-01").agency_fee_bp == 800
    assert st.contract_for(contracts, "2027-03-01").agency_fee_bp == 900
    run(engine, contract("2026-12-01", 850))  # the same date again: replaced
    assert [c.agency_fee_bp for c in engine.state.settlement.contracts["OP1"]] == [500, 850, 900]


def test_locks_refuse_overlaps_and_contract_changes_inside_them():
    engine = ac.AccountsEngine()
    run(engine, contract("2026-11-01"))
    first = run(engine, lock("2026-12-01", "2026-12-31")).locks[0]
    assert first.lock_id == "L000001" and first.locked_at_ms == T0
    assert run(engine, lock("2026-12-01", "2026-12-31", request_id="again")).reason is Reason.SETTLEMENT_ALREADY_LOCKED
    assert run(engine, lock("2026-12-31", "2027-01-05")).reason is Reason.SETTLEMENT_LOCK_OVERLAPS
    assert run(engine, lock("2026-11-01", "2026-12-01")).reason is Reason.SETTLEMENT_LOCK_OVERLAPS
    assert run(engine, lock("2026-12-01", "2026-12-31", operator="OP2")).locks[0].lock_id == "L000002"
    assert run(engine, lock("2027-01-01", "2027-01-31")).locks[0].lock_id == "L000003"  # the next period
    refused = run(engine, contract("2026-12-15", 1000))
    assert refused.reason is Reason.SETTLEMENT_PERIOD_LOCKED and refused.fact("lock_id") == "L000001"
    assert run(engine, contract("2027-02-01", 1000)).contracts[0].agency_fee_bp == 1000
    adjustment = run(engine, st.AddAdjustment("a1", "L000001", "短款", -500, FINANCE)).adjustments[0]
    assert (adjustment.adjustment_id, adjustment.amount_fen) == ("J000001", -500)
    assert run(engine, st.AddAdjustment("a2", "L000099", "x", 1, FINANCE)).reason is Reason.SETTLEMENT_UNKNOWN_LOCK
    terms = run(engine, st.GetSettlementTerms("OP1"))
    assert [k.lock_id for k in terms.locks] == ["L000001", "L000003"] and len(terms.adjustments) == 1


def test_bad_terms_are_refused_on_construction():
    for make, field in (
        (lambda: st.Contract("OP1", "2026-13-01", 100), "effective_from"),
        (lambda: st.Contract("OP1", "2026-12-01", 10_001), "agency_fee_bp"),
        (lambda: st.Contract("OP1", "2026-12-01", 100, refund_fee_station_bp=-1), "refund_fee_station_bp"),
        (lambda: st.Contract("OP 1", "2026-12-01", 100), "operator_id"),
        (
            lambda: st.Contract("OP1", "2026-12-01", 100, deductions=(st.Deduction("a", 1), st.Deduction("a", 2))),
            "deductions",
        ),
        (lambda: st.Deduction("rent", 0), "deductions.fen"),
        (lambda: st.LockSettlement("r1", "OP1", "2026-12-31", "2026-12-01", 0, (), 0, 0, FINANCE), "to_date"),
        (lambda: st.AddAdjustment("r1", "L000001", "", 5, FINANCE), "reason"),
        (lambda: st.AddAdjustment("r1", "X1", "why", 5, FINANCE), "lock_id"),
    ):
        with pytest.raises(Rejected) as refused:
            make()
        assert refused.value.rejection.fact("field") == field


def test_the_book_replays_from_its_journal_through_the_codec():
    engine = ac.AccountsEngine()
    journal = []
    for item in (
        contract("2026-11-01", deductions=(st.Deduction("站台租金", 5000),)),
        lock("2026-12-01", "2026-12-31"),
    ):
        replies, entries = engine.execute([item], T0)
        assert not isinstance(replies[0], Rejection)
        journal.extend(codec.decode(codec.encode(entry), ac.AccountEntry) for entry in entries)
    again = ac.AccountsEngine()
    again.replay(T0, journal)
    assert again.state.settlement == engine.state.settlement
    snapshot = codec.decode(codec.encode(engine.snapshot()), ac.AccountsSnapshot)
    assert snapshot.state.settlement == engine.state.settlement


TERMS = Terms("OP1", "2026-12-01", 833, False, 5000, 3000, (), "", 0)


def row(**moves):
    """A ticket as the store holds it: price 4600 = base 4000 + service 100 + fuel 200 + insurance 300."""
    values = dict(refunded_ms=None, refund_fen=None, refund_fee_fen=None, changed_ms=None, voided_ms=None)
    values.update(checked_in_ms=None, departed_ms=None, cancelled_ms=None)
    values.update(moves)
    head = ("T1", "TRIP", "2026-12-08", "full", 4600, 4000, 100, 200, 300, 10)
    return head + tuple(values[k] for k in ("refunded_ms", "refund_fen", "refund_fee_fen", "changed_ms",
                                            "voided_ms", "checked_in_ms", "departed_ms", "cancelled_ms"))  # fmt: skip


def test_each_ticket_pays_its_share_rounded_half_up():
    assert [share(1, 5000), share(3, 5000), share(4200, 833), share(4199, 833)] == [1, 2, 350, 350]
    sold = ticket_line(row(), TERMS)["figures"]
    assert (sold["agency_fee_fen"], sold["station_service_fee_fen"], sold["insurance_held_fen"]) == (350, 100, 300)
    assert sold["payable_fen"] == 4200 - 350
    no_show = ticket_line(row(departed_ms=20), TERMS)
    assert no_show["state"] == "no_show" and no_show["figures"]["no_show_station_fen"] == 1260
    assert no_show["figures"]["payable_fen"] == 4200 - 350 - 1260
    refunded = ticket_line(row(refunded_ms=30, refund_fen=4075, refund_fee_fen=425), TERMS)["figures"]
    assert (refunded["refund_fee_station_fen"], refunded["refund_fee_operator_fen"]) == (213, 212)
    assert refunded["refund_retained_fen"] == 100 and refunded["payable_fen"] == 212
    assert ticket_line(row(voided_ms=15), TERMS)["figures"]["payable_fen"] == 0
    cancelled = ticket_line(row(cancelled_ms=25), TERMS)
    assert cancelled["state"] == "trip_cancelled" and cancelled["figures"]["trip_cancelled_fen"] == 4600
    assert cancelled["figures"]["payable_fen"] == 0
    # As of a time before its refund, the ticket still stands; before its sale, it is not there.
    assert ticket_line(row(refunded_ms=30, refund_fen=4075, refund_fee_fen=425), TERMS, 29)["state"] == "sold"
    assert ticket_line(row(), TERMS, 9) is None
