"""The terminology/ folder at start-up: good files registered, each broken file named with its
reason and left out (with the value sets that import a left-out one), strict mode refusing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from fhir_server.definitions import definitions
from fhir_server.terminology import expand
from fhir_server.terminology.sources import concept_maps
from fhir_server.terminology.startup import TerminologyFolderError, load_terminology

BASE = "http://example.org/fhir/folder-test/"


def _vs(name: str, include: dict[str, object]) -> dict[str, object]:
    return {"resourceType": "ValueSet", "url": BASE + name, "status": "active", "compose": {"include": [include]}}


def _write(folder: Path) -> None:
    cs = {"resourceType": "CodeSystem", "url": BASE + "cs", "status": "active", "content": "complete",
          "concept": [{"code": "a", "concept": [{"code": "b"}]}]}
    files = {
        "good.json": [cs, _vs("good", {"system": BASE + "cs"})],
        "map.json": {"resourceType": "ConceptMap", "url": BASE + "map", "status": "active"},
        "loop.json": [_vs("loop-a", {"valueSet": [BASE + "loop-b"]}), _vs("loop-b", {"valueSet": [BASE + "loop-a"]})],
        "unknown.json": _vs("unknown", {"system": "http://example.org/nowhere"}),
        "huge.json": _vs("huge", {"system": "http://hl7.org/fhir/resource-types"}),
        "importer.json": _vs("importer", {"valueSet": [BASE + "unknown"]}),
        "core.json": {"resourceType": "ValueSet", "url": "http://hl7.org/fhir/ValueSet/administrative-gender"},
        "patient.json": {"resourceType": "Patient"},
    }
    for name, content in files.items():
        (folder / name).write_bytes(orjson.dumps(content))
    (folder / "broken.json").write_bytes(b"{")


def test_problems_are_named_and_good_files_kept(tmp_path: Path) -> None:
    _write(tmp_path)
    loaded = load_terminology(tmp_path, False, 100)
    assert sorted(p.replace(str(tmp_path) + "/", "") for p in loaded.problems) == [
        "broken.json: not JSON (unexpected end of data: line 1 column 2 (char 1))",
        "core.json: http://hl7.org/fhir/ValueSet/administrative-gender is already defined (R4 core or an IG package)",
        f"huge.json: ValueSet {BASE}huge: The expansion of {BASE}huge has more than 100 codes: too costly to "
        "return; narrow it with 'filter'",
        # checked before unknown.json is dropped: the reason is the one underneath
        f"importer.json: ValueSet {BASE}importer: CodeSystem http://example.org/nowhere (in {BASE}unknown) is not "
        "known to this server",
        f"loop.json: ValueSet {BASE}loop-a: ValueSet {BASE}loop-a includes itself: "
        f"{BASE}loop-a -> {BASE}loop-b -> {BASE}loop-a",
        "patient.json: holds a Patient, not a CodeSystem, ValueSet or ConceptMap",
        f"unknown.json: ValueSet {BASE}unknown: CodeSystem http://example.org/nowhere (in {BASE}unknown) is not "
        "known to this server",
    ]
    assert sorted(n for n, _ in loaded.resources) == ["good.json", "good.json", "map.json"]
    assert expand(BASE + "good") == frozenset({(BASE + "cs", "a"), (BASE + "cs", "b")})
    assert BASE + "loop-b" not in definitions().value_sets and BASE + "map" in concept_maps()


def test_strict_refuses(tmp_path: Path) -> None:
    (tmp_path / "strict").mkdir()
    (tmp_path / "strict" / "broken.json").write_bytes(b"[1]")
    with pytest.raises(TerminologyFolderError, match="broken.json: holds a int, not a CodeSystem"):
        load_terminology(tmp_path / "strict", True, 100)
