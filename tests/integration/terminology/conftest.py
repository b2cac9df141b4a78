"""A server whose terminology/ folder holds the hand-made animals code system, its value sets
and concept map (tests/terminology_fixtures.py), plus two broken files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from fhir_server.config import Settings
from tests.conftest import free_port, serving
from tests.terminology_fixtures import CODE_SYSTEM, CONCEPT_MAP, VALUE_SETS, VS, value_set


def write_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "animals.json").write_bytes(orjson.dumps(CODE_SYSTEM))
    (folder / "value-sets.json").write_bytes(orjson.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": v} for v in VALUE_SETS]}))
    (folder / "map.json").write_bytes(orjson.dumps(CONCEPT_MAP))
    (folder / "loop.json").write_bytes(orjson.dumps([
        value_set("loop-a", {"include": [{"valueSet": [VS + "loop-b"]}]}),
        value_set("loop-b", {"include": [{"valueSet": [VS + "loop-a"]}]})]))
    (folder / "broken.json").write_bytes(b"{not json")
    return folder


@pytest.fixture(scope="module")
def tx_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = write_folder(tmp_path_factory.mktemp("terminology"))
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="off",
                    pool_min=1, pool_max=8, log_level="warning", terminology_dir=folder, max_expansion=50)


@pytest.fixture(scope="module")
def tx(tx_settings: Settings) -> Iterator[httpx.Client]:
    from fhir_server.app import create_app

    with serving(create_app(tx_settings), tx_settings) as base, httpx.Client(
            base_url=base, timeout=30, headers={"Accept": "application/fhir+json"}) as http:
        yield http
