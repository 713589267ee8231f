"""Fare rules: the [fares] table of a policy file, rounding, ages and what a refund gives back."""

from __future__ import annotations

import pytest

from keyun.engine.events import Fare
from keyun.engine.fares import FareRules, age_on, free_child_limit, round_fen
from keyun.engine.policy import Policy, PolicyError, parse_policy


def test_no_fares_table_keeps_every_fare_as_it_was():
    rules = parse_policy({}).fares
    assert rules == FareRules() == Policy().fares
    assert not rules.itemises
    assert rules.fare(4000, "full", False) == Fare("full", 4000)
    assert rules.fare(1234, "child", False).base_fen == 617  # half of 12.34, to the fen, half up
    assert rules.refund_basis_fen(None, 4000) == 4000


def test_every_fares_key_is_read():
    rules = parse_policy(
        {
            "fares": {
                "child_percent": 40,
                "concession_percent": 60,
                "student_percent": 75,
                "service_fee_fen": 100,
                "fuel_surcharge_fen": 200,
                "insurance_fen": 500,
                "round_to_fen": 100,
                "rounding": "down",
                "minimum_fare_fen": 800,
                "refundable": ["base"],
                "one_ticket_per_document": False,
                "free_child_percent": 20,
            }
        }
    ).fares
    assert rules == FareRules(40, 60, 75, 100, 200, 500, 100, "down", 800, ("base",), False, 20)
    assert rules.itemises
    assert rules.fare(3000, "student", True) == Fare("student", 2200, 100, 200, 500)  # 22.50 down to 22
    assert rules.fare(1500, "child", False).base_fen == 800  # 6.00, raised to the minimum fare
    fare = rules.fare(3000, "concession", True)
    assert rules.refund_basis_fen(fare, fare.total_fen) == fare.base_fen  # only the base is refundable


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"child_percent": 120}, "fares.child_percent: must be a whole number of percent in 0..100"),
        ({"service_fee_fen": -1}, "fares.service_fee_fen: must be a whole number of fen in 0..100000"),
        ({"insurance_fen": 2.5}, "fares.insurance_fen: must be a whole number of fen in 0..100000"),
        ({"round_to_fen": 20}, "fares.round_to_fen: must be one of 1, 10, 50, 100"),
        ({"round_to_fen": True}, "fares.round_to_fen: must be one of 1, 10, 50, 100"),
        ({"rounding": "nearest"}, "fares.rounding: must be one of half_up, half_down, up, down"),
        ({"refundable": ["base", "insurance"]}, "fares.refundable: must be a list of distinct components"),
        ({"refundable": "base"}, "fares.refundable: must be a list of distinct components"),
        ({"one_ticket_per_document": 1}, "fares.one_ticket_per_document: must be true or false"),
        ({"free_child_percent": 11.5}, "fares.free_child_percent: must be a whole number of percent in 0..100"),
        ({"child_fare": 50}, "fares.child_fare: unknown key (expected one of"),
    ],
)
def test_every_fares_problem_is_named(table, problem):
    with pytest.raises(PolicyError) as caught:
        parse_policy({"fares": table})
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_fares_must_be_a_table():
    with pytest.raises(PolicyError, match="fares: must be a table"):
        parse_policy({"fares": 50})


@pytest.mark.parametrize(
    ("fen_times_100", "step", "rounding", "expected"),
    [
        (67_500, 50, "half_up", 700),  # 6.75 to half a yuan
        (67_500, 50, "half_down", 650),
        (67_400, 50, "half_up", 650),
        (67_600, 50, "half_down", 700),
        (67_500, 100, "half_up", 700),
        (65_000, 100, "half_up", 700),  # 6.50: the half goes up...
        (65_000, 100, "half_down", 600),  # ...or down
        (60_100, 100, "up", 700),
        (69_900, 100, "down", 600),
        (61_750, 1, "half_up", 618),
    ],
)
def test_rounding(fen_times_100, step, rounding, expected):
    assert round_fen(fen_times_100, 100, step, rounding) == expected


def test_ages_and_the_free_child_limit():
    assert age_on("20120315", 2026, 3, 14) == 13
    assert age_on("20120315", 2026, 3, 15) == 14
    assert age_on("20200229", 2026, 2, 28) == 5
    assert free_child_limit(FareRules(), 45) == 4 and free_child_limit(FareRules(), 12) == 1
