"""The gateway's batcher: a batch that cannot even be sent answers its callers instead of hanging."""

from __future__ import annotations

import asyncio

import pytest

from keyun.gateway.owners import Batcher, OwnerFailed


def test_a_batch_that_cannot_be_encoded_fails_its_callers():
    async def scenario():
        batcher = Batcher(actor=None)  # never reached: encoding the batch fails first
        not_a_value = lambda: None  # noqa: E731 - the codec encodes engine values only
        with pytest.raises(OwnerFailed):
            await asyncio.wait_for(batcher.submit(not_a_value), timeout=5)
        assert batcher.queue_depth() == 0 and batcher.draining is None

    asyncio.run(scenario())
