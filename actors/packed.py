"""Batches cross between the gateway and an owner as one pickled blob each way.

Ray pickles a call's arguments and its result itself, but through cloudpickle's Python-level
pickler and its own framing.  That cost the gateway 0.15–0.25 ms more CPU per batch, submitting
and receiving together, than pickling with the C pickler first (`python -m bench.batches`: 4
batches of 8 sales in flight, 0.85–0.89 → 0.60–0.75 ms per batch).  Every call of the station
passes through the gateway, so that is where it counts.

Ray itself already trusts pickles between the processes of one cluster; this adds no new party.
"""

from __future__ import annotations

import pickle


def pack(value) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


unpack = pickle.loads


class PackedBatches:
    """Mixed into an owner whose `apply(batch, now_ms) -> replies` is its batch entry point;
    `now_ms` is the gateway's stamp (keyun.common.clock)."""

    def apply_packed(self, blob: bytes, now_ms: int | None = None) -> bytes:
        return pack(self.apply(unpack(blob), now_ms))  # type: ignore[attr-defined]
