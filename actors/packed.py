"""Batches cross between the gateway and an owner as one blob of the engine's codec each way.

Ray pickles a call's arguments and its result itself, through cloudpickle's Python-level pickler
and its own framing; bytes it passes as they are.  Encoding the batch with the codec
(engine/codec.py) costs the gateway less CPU per batch than either (`python -m bench.batches`), and
the owner decodes only engine values of the types it takes, each validated by its constructor in
the owner's own process.
"""

from __future__ import annotations

from keyun.engine import codec
from keyun.engine.values import Call, Reply, Several

pack = codec.encode
# What a trip owner answers: a reply per call (a view, a rejection...).
unpack_replies = codec.decoder(list[codec.union(Reply)])
# What the accounts owner answers: a reply or, for SetUp and TouchSessions, a tuple of replies;
# these decode through the codec's hook for kinds, several times slower than unpack_replies.
unpack_several_replies = codec.decoder(list[Several[Reply]])


class PackedBatches:
    """Mixed into an owner whose `apply(batch) -> replies` is its batch entry point."""

    # What `apply` takes: calls.  An owner taking other values says so.
    unpack_calls = codec.decoder(list[codec.union(Call)])

    def apply_packed(self, blob: bytes) -> bytes:
        return pack(self.apply(self.unpack_calls(blob)))  # type: ignore[attr-defined]
