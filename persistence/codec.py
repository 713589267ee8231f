"""Encoding engine values (commands, events, views, rejections) as msgpack, for the log and snapshots.

A dataclass is encoded as its class name and its fields in order; an enum as its class name and
value; arrays decode as tuples, which is what the frozen engine values hold.  Fields marked
compare=False are caches and are not stored.  Only classes of the
engine are known to the decoder, so nothing in a data file can make it build anything else (unlike
pickle).  Changing the fields of an engine class changes the format: bump FORMAT_VERSION and
convert old data.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from types import ModuleType
from typing import Any

import msgpack

from keyun.engine import accounts, commands, decide, events, network, outbox, reasons, shard, state, views

FORMAT_VERSION = 1

# A dataclass or enum is an array [MARK, class name, field values...].  MARK is an empty msgpack
# extension value that nothing else encodes to, so the decoder's per-array hook can tell these
# arrays from ordinary tuples without decoding anything twice.
_MARK_CODE = 0
_MARK = msgpack.ExtType(_MARK_CODE, b"")


class _Marker:
    """What MARK decodes to: compared by identity in the array hook."""


_MARKER = _Marker()


def _engine_types(*modules: ModuleType) -> dict[str, type]:
    known: dict[str, type] = {}
    for module in modules:
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == module.__name__ and (dataclasses.is_dataclass(value) or issubclass(value, enum.Enum)):
                assert name not in known, f"two engine types are called {name}"
                known[name] = value
    return known


TYPES = _engine_types(commands, events, network, reasons, state, views, decide, shard, outbox, accounts)
FIELDS = {name: tuple(f.name for f in dataclasses.fields(cls) if f.compare) for name, cls in TYPES.items() if dataclasses.is_dataclass(cls)}


def _builder(cls: type):
    """A function making a decoded value from its field values.

    Enums by value.  Dataclasses through their own __init__ when it only stores fields; otherwise
    (validation in __post_init__, or frozen) field by field, skipping __post_init__: the values
    were validated when first made, and the log's checksums vouch they are unchanged.  The setter
    is generated per class because decoding builds millions of these during recovery.
    """
    if issubclass(cls, enum.Enum):
        members = {member.value: member for member in cls}

        def member(values):
            try:
                return members[values[0]]
            except KeyError:
                raise ValueError(f"{values[0]!r} is not a {cls.__name__}") from None

        return member
    params = dataclasses.fields(cls)
    if not hasattr(cls, "__post_init__") and not cls.__dataclass_params__.frozen:
        return lambda values: cls(*values)
    stored = [f for f in params if f.compare]
    lines = ["def build(values):", "    value = new(cls)", "    count = len(values)"]
    # A field added later, at the end and with a default, reads as its default from older data.
    lines += [
        f"    setattr(value, {f.name!r}, values[{n}])" if f.default is dataclasses.MISSING
        else f"    setattr(value, {f.name!r}, values[{n}] if count > {n} else defaults[{f.name!r}])"
        for n, f in enumerate(stored)
    ]
    lines += [f"    setattr(value, {f.name!r}, factories[{f.name!r}]())" for f in params if not f.compare]
    lines.append("    return value")
    scope = {
        "new": object.__new__, "cls": cls, "setattr": object.__setattr__, "defaults": {f.name: f.default for f in stored},
        "factories": {f.name: f.default_factory for f in params if not f.compare},
    }
    exec("\n".join(lines), scope)
    return scope["build"]


BUILDERS = {name: _builder(cls) for name, cls in TYPES.items()}


def _default(value: Any) -> list:
    name = type(value).__name__
    if name in FIELDS:
        return [_MARK, name, *(getattr(value, f) for f in FIELDS[name])]
    if isinstance(value, enum.Enum) and name in TYPES:
        return [_MARK, name, value.value]
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value)!r}")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _MARK_CODE and not data:
        return _MARKER
    raise ValueError(f"unknown extension code {code} in encoded data")


def _array_hook(values: tuple) -> Any:
    if values and values[0] is _MARKER:
        build = BUILDERS.get(values[1])
        if build is None:
            raise ValueError(f"unknown type {values[1]!r} in encoded data")
        return build(values[2:])
    return values


def encode(value: Any) -> bytes:
    # strict_types: IntEnum and tuple values reach _default instead of packing as a plain int and array.
    return msgpack.packb(value, default=_default, use_bin_type=True, strict_types=True)


def decode(data: bytes) -> Any:
    return msgpack.unpackb(data, ext_hook=_ext_hook, list_hook=_array_hook, use_list=False, raw=False, strict_map_key=False)
