"""The gate's decision core (terminals/boarding_core.py), without a server: the offline rules."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keyun.common import eticket
from keyun.terminals import boarding_core as core

NOW = 1_900_000_000
DIGEST_KEY = b"k" * 32
KEY = Ed25519PrivateKey.generate()
KEY_ID = eticket.key_id_of(KEY.public_key())


def resident_id(body17: str) -> str:
    """A resident ID number with its right check character."""
    total = sum(int(d) * w for d, w in zip(body17, core._ID_WEIGHTS))
    return body17 + core._ID_CHECK[total % 11]


ALICE = resident_id("11010519491231002")
BOB = resident_id("44030019800101123")


def credential(ticket_id: str, from_stop: str = "SJZ", departs: int = NOW + 600, key=KEY, digest: bytes = b"") -> str:
    boarding_pass = eticket.BoardingPass(
        1,
        eticket.key_id_of(key.public_key()),
        ticket_id,
        "K101-20300101",
        "2030-01-01",
        from_stop,
        "BJ",
        "7",
        "full",
        departs,
        departs - 7200,
        departs + 90000,
        "吴*",
        digest,
    )
    return eticket.sign(boarding_pass, key)


def state(**overrides) -> core.LocalState:
    entries = {
        "K101-20300101-T1": core.Entry(
            "K101-20300101-T1",
            "K101-20300101",
            "1",
            "SJZ",
            "BJ",
            NOW + 600,
            "issued",
            "吴*",
            eticket.document_digest(DIGEST_KEY, "RESIDENT_ID", ALICE),
        ),
        "K101-20300101-T2": core.Entry("K101-20300101-T2", "K101-20300101", "2", "SJZ", "BJ", NOW + 600, "refunded"),
    }
    fields = dict(station="SJZ", public_keys={KEY_ID: KEY.public_key()}, digest_key=DIGEST_KEY, entries=entries)
    return core.LocalState(**(fields | overrides))


def test_a_signed_credential_boards_once_then_is_stopped():
    lane = state()
    first = core.decide(lane, credential("K101-20300101-T9"), NOW)
    assert first.passed and first.seat == "7" and first.holder_name == "吴*"
    lane.mark_used(first.ticket_id, "G1")
    second = core.decide(lane, credential("K101-20300101-T9"), NOW)
    assert not second.passed and second.reason == "ALREADY_CHECKED_IN" and "G1" in second.message


def test_tampered_foreign_and_expired_credentials_are_stopped_with_their_reason():
    text = credential("K101-20300101-T9")
    tampered = text[:40] + ("A" if text[40] != "A" else "B") + text[41:]
    assert core.decide(state(), tampered, NOW).reason in ("CREDENTIAL_BAD_SIGNATURE", "CREDENTIAL_MALFORMED")
    foreign = credential("K101-20300101-T9", key=Ed25519PrivateKey.generate())
    assert core.decide(state(), foreign, NOW).reason == "CREDENTIAL_UNKNOWN_KEY"
    assert core.decide(state(), credential("K101-20300101-T9"), NOW + 200_000).reason == "CREDENTIAL_EXPIRED"


def test_revoked_refunded_cancelled_elsewhere_and_out_of_window():
    assert core.decide(state(revoked={"K101-20300101-T9"}), credential("K101-20300101-T9"), NOW).reason == (
        "CREDENTIAL_REVOKED"
    )
    refunded = core.decide(state(), credential("K101-20300101-T2"), NOW)
    assert refunded.reason == "CREDENTIAL_REVOKED" and "refunded" in refunded.message
    assert core.decide(state(cancelled_trips={"K101-20300101"}), "K101-20300101-T1", NOW).reason == "TRIP_CANCELLED"
    assert core.decide(state(), credential("K101-20300101-T9", from_stop="BD"), NOW).reason == "BOARDS_ELSEWHERE"
    assert core.decide(state(), credential("K101-20300101-T9", departs=NOW + 5000), NOW).reason == "NOT_YET_BOARDING"
    assert core.decide(state(), credential("K101-20300101-T9", departs=NOW - 600), NOW).reason == "BOARDING_CLOSED"
    # A delay announced after signing moves the window: the lane's departure time wins.
    late = state(trip_departs_s={"K101-20300101": NOW + 3000})
    assert core.decide(late, credential("K101-20300101-T9", departs=NOW - 600), NOW).passed


def test_an_identity_card_finds_the_holders_ticket_by_its_digest():
    found = core.decide(state(), ALICE, NOW)
    assert found.passed and found.ticket_id == "K101-20300101-T1"
    assert core.decide(state(), BOB, NOW).reason == "NO_TICKET_FOR_DOCUMENT"
    assert core.decide(state(), ALICE[:17] + ("0" if ALICE[17] != "0" else "1"), NOW).reason == "INVALID_DOCUMENT"
    assert core.classify(ALICE.lower()) == core.ScanKind.DOCUMENT


def test_real_name_boarding_asks_for_the_holders_card_and_matches_it():
    lane = state(require_document_match=True)
    asked = core.decide(lane, "K101-20300101-T1", NOW)
    assert not asked.passed and asked.awaiting_document and asked.reason == "DOCUMENT_REQUIRED"
    pending = lane.entries[asked.ticket_id]
    assert core.decide(lane, BOB, NOW, pending).reason == "DOCUMENT_MISMATCH"
    assert core.decide(lane, "K101-20300101-T1", NOW, pending).reason == "DOCUMENT_REQUIRED"
    assert core.decide(lane, ALICE, NOW, pending).passed
    # The card itself proves the holder: no second scan.
    assert core.decide(lane, ALICE, NOW).passed


def test_an_unknown_ticket_id_is_stopped():
    assert core.decide(state(), "K101-20300101-T77", NOW).reason == "UNKNOWN_TICKET"


def test_the_policy_file_turns_real_name_boarding_on():
    from keyun.engine.policy import PolicyError, parse_policy

    assert parse_policy({"boarding": {"require_document_match": True}}).require_document_match
    assert not parse_policy({}).require_document_match
    for bad in ({"boarding": {"require_document_match": "yes"}}, {"boarding": {"match": True}}, {"boarding": 1}):
        try:
            parse_policy(bad)
        except PolicyError as error:
            assert "boarding" in str(error)
        else:
            raise AssertionError(f"accepted {bad}")
