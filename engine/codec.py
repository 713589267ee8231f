"""The one codec: engine values as msgpack, for Ray transport, the write-ahead log and snapshots.

Every engine value is a `Value` (engine/values.py): a frozen msgspec Struct encoded as an array of
its class name and its fields in order.  Decoding is typed: a decoder is built for a type such as
`list[union(Call)]`, and only engine values of that type decode; a value is built through its own
constructor checks (`__post_init__`), so data from another process or a disk is validated exactly
like a value made here.  Nothing in encoded data can make the decoder build anything else.

Unions are derived, not listed: `union(kind)` is every Value class deriving from the kind (Command,
Query, Event, Reply...), found by importing every module of the engine.  A field annotated with a
kind (or `Several[kind]`) is decoded the same way, through a hook (`_decode_kind`).

Format changes: the encoded form of a value is its fields in order, so changing the fields of any
engine value changes the data format.  Bump FORMAT_VERSION with it: the data directory's manifest
and the log's header carry it, a server refuses data of another version, and `keyun upgrade`
converts a data directory from the version before (reading the old format with its own reader).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from types import GenericAlias
from typing import Any, Union

import msgspec

from .values import Kind, Value, several_of

FORMAT_VERSION = 2

DecodeError = msgspec.DecodeError  # and msgspec.ValidationError, a subclass: data that is not a value of the type


def _engine_loaded() -> None:
    """Import every engine module, so that every Value class exists before unions are derived."""
    package = __name__.rpartition(".")[0]
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{module.name}")


def _subclasses(cls: type[object]) -> list[type]:
    found: list[type] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


@functools.cache
def union(kind: type) -> Any:
    """Every engine value of a kind (a Kind, or Value for all of them), as one Union type."""
    _engine_loaded()
    members = sorted({cls for cls in _subclasses(kind) if issubclass(cls, Value)}, key=lambda cls: cls.__name__)
    if not members:
        raise TypeError(f"no engine value is a {kind.__name__}")
    return Union[tuple(members)]  # noqa: UP007 (a Union of a computed tuple)


_encoder = msgspec.msgpack.Encoder()


def encode(value: Any) -> bytes:
    """Engine values, and plain data holding them, as msgpack; TypeError for anything else.

    A function rather than the encoder's bound method: code that Ray pickles by value (a class
    defined in a script) may refer to it, and msgspec's encoders do not pickle."""
    return _encoder.encode(value)


def _decode_kind(type_: type, obj: Any) -> Any:
    """A field annotated with a kind: a value of the kind.  With `Several[kind]`: one value of the
    kind (an array starting with its tag) or a tuple of them (a command's events, SetUp's reply).

    msgspec hands the hook the field as plain data; it is encoded again and decoded by a cached
    decoder of the kind's union, which is many times faster than msgspec.convert to a union."""
    kind = getattr(type_, "kind", None)
    if kind is not None and several_of(kind) is type_:
        one, several = _decoders_of(kind)
        return one(encode(obj)) if type(obj) is list and obj and type(obj[0]) is str else several(encode(obj))
    if isinstance(type_, type) and issubclass(type_, Kind):
        # mypy takes a class narrowed by issubclass for unhashable (its __hash__ is the instances')
        return _decoders_of(type_)[0](encode(obj))  # type: ignore[arg-type]
    # msgspec's protocol for a dec_hook: NotImplementedError means "not a type this hook decodes".
    raise NotImplementedError(f"{type_!r} is not an engine type")


@functools.cache
def _decoders_of(kind: type) -> tuple[Decoder, Decoder]:
    """Decoders of one value of a kind and of a tuple of them, cached by the kind class (a lookup
    by a Union type would hash all of its members at every call)."""
    return decoder(union(kind)), decoder(GenericAlias(tuple, (union(kind), ...)))  # tuple[union(kind), ...]


class Decoder:
    """Decodes bytes to a value of its type (arrays decode as tuples where the type says tuple),
    raising DecodeError for anything else.  Kinds in the type decode as any value of the kind,
    through the hook; a `union(kind)` at the top decodes faster.  Pickled as its type, so that code
    Ray pickles by value may hold one (msgspec's decoders do not pickle)."""

    __slots__ = ("type", "_decode")

    def __init__(self, type_: Any):
        self.type = type_
        self._decode = msgspec.msgpack.Decoder(type_, dec_hook=_decode_kind).decode

    def __call__(self, data: bytes) -> Any:
        return self._decode(data)

    def __reduce__(self) -> tuple[Any, ...]:
        return decoder, (self.type,)


@functools.cache
def decoder(type_: Any) -> Decoder:
    """The decoder of a type, built once."""
    return Decoder(type_)


def decode(data: bytes, type_: Any) -> Any:
    return decoder(type_)(data)
