"""``fhir-server terminology load`` of a generated 5,000-code CSV (a 4-ary tree: the parent of
C<i> is C<(i-1)//4>), then $lookup, $subsumes, $validate-code, $expand and search
:below/:above answered from PostgreSQL. Bad files change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from fhir_server.cli import main
from fhir_server.config import Settings
from tests.conftest import free_port, serving

GEN = "http://example.org/fhir/CodeSystem/generated"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def _write_csv(path: Path, size: int) -> Path:
    lines = ["code,display,parents,inactive,designation:de,kind"]
    for i in range(size):
        parent = f"C{(i - 1) // 4}" if i else ""
        lines.append(f"C{i},Concept {i},{parent},{'true' if i == 7 else ''},{'Begriff 1' if i == 1 else ''},"
                     f"{'leaf' if 4 * i + 1 >= size else 'node'}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def loaded(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("load")
    assert main(["terminology", "load", str(_write_csv(folder / "gen.csv", 5000)), "--url", GEN,
                 "--version", "2024", "--name", "Generated", "--database-url", database_url]) == 0
    return database_url


GEN_VS = "http://example.org/fhir/ValueSet/gen-c21-but-c85"


@pytest.fixture(scope="module")
def gen(loaded: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    from fhir_server.app import create_app

    folder = tmp_path_factory.mktemp("gen-terminology")
    (folder / "vs.json").write_text(json.dumps({
        "resourceType": "ValueSet", "url": GEN_VS, "status": "active", "compose": {
            "include": [{"system": GEN, "filter": [{"property": "concept", "op": "is-a", "value": "C21"}]}],
            "exclude": [{"system": GEN, "concept": [{"code": "C85"}]}]}}))
    settings = Settings(database_url=loaded, host="127.0.0.1", port=free_port(), auth="off", pool_min=1,
                        pool_max=8, log_level="warning", terminology_dir=folder, max_expansion=2000)
    with serving(create_app(settings), settings) as base, httpx.Client(
            base_url=base, timeout=30, headers={"Accept": "application/fhir+json"}) as http:
        yield http


def _parameters(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return list(response.json()["parameter"])


def _prop(code: str, key: str, value: Any) -> dict[str, Any]:
    return {"name": "property", "part": [{"name": "code", "valueCode": code}, {"name": "value", key: value}]}


def test_the_load_is_recorded(loaded: str) -> None:
    with psycopg.connect(loaded) as conn:
        assert conn.execute("SELECT url, version, name, concept_count FROM terminology_system").fetchall() == [
            (GEN, "2024", "Generated", 5000)]


def test_lookup(gen: httpx.Client) -> None:
    assert _parameters(gen.get("/CodeSystem/$lookup", params={"system": GEN, "code": "C1"})) == [
        {"name": "name", "valueString": "Generated"}, {"name": "version", "valueString": "2024"},
        {"name": "display", "valueString": "Concept 1"},
        {"name": "designation", "part": [{"name": "language", "valueCode": "de"},
                                         {"name": "value", "valueString": "Begriff 1"}]},
        _prop("kind", "valueString", "node"), _prop("parent", "valueCode", "C0"),
        *(_prop("child", "valueCode", f"C{i}") for i in (5, 6, 7, 8))]


@pytest.mark.parametrize("a, b, outcome", [
    ("C0", "C4999", "subsumes"), ("C5", "C1", "subsumed-by"), ("C1", "C2", "not-subsumed"), ("C9", "C9", "equivalent")])
def test_subsumes(gen: httpx.Client, a: str, b: str, outcome: str) -> None:
    response = gen.get("/CodeSystem/$subsumes", params={"system": GEN, "codeA": a, "codeB": b})
    assert _parameters(response) == [{"name": "outcome", "valueCode": outcome}]


def _value_set(op: str, value: str) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "status": "active", "compose": {"include": [
        {"system": GEN, "filter": [{"property": "concept", "op": op, "value": value}]}]}}


def test_expand_with_hierarchy_and_text_filter(gen: httpx.Client) -> None:
    # Below C21: C85-88, C341-356, C1365-1428 (84 codes); of those, "138" is in C1380-C1389 only.
    response = gen.post("/ValueSet/$expand", headers=FHIR_JSON, json={"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": _value_set("descendent-of", "C21")},
        {"name": "filter", "valueString": "138"}, {"name": "count", "valueInteger": 3},
        {"name": "offset", "valueInteger": 2}]})
    assert response.status_code == 200, response.text
    expansion = response.json()["expansion"]
    assert expansion["total"] == 10
    assert expansion["contains"] == [{"system": GEN, "version": "2024", "code": f"C{i}", "display": f"Concept {i}"}
                                     for i in (1382, 1383, 1384)]
    response = gen.post("/ValueSet/$expand", headers=FHIR_JSON, json={"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": _value_set("is-a", "C1")}, {"name": "activeOnly", "valueBoolean": True}]})
    # is-a C1: 1 + 4 + 16 + 64 + 256 + 1024 = 1365 codes, less the inactive C7 and nothing else.
    assert response.json()["expansion"]["total"] == 1364
    whole = {"resourceType": "ValueSet", "url": "http://example.org/whole", "status": "active",
             "compose": {"include": [{"system": GEN}]}}
    response = gen.post("/ValueSet/$expand", headers=FHIR_JSON, json={"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": whole}]})
    assert response.status_code == 422 and response.json()["issue"][0] == {
        "severity": "error", "code": "too-costly", "diagnostics": "The expansion of http://example.org/whole has more "
        "than 2000 codes: too costly to return; narrow it with 'filter'"}


def test_validate_code(gen: httpx.Client) -> None:
    assert _parameters(gen.get("/CodeSystem/$validate-code", params={"url": GEN, "code": "C4999"})) == [
        {"name": "result", "valueBoolean": True}, {"name": "display", "valueString": "Concept 4999"}]
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": _value_set("is-a", "C5")},
        {"name": "coding", "valueCoding": {"system": GEN, "code": "C1365"}}]}
    assert _parameters(gen.post("/ValueSet/$validate-code", headers=FHIR_JSON, json=body))[0] == {
        "name": "result", "valueBoolean": True}
    body["parameter"][1] = {"name": "coding", "valueCoding": {"system": GEN, "code": "C2"}}
    assert _parameters(gen.post("/ValueSet/$validate-code", headers=FHIR_JSON, json=body))[0] == {
        "name": "result", "valueBoolean": False}


def test_below_and_above_are_sql(gen: httpx.Client) -> None:
    for code in ("C21", "C85", "C341", "C1", "C2"):
        observation = {"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": GEN,
                                                                                              "code": code}]}}
        assert gen.put(f"/Observation/o-{code}", headers=FHIR_JSON, json={**observation, "id": f"o-{code}"}
                       ).status_code == 201

    def ids(query: str) -> list[str]:
        response = gen.get(f"/Observation?{query}")
        assert response.status_code == 200, response.text
        return sorted(e["resource"]["id"] for e in response.json().get("entry", []))
    assert ids(f"code:below={GEN}|C21") == ["o-C21", "o-C341", "o-C85"]
    assert ids(f"code:above={GEN}|C341") == ["o-C1", "o-C21", "o-C341", "o-C85"]  # C341 < C85 < C21 < C5 < C1 < C0
    # A value set over the loaded system, from the terminology/ folder: is-a C21, less C85 itself.
    assert ids(f"code:in={GEN_VS}") == ["o-C21", "o-C341"]
    assert ids(f"code:not-in={GEN_VS}") == ["o-C1", "o-C2", "o-C85"]


def test_bad_files_change_nothing(loaded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = {
        "dup.csv": ("code,display,parents\nA,a,\nA,again,\n", "a code appears twice (Key (system, code)="),
        "orphan.csv": ("code,display,parents\nA,a,\nB,b,Z\n", "the parent 'Z' of 'B' is not a code of this file"),
        "nocode.csv": ("display\nx\n", "the CSV header has no 'code' column"),
        "empty.csv": ("code,display\n,x\n", "line 2: empty code"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        assert main(["terminology", "load", str(tmp_path / name), "--url", GEN, "--database-url", loaded]) == 2
        assert message in capsys.readouterr().out
    (tmp_path / "x.json").write_text('{"resourceType": "ValueSet"}')
    assert main(["terminology", "load", str(tmp_path / "x.json"), "--database-url", loaded]) == 2
    assert capsys.readouterr().out == f"error: {tmp_path / 'x.json'}: not a FHIR CodeSystem\n"
    with psycopg.connect(loaded) as conn:
        assert conn.execute("SELECT concept_count FROM terminology_system WHERE url = %s", (GEN,)).fetchone() == (
            5000,)


def test_fhir_code_system_file(loaded: str, tmp_path: Path) -> None:
    import orjson

    from tests.terminology_fixtures import CODE_SYSTEM
    path = tmp_path / "animals.json"
    path.write_bytes(orjson.dumps({**CODE_SYSTEM, "url": "http://example.org/fhir/CodeSystem/loaded-animals"}))
    assert main(["terminology", "load", str(path), "--database-url", loaded]) == 0
    with psycopg.connect(loaded) as conn:
        rows = conn.execute("SELECT code, parents, inactive FROM terminology_concept WHERE system = %s ORDER BY code",
                            ("http://example.org/fhir/CodeSystem/loaded-animals",)).fetchall()
    assert rows == [("animal", [], False), ("bird", ["animal"], False), ("cat", ["mammal"], False),
                    ("dog", ["mammal"], False), ("eagle", ["bird"], False), ("mammal", ["animal"], False),
                    ("penguin", ["bird"], True)]
