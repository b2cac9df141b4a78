"""Resource ids are UUID version 7 (RFC 9562): time-ordered, random in their low 74 bits."""

from __future__ import annotations

import re
import time
import uuid

from fhir_server.ids import time_ordered_id
from fhir_server.resources.repository import ID_PATTERN

_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def test_ids_are_version_7_uuids_with_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    made = time_ordered_id()
    after = time.time_ns() // 1_000_000
    assert _UUID_TEXT.fullmatch(made) and ID_PATTERN.fullmatch(made)
    parsed = uuid.UUID(made)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert before <= parsed.int >> 80 <= after  # the first 48 bits: Unix time in ms


def test_ids_sort_by_time_and_do_not_repeat() -> None:
    first = [time_ordered_id() for _ in range(1000)]
    time.sleep(0.002)
    later = time_ordered_id()
    assert len(set(first)) == 1000
    assert all(later > made for made in first)  # text order = time order (lowercase hex)
