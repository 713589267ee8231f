"""Fast pickling for the small frozen dataclasses that cross between processes in every batch.

Pickling a slotted dataclass by default runs Python-level __getstate__/__setstate__ per object;
pickling it as a constructor call with its fields is about three times faster (bench: 500 replies
5.2 → 1.6 ms).  For a command, the constructor also re-runs its validation in the owner, so what
an owner applies has been checked in the owner's own process.
"""

from __future__ import annotations

import operator
from dataclasses import fields
from typing import Any


def pickle_as_constructor_call(*classes: Any) -> None:
    for cls in classes:
        names = [f.name for f in fields(cls)]
        if not names:
            cls.__reduce__ = lambda self, cls=cls: (cls, ())
            continue
        getter = operator.attrgetter(*names)
        if len(names) == 1:
            cls.__reduce__ = lambda self, cls=cls, getter=getter: (cls, (getter(self),))
        else:
            cls.__reduce__ = lambda self, cls=cls, getter=getter: (cls, getter(self))
