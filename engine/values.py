"""What the engine's values are: the one base they share, and the kinds they come in.

Every engine value that crosses between processes or reaches a disk (commands, queries, events,
replies, rejections, state records) is a `Value`: a frozen msgspec Struct, tagged with its class
name, so that the one codec (engine/codec.py) can encode it and decode it back to its own class,
re-running its validation (`__post_init__`) on the way in.  The accounts owner's state, which
its snapshots hold whole, is made of mutable values (`Value, frozen=False`); a trip owner's
working state (state.Trip) is no Value, and snapshots hold its record form (state.TripRecord).

The kinds are plain mixins beside `Value`.  A field that may hold any value of a kind (a journal
entry's command, its events) is annotated with the kind, and the codec decodes it as the union of
the kind's subclasses, found when first needed: a new command is a new subclass of `Command` (or
of a narrower kind, such as commands.TripCommand), and nothing else lists it.  A narrower kind
declares, for type checkers, what every value of it has (a trip command's `trip_id` and
`request_id`).  `Several[kind]` annotates a field holding one value of a kind or a tuple of them.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, TypeAlias, TypeVar, Union, dataclass_transform

import msgspec

if TYPE_CHECKING:
    # What msgspec does, told to type checkers (PEP 681): a subclass of Value is frozen unless it
    # says `frozen=False`.  Value names a transform metaclass of its own so that it counts as
    # neither frozen nor mutable, and mutable values may derive from it as they do at run time.
    @dataclass_transform(frozen_default=True, field_specifiers=(msgspec.field,))
    class _ValueMeta(msgspec.StructMeta): ...

    @dataclass_transform(frozen_default=True, field_specifiers=(msgspec.field,))
    class Value(msgspec.Struct, metaclass=_ValueMeta):
        """An engine value: encoded as an array of its tag (its class name) and its fields in order."""

else:

    class Value(msgspec.Struct, frozen=True, tag=True, array_like=True, gc=False):
        """An engine value: encoded as an array of its tag (its class name) and its fields in order.

        Untracked by the cycle collector (gc=False): an owner makes several values per call and keeps
        millions (holds, tickets, receipts), and values hold only plain data and other values, never
        a reference back, so they form no cycles for it to find.  A value must stay that way."""


class Kind:
    """A kind of value.  Not a Struct, so that a field annotated with it is decoded by the codec as
    any value of the kind."""

    __slots__ = ()


class Call(Kind):
    """What the gateway sends an owner: a command or a query."""

    __slots__ = ()


class Command(Call):
    """A call that may change state; it carries a request id, and is journaled with its events."""

    __slots__ = ()


class Query(Call):
    """A call that only reads."""

    __slots__ = ()


class Outcome(Kind):
    """A decision: a command's events (`Several[Outcome]`), or its Rejection."""

    __slots__ = ()


class Event(Outcome):
    """What a command changed: `evolve` applies events, and nothing else changes the state."""

    __slots__ = ()


class Reply(Kind):
    """What an owner answers a call with: a view, a rejection, or a short acknowledgement (SetUp
    and TouchSessions answer with a tuple of them: `Several[Reply]`)."""

    __slots__ = ()


class Journaled(Kind):
    """A journal entry: what an owner's log holds of a batch (a command and its events, a refusal,
    an audit note)."""

    __slots__ = ()


if TYPE_CHECKING:
    K = TypeVar("K")
    # To type checkers, `Several[kind]` is what it holds.
    Several: TypeAlias = Union[K, tuple[K, ...]]  # noqa: UP007 (a generic alias, subscripted at run time too)


class _SeveralMeta(type):
    def __instancecheck__(cls, value: object) -> bool:
        kind = cls.kind  # type: ignore[attr-defined]
        return isinstance(value, kind) or (type(value) is tuple and all(isinstance(item, kind) for item in value))


if not TYPE_CHECKING:

    class Several:
        """`Several[kind]`: a field annotation for one value of the kind or a tuple of them."""

        def __class_getitem__(cls, kind: type) -> type:
            return several_of(kind)


@functools.cache
def several_of(kind: type) -> type:
    """`Several[kind]` at run time: the annotation class the codec decodes as one value of the kind
    or a tuple of them (its `kind`)."""
    return _SeveralMeta(f"Several[{kind.__name__}]", (), {"kind": kind, "__slots__": ()})
