"""The pure hash chain: any single altered field, removed record or moved record is found, and where."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyun.engine.audit import (
    GENESIS,
    MAX_DETAIL_CHARS,
    MAX_RECORD_ID_CHARS,
    MIN_RETENTION_DAYS,
    TEXT_FIELDS,
    AuditRecord,
    ChainProblem,
    chain_hash,
    check_retention,
    fit,
    verify_chain,
)
from keyun.engine.reasons import Reason, Rejected

NOW_MS = 1_790_000_000_000

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12)


@st.composite
def audit_records(draw, index: int = 0) -> AuditRecord:
    return AuditRecord(
        record_id=f"r{index}-{draw(st.integers(0, 10**6))}",
        at_ms=NOW_MS + draw(st.integers(0, 10**6)),
        actor=draw(names),
        role=draw(names),
        device=draw(names),
        station=draw(names),
        source=draw(names),
        action=draw(st.sampled_from(["keyun.v1.Sales/Sell", "keyun.v1.Sales/Refund", "login", "logout"])),
        target=draw(names),
        outcome=draw(st.sampled_from(["OK", "PERMISSION_DENIED", "BAD_CREDENTIALS"])),
        detail=draw(names),
    )


def record(n: int, **changes) -> AuditRecord:
    base = AuditRecord(
        f"rec-{n}",
        NOW_MS + n,
        "acc-7",
        "clerk",
        "counter-3",
        "SJZ",
        "ipv4:10.0.0.8:51234",
        "keyun.v1.Sales/Sell",
        f"K103-20261126-{n:04d}",
        "OK",
    )
    return msgspec.structs.replace(base, **changes)


def build_chain(
    records: list[AuditRecord], anchor: tuple[int, bytes] = (0, GENESIS)
) -> list[tuple[int, AuditRecord, bytes]]:
    seq, previous = anchor
    chain = []
    for item in records:
        seq += 1
        previous = chain_hash(previous, seq, item)
        chain.append((seq, item, previous))
    return chain


# Fifty chains per property keep this file at a few seconds; the faults are placed anywhere in them.
PROPERTY = settings(max_examples=50)

chains = st.integers(2, 12).flatmap(lambda n: st.tuples(*(audit_records(i) for i in range(n)))).map(list)


@PROPERTY
@given(chains)
def test_an_untouched_chain_verifies(records):
    chain = build_chain(records)
    report = verify_chain(chain, (0, GENESIS), expect_head=chain[-1][0::2], stored_head=chain[-1][0::2])
    assert report.ok, report.message
    assert (report.checked, report.head_seq, report.head_hash) == (len(records), len(records), chain[-1][2])
    assert report.expected_head_checked


def _altered(value):
    if isinstance(value, int):
        return value + 1
    return value + "X" if value else "X"  # uppercase, so an outcome stays a valid reason name


@PROPERTY
@given(chains, st.data())
def test_any_single_altered_field_is_found_at_its_record(records, data):
    chain = build_chain(records)
    index = data.draw(st.integers(0, len(chain) - 1))
    name = data.draw(st.sampled_from(["at_ms", *TEXT_FIELDS]))
    seq, item, stored = chain[index]
    chain[index] = (seq, msgspec.structs.replace(item, **{name: _altered(getattr(item, name))}), stored)
    report = verify_chain(chain, (0, GENESIS))
    assert (report.ok, report.problem, report.at_seq, report.checked) == (False, ChainProblem.ALTERED, seq, index)


@PROPERTY
@given(chains, st.data())
def test_an_altered_stored_hash_is_found(records, data):
    chain = build_chain(records)
    index = data.draw(st.integers(0, len(chain) - 1))
    seq, item, stored = chain[index]
    chain[index] = (seq, item, bytes([stored[0] ^ 1]) + stored[1:])
    report = verify_chain(chain, (0, GENESIS), stored_head=build_chain(records)[-1][0::2])
    assert (report.problem, report.at_seq) == (ChainProblem.ALTERED, seq)


@PROPERTY
@given(chains, st.data())
def test_a_removed_record_is_found(records, data):
    """Inside the chain by the gap; at the end only against a head noted earlier."""
    chain = build_chain(records)
    noted_head = (chain[-1][0], chain[-1][2])
    index = data.draw(st.integers(0, len(chain) - 1))
    del chain[index]
    report = verify_chain(chain, (0, GENESIS), expect_head=noted_head)
    assert (report.ok, report.problem, report.at_seq) == (False, ChainProblem.MISSING, index + 1)
    if index < len(chain):
        assert verify_chain(chain, (0, GENESIS)).problem is ChainProblem.MISSING


@PROPERTY
@given(chains, st.data())
def test_a_swapped_pair_is_found_as_reordered(records, data):
    chain = build_chain(records)
    first = data.draw(st.integers(0, len(chain) - 2))
    second = data.draw(st.integers(first + 1, len(chain) - 1))
    chain[first], chain[second] = chain[second], chain[first]
    report = verify_chain(chain, (0, GENESIS))
    assert (report.ok, report.problem, report.at_seq, report.checked) == (
        False,
        ChainProblem.REORDERED,
        first + 1,
        first,
    )


@PROPERTY
@given(chains, st.data())
def test_a_duplicated_record_is_found_as_reordered(records, data):
    chain = build_chain(records)
    index = data.draw(st.integers(0, len(chain) - 1))
    chain.insert(index + 1, chain[index])
    report = verify_chain(chain, (0, GENESIS))
    assert (report.problem, report.at_seq) == (ChainProblem.REORDERED, index + 2)


@PROPERTY
@given(chains, st.data())
def test_a_record_renumbered_to_fill_a_gap_breaks_the_hash(records, data):
    """Removing a record and renumbering the rest keeps the numbers in order but not the hashes."""
    chain = build_chain(records)
    index = data.draw(st.integers(0, len(chain) - 2))
    del chain[index]
    chain = [(n, item, stored) for n, (_, item, stored) in enumerate(chain, 1)]
    report = verify_chain(chain, (0, GENESIS))
    assert (report.problem, report.at_seq) == (ChainProblem.ALTERED, index + 1)


@settings(max_examples=25)
@given(chains, st.data())
def test_a_chain_rewritten_from_some_record_on_is_found_by_the_noted_head(records, data):
    """Whoever can write the store can also recompute every hash after a change; the head an
    operator noted earlier no longer matches."""
    chain = build_chain(records)
    noted_head = (chain[-1][0], chain[-1][2])
    index = data.draw(st.integers(0, len(chain) - 1))
    forged = [item for _, item, _ in chain]
    forged[index] = msgspec.structs.replace(
        forged[index], outcome="OK" if forged[index].outcome != "OK" else "PERMISSION_DENIED"
    )
    rewritten = build_chain(forged)
    assert verify_chain(rewritten, (0, GENESIS)).ok
    report = verify_chain(rewritten, (0, GENESIS), expect_head=noted_head)
    assert (report.problem, report.at_seq) == (ChainProblem.ALTERED, len(records))


def test_a_chain_after_a_purge_verifies_from_its_anchor():
    chain = build_chain([record(n) for n in range(1, 11)])
    anchor = (chain[3][0], chain[3][2])
    rest = chain[4:]
    report = verify_chain(rest, anchor)
    assert report.ok and report.checked == 6 and report.anchor_seq == 4 and report.head_seq == 10
    # Records purged beyond the anchor's claim: the chain no longer starts right after it.
    assert (verify_chain(chain[5:], anchor).problem, verify_chain(chain[5:], anchor).at_seq) == (
        ChainProblem.MISSING,
        5,
    )
    # A forged anchor does not chain to the first remaining record.
    assert verify_chain(rest, (4, GENESIS)).problem is ChainProblem.ALTERED


def test_a_noted_head_older_than_the_anchor_cannot_be_checked_and_says_so():
    chain = build_chain([record(n) for n in range(1, 6)])
    noted = (chain[1][0], chain[1][2])
    report = verify_chain(chain[3:], (chain[2][0], chain[2][2]), expect_head=noted)
    assert report.ok and not report.expected_head_checked
    at_anchor = verify_chain(chain[3:], (chain[2][0], chain[2][2]), expect_head=(chain[2][0], chain[2][2]))
    assert at_anchor.ok and at_anchor.expected_head_checked
    wrong = verify_chain(chain[3:], (chain[2][0], chain[2][2]), expect_head=(chain[2][0], GENESIS))
    assert (wrong.problem, wrong.at_seq) == (ChainProblem.ALTERED, 3)


def test_the_stored_head_must_end_the_chain():
    chain = build_chain([record(n) for n in range(1, 6)])
    head = (chain[-1][0], chain[-1][2])
    assert verify_chain(chain, (0, GENESIS), stored_head=head).ok
    short = verify_chain(chain[:3], (0, GENESIS), stored_head=head)
    assert (short.problem, short.at_seq, short.checked) == (ChainProblem.MISSING, 4, 3)
    long = verify_chain(chain, (0, GENESIS), stored_head=(chain[2][0], chain[2][2]))
    assert long.problem is ChainProblem.ALTERED


def test_an_unreadable_record_is_reported_altered():
    chain = build_chain([record(n) for n in range(1, 4)])
    chain[1] = (2, None, b"")
    report = verify_chain(chain, (0, GENESIS))
    assert (report.problem, report.at_seq) == (ChainProblem.ALTERED, 2)


def test_an_empty_log_verifies():
    assert verify_chain([], (0, GENESIS), stored_head=(0, GENESIS)).ok
    assert verify_chain([], (0, GENESIS), expect_head=(1, GENESIS)).problem is ChainProblem.MISSING


def test_the_encoding_has_no_ambiguous_field_boundaries():
    """Moving text from one field to the next must change the hash."""
    split_one = record(1, role="ab", device="c")
    split_two = record(1, role="a", device="bc")
    assert chain_hash(GENESIS, 1, split_one) != chain_hash(GENESIS, 1, split_two)
    assert chain_hash(GENESIS, 1, record(1)) != chain_hash(GENESIS, 2, record(1))
    assert chain_hash(GENESIS, 1, record(1)) != chain_hash(bytes([1]) + GENESIS[1:], 1, record(1))


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"record_id": ""}, "record_id"),
        ({"record_id": "r" * (MAX_RECORD_ID_CHARS + 1)}, "record_id"),
        ({"detail": "d" * (MAX_DETAIL_CHARS + 1)}, "detail"),
        ({"target": "t" * 201}, "target"),
        ({"actor": "acc\nFORGED LINE"}, "actor"),
        ({"source": "\u2028"}, "source"),
        ({"device": "\ud800"}, "device"),
        ({"role": 7}, "role"),
        ({"action": ""}, "action"),
        ({"outcome": "ok"}, "outcome"),
        ({"outcome": ""}, "outcome"),
        ({"at_ms": -1}, "at_ms"),
        ({"at_ms": True}, "at_ms"),
        ({"at_ms": 1.5}, "at_ms"),
        ({"at_ms": NOW_MS * 1000 * 1000}, "at_ms"),
    ],
)
def test_a_bad_field_is_refused_by_name(changes, field):
    with pytest.raises(Rejected) as refused:
        record(1, **changes)
    assert refused.value.rejection.fact("field") == field


def test_fit_makes_any_client_text_storable():
    text = fit("T1\r\nforged\u2028" + "x" * 600, MAX_DETAIL_CHARS)
    stored = record(1, detail=text, target=fit("\x00" * 300, 200))
    assert len(stored.detail) == MAX_DETAIL_CHARS and stored.detail.endswith("…") and "\n" not in stored.detail
    assert fit("K103-20261126-0001", 200) == "K103-20261126-0001"


def test_records_survive_their_plain_values():
    item = record(3, detail="退票 10 %")
    assert AuditRecord.from_values(item.values()) == item
    with pytest.raises(ValueError):
        AuditRecord.from_values(item.values()[:-1])


def test_retention_below_the_minimum_is_a_rejection():
    assert check_retention(MIN_RETENTION_DAYS) is None
    rejection = check_retention(MIN_RETENTION_DAYS - 1)
    assert rejection.reason is Reason.RETENTION_TOO_SHORT and rejection.fact("min_retention_days") == "180"
