"""``fhir-server load`` file order: as given for one worker, largest first for several."""

from __future__ import annotations

from pathlib import Path

from fhir_server.exchange.load_command import _in_loading_order


def test_one_worker_keeps_the_order_and_several_take_the_largest_first(tmp_path: Path) -> None:
    files = []
    for name, size in (("a.json", 10), ("b.json", 300), ("c.ndjson", 20), ("d.json.gz", 200)):
        path = tmp_path / name
        path.write_bytes(b"x" * size)
        files.append(path)
    assert _in_loading_order(files, 1) == files
    assert [f.name for f in _in_loading_order(files, 2)] == ["b.json", "d.json.gz", "c.ndjson", "a.json"]
