"""Identical searches share one owner round trip, and its answer for a moment (gateway/shared_answers.py)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, Counter

from keyun.common.clock import ManualClock
from keyun.engine.reasons import Reason, reject
from keyun.gateway.shared_answers import SharedAnswers


class Owners:
    """Stands in for the owners' round trip: counts the asks, says when one came, and answers when
    released."""

    def __init__(self, answers=None):
        self.asks = 0
        self.asked = asyncio.Event()
        self.release = asyncio.Event()
        self.answers = answers or {}

    async def ask(self, key="q"):
        self.asks += 1
        self.asked.set()
        await self.release.wait()
        answer = self.answers.get(key, f"answer {self.asks}")
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_callers_asking_at_once_share_one_ask_and_later_ones_reuse_it_until_it_is_old():
    async def scenario():
        owners = Owners()
        clock = ManualClock()
        shared = SharedAnswers(ttl_s=0.2, clock=clock)
        callers = [asyncio.ensure_future(shared.answer("q", owners.ask)) for _ in range(50)]
        await owners.asked.wait()  # the one ask runs after every caller has joined it
        owners.release.set()
        assert await asyncio.gather(*callers) == ["answer 1"] * 50
        assert await shared.answer("q", owners.ask) == "answer 1"  # kept
        assert await shared.answer("other", lambda: owners.ask("other")) == "answer 2"  # another key asks anew
        clock.advance_s(0.19)
        assert await shared.answer("q", owners.ask) == "answer 1"  # still within ttl_s
        clock.advance_s(0.01)
        assert await shared.answer("q", owners.ask) == "answer 3"  # ttl_s old: asked again
        assert owners.asks == 3

    asyncio.run(scenario())


def test_rejections_and_errors_reach_every_caller_but_are_never_kept():
    async def scenario():
        unknown = reject(Reason.UNKNOWN_STATION, "no trip serves station ZZZ")
        owners = Owners({"bad": unknown, "down": ConnectionError("owner gone")})
        owners.release.set()
        shared = SharedAnswers(ttl_s=60)
        assert (
            await asyncio.gather(*(shared.answer("bad", lambda: owners.ask("bad")) for _ in range(3))) == [unknown] * 3
        )
        assert await shared.answer("bad", lambda: owners.ask("bad")) == unknown
        for _ in range(2):
            with pytest.raises(ConnectionError):
                await shared.answer("down", lambda: owners.ask("down"))
        assert owners.asks == 4  # one shared ask for the three, then each later call asked again
        assert not shared.kept and not shared.asking

    asyncio.run(scenario())


def test_a_caller_giving_up_does_not_cancel_the_answer_of_the_others():
    async def scenario():
        owners = Owners()
        shared = SharedAnswers(ttl_s=60)
        first = asyncio.ensure_future(shared.answer("q", owners.ask))
        second = asyncio.ensure_future(shared.answer("q", owners.ask))
        await owners.asked.wait()
        first.cancel()
        owners.release.set()
        assert await second == "answer 1"
        assert first.cancelled() and owners.asks == 1

    asyncio.run(scenario())


def test_sharing_off_asks_every_time():
    async def scenario():
        owners = Owners()
        owners.release.set()
        shared = SharedAnswers(ttl_s=0)
        assert [await shared.answer("q", owners.ask) for _ in range(3)] == ["answer 1", "answer 2", "answer 3"]

    asyncio.run(scenario())


def test_the_oldest_answers_go_first_when_full_and_sources_are_counted():
    async def scenario():
        owners = Owners()
        owners.release.set()
        registry = CollectorRegistry()
        counter = Counter("answers_total", "test", ["source"], registry=registry)
        shared = SharedAnswers(ttl_s=60, counter=counter, max_entries=2)
        for key in ("a", "b", "c", "c"):
            await shared.answer(key, owners.ask)
        assert list(shared.kept) == ["b", "c"]
        assert [registry.get_sample_value("answers_total", {"source": s}) for s in ("owners", "kept", "shared")] == [
            3,
            1,
            0,
        ]

    asyncio.run(scenario())
