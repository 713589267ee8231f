"""Station rules from a policy file: defaults, every key, and every problem named."""

from __future__ import annotations

import pytest

from keyun.engine.policy import HOUR_MS, MINUTE_MS, Policy, PolicyError, RefundTier, parse_policy


def test_an_empty_file_gives_the_national_defaults():
    assert parse_policy({}) == Policy()


def test_every_key_is_read():
    policy = parse_policy(
        {
            "hold_minutes": 15,
            "boarding_opens_minutes": 45,
            "boarding_closes_minutes": 2,
            "sales_close_minutes": 10,
            "refund_tiers": [
                {"hours_before": 24, "fee_percent": 5},
                {"hours_before": 2, "fee_percent": 10},
                {"hours_before": 0, "fee_percent": 20},
            ],
        }
    )
    assert (policy.hold_ttl_ms, policy.boarding_opens_ms, policy.boarding_closes_ms, policy.sales_close_ms) == (
        15 * MINUTE_MS,
        45 * MINUTE_MS,
        2 * MINUTE_MS,
        10 * MINUTE_MS,
    )
    assert policy.refund_tiers == (RefundTier(24 * HOUR_MS, 500), RefundTier(2 * HOUR_MS, 1000), RefundTier(0, 2000))
    assert policy.refund_fee_fen(10_000, 30 * HOUR_MS) == 500
    assert policy.refund_fee_fen(10_000, HOUR_MS) == 2000
    assert policy.refund_fee_fen(10_000, 0) is None


@pytest.mark.parametrize(
    "doc, named",
    [
        ({"hold_minute": 5}, "hold_minute: unknown key"),
        ({"hold_minutes": 0}, "hold_minutes"),
        ({"hold_minutes": 31}, "hold_minutes: at most 30"),
        ({"hold_minutes": "10"}, "hold_minutes"),
        ({"boarding_opens_minutes": -1}, "boarding_opens_minutes"),
        ({"boarding_closes_minutes": 2.5}, "boarding_closes_minutes"),
        ({"sales_close_minutes": True}, "sales_close_minutes"),
        ({"refund_tiers": []}, "refund_tiers"),
        ({"refund_tiers": [{"hours_before": -1, "fee_percent": 10}]}, "refund_tiers[0].hours_before"),
        ({"refund_tiers": [{"hours_before": 2, "fee_percent": 101}]}, "refund_tiers[0].fee_percent"),
        (
            {"refund_tiers": [{"hours_before": 0, "fee_percent": 20}, {"hours_before": 2, "fee_percent": 10}]},
            "must fall",
        ),
        ({"refund_tiers": ["10%"]}, "refund_tiers[0]"),
    ],
)
def test_problems_are_named(doc, named):
    with pytest.raises(PolicyError) as caught:
        parse_policy(doc)
    assert any(named in problem for problem in caught.value.problems), caught.value.problems


def test_archive_after_days_is_read_and_checked():
    assert parse_policy({}).archive_after_ms == 62 * 24 * HOUR_MS
    assert parse_policy({"archive_after_days": 90}).archive_after_ms == 90 * 24 * HOUR_MS
    for bad in (30, 3651, "62", 62.5, True):
        with pytest.raises(PolicyError, match=r"archive_after_days: must be a whole number of days in 31\.\.3650"):
            parse_policy({"archive_after_days": bad})


def test_policy_toml_reads_back_as_the_same_rules():
    import tomllib

    from keyun.engine.policy import parse_policy, policy_toml

    custom = parse_policy(
        tomllib.loads(
            "hold_minutes = 4\nrefund_tiers = [{ hours_before = 1.5, fee_percent = 12.5, min_fee_fen = 30 }]\n"
            '[fares]\nrounding = "up"\nround_to_fen = 10\n[boarding]\nrequire_document_match = true\n'
        )
    )
    for policy in (Policy(), custom):
        assert parse_policy(tomllib.loads(policy_toml(policy))) == policy
