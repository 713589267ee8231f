"""bench.engine's floors must do the engine's work, or the ratios it prints mean nothing."""

from bench import floors
from bench.engine import draw, hold_confirm, schedule, trip_spec_id
from bench.replay import STOPS
from keyun.engine.policy import Policy
from keyun.engine.shard import ShardEngine


def test_the_floors_confirm_exactly_the_pairs_the_engine_confirms():
    # One trip and more requests than it has seats on some legs: a sketch that sold a seat-leg
    # twice would confirm more pairs than the engine, one that missed a free seat fewer.
    for trips, pairs in ((1, 400), (30, 3000)):
        engine = ShardEngine(Policy())
        schedule(engine, trips)
        draws = draw(trips, pairs, seed=7)
        sold, _ = hold_confirm(engine, draws)
        assert 0 < sold <= pairs
        trip_ids = [trip_spec_id(n) for n in range(trips)]
        assert floors.bare(draws, trip_ids, STOPS)[0] == sold
        assert floors.required(draws, trip_ids, STOPS)[0] == sold
    assert sold == pairs  # 30 trips have room for every request


def test_the_required_floor_checks_ids_as_commands_do():
    import pytest

    with pytest.raises(ValueError):
        floors.Hold("bad id with spaces", "B0-20300102", "S0", "S1")
    with pytest.raises(ValueError):
        floors.Hold("h1", "B0-20300102", "S1", "S1")
