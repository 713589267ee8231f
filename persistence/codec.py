"""Encoding engine values (commands, events, views, rejections) as msgpack, for the log and snapshots.

A dataclass is encoded as its class name and its fields in order; an enum as its class name and
value; arrays decode as tuples, which is what the frozen engine values hold.  Only classes of the
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

from keyun.engine import commands, decide, events, network, reasons, shard, state, views

FORMAT_VERSION = 1
_DATACLASS = 1
_ENUM = 2


def _engine_types(*modules: ModuleType) -> dict[str, type]:
    known: dict[str, type] = {}
    for module in modules:
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == module.__name__ and (dataclasses.is_dataclass(value) or issubclass(value, enum.Enum)):
                assert name not in known, f"two engine types are called {name}"
                known[name] = value
    return known


TYPES = _engine_types(commands, events, network, reasons, state, views, decide, shard)
FIELDS = {name: tuple(f.name for f in dataclasses.fields(cls)) for name, cls in TYPES.items() if dataclasses.is_dataclass(cls)}
# msgpack writes an IntEnum (Reason) as a bare int without asking _default, so fields declared
# with an IntEnum type are turned back into members when decoded: (field position, enum class).
INT_ENUM_FIELDS = {
    name: tuple((n, TYPES[f.type]) for n, f in enumerate(dataclasses.fields(cls)) if isinstance(f.type, str) and issubclass(TYPES.get(f.type, object), enum.IntEnum))
    for name, cls in TYPES.items()
    if dataclasses.is_dataclass(cls)
}


def _default(value: Any) -> msgpack.ExtType:
    name = type(value).__name__
    if name in FIELDS:
        return msgpack.ExtType(_DATACLASS, encode([name, *(getattr(value, f) for f in FIELDS[name])]))
    if isinstance(value, enum.Enum) and name in TYPES:
        return msgpack.ExtType(_ENUM, encode([name, value.value]))
    raise TypeError(f"cannot encode {type(value)!r}")


def _ext_hook(code: int, data: bytes) -> Any:
    name, *values = decode(data)
    cls = TYPES.get(name)
    if cls is None:
        raise ValueError(f"unknown type {name!r} in encoded data")
    if code == _DATACLASS:
        for n, enum_cls in INT_ENUM_FIELDS.get(name, ()):
            values[n] = enum_cls(values[n])
        return cls(*values)
    if code == _ENUM:
        return cls(values[0])
    raise ValueError(f"unknown extension code {code}")


def encode(value: Any) -> bytes:
    return msgpack.packb(value, default=_default, use_bin_type=True)


def decode(data: bytes) -> Any:
    return msgpack.unpackb(data, ext_hook=_ext_hook, use_list=False, raw=False, strict_map_key=False)
