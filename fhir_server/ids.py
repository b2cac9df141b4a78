"""Process-unique 128-bit numbers for request ids and audit record ids.

A random 64-bit prefix per process and a counter: unique across processes and restarts, and,
unlike uuid4, no system call per id (every request gets one). A forked child (worker pools,
``fhir-server load`` workers) draws its own prefix, or parent and child would repeat numbers.
"""

from __future__ import annotations

import itertools
import os

__all__ = ["next_unique"]

_PREFIX = 0
_COUNTER = itertools.count()


def _reseed() -> None:
    global _PREFIX, _COUNTER
    _PREFIX = int.from_bytes(os.urandom(8), "big") << 64
    _COUNTER = itertools.count(int.from_bytes(os.urandom(4), "big"))


_reseed()
os.register_at_fork(after_in_child=_reseed)


def next_unique() -> int:
    return _PREFIX | next(_COUNTER)
