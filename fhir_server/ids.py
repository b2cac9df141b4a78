"""Identifiers the server makes up.

- ``next_unique``: process-unique 128-bit numbers for request ids and audit record ids. A
  random 64-bit prefix per process and a counter: unique across processes and restarts, and,
  unlike uuid4, no system call per id (every request gets one). A forked child (worker pools,
  ``fhir-server load`` workers) draws its own prefix, or parent and child would repeat numbers.
- ``time_ordered_id``: resource ids, UUID version 7 (RFC 9562): a millisecond timestamp then
  74 random bits. Ids made close in time sort close together, so the (type, id) indexes of the
  resource, history and search tables grow at their right edge instead of at a random page
  each: at 300,000 resources random uuid4 ids made every insert touch a cold page.
"""

from __future__ import annotations

import itertools
import os
import time

__all__ = ["next_unique", "time_ordered_id"]

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


_VERSION_7 = 0x7 << 76
_VARIANT = 0b10 << 62
_RAND_A = 0xFFF << 64
_RAND_B = (1 << 62) - 1


def time_ordered_id() -> str:
    random = int.from_bytes(os.urandom(10), "big")  # 80 bits; 74 are used
    value = (time.time_ns() // 1_000_000) << 80 | _VERSION_7 | random & _RAND_A | _VARIANT | random & _RAND_B
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
