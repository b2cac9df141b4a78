"""An IG package's ConceptMaps serve $translate: US Core 3.1.1 ships ConceptMap ndc-cvx (NDC
vaccine package codes to CVX), whose single group names no source or target system.

Needs ../shared/igs (skipped with a message without it).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conformance.test_us_core_package import CLI, SHARED_IGS, _serve

US_CORE_311 = SHARED_IGS / "us_core_311.tgz"
NDC_CVX = "http://hl7.org/fhir/us/core/ConceptMap/ndc-cvx"
NDC = "http://hl7.org/fhir/sid/ndc"

pytestmark = pytest.mark.skipif(not US_CORE_311.is_file(), reason=f"US Core package not found at {US_CORE_311}")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("profiles311")
    done = subprocess.run([CLI, "ig", "install", str(US_CORE_311), "--no-deps", "--profiles-dir", str(folder)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    yield from _serve(folder, database_url, {})


def _parts(parameters: dict[str, Any]) -> list[tuple[str, object]]:
    return [(p["name"], next((v for k, v in p.items() if k.startswith("value")), None))
            for p in parameters["parameter"]]


def test_translate_by_the_map_url_finds_the_cvx_code(base: str) -> None:
    answer = httpx.get(f"{base}/ConceptMap/$translate", params={"url": NDC_CVX, "system": NDC,
                                                                "code": "00005-0100-02"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["resourceType"] == "Parameters"
    assert body["parameter"][0] == {"name": "result", "valueBoolean": True}
    matches = [p["part"] for p in body["parameter"] if p["name"] == "match"]
    assert matches == [[{"name": "equivalence", "valueCode": "wider"},
                        {"name": "concept", "valueCoding": {"code": "162"}},
                        {"name": "source", "valueUri": NDC_CVX}]]


def test_a_code_the_map_does_not_hold_is_no_match(base: str) -> None:
    answer = httpx.get(f"{base}/ConceptMap/$translate", params={"url": NDC_CVX, "system": NDC, "code": "99999-9999-99"})
    assert answer.status_code == 200
    assert _parts(answer.json()) == [("result", False),
                                     ("message", f"No mapping found for '{NDC}|99999-9999-99'")]
