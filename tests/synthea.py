"""The shared Synthea sample (../shared/data/synthea-r4-100): locate it, read bundles, count by type.

Counts here come from the files themselves, independently of the server, so tests compare
what the server returns against the source data.
"""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

SYNTHEA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "synthea-r4-100"


def synthea_files(count: int) -> list[Path]:
    files = sorted(SYNTHEA_DIR.glob("*.json.gz"))
    if not files:
        pytest.skip(f"Synthea sample not found at {SYNTHEA_DIR}: these tests need ../shared")
    return files[:count]


def read_bundle(path: Path) -> dict[str, Any]:
    return dict(orjson.loads(gzip.decompress(path.read_bytes())))


def type_counts(bundles: list[dict[str, Any]]) -> Counter[str]:
    return Counter(e["resource"]["resourceType"] for b in bundles for e in b["entry"])
