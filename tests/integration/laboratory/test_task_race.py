"""Racing status moves of one Task are judged one after the other (the repository's row lock):
of concurrent PUTs to ``completed`` and to ``failed`` from ``in-progress``, only moves to one of
the two statuses succeed, the other side is refused 422 (completed -> failed is impossible)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from .helpers import fresh, put, stored, task

RACERS = 16


def test_concurrent_final_moves_end_in_one_status(server_url: str, client: httpx.Client) -> None:
    rid = fresh("race-")
    for status in ("requested", "accepted", "in-progress"):
        put(client, task(status, rid))
    targets = ["completed" if i % 2 else "failed" for i in range(RACERS)]
    with httpx.Client(base_url=server_url, timeout=60) as http, ThreadPoolExecutor(max_workers=RACERS) as pool:
        codes = list(pool.map(lambda s: (s, http.put(f"/Task/{rid}", json=task(s, rid)).status_code), targets))
    winners = {s for s, code in codes if code == 200}
    assert len(winners) == 1, codes
    final = winners.pop()
    assert sorted(code for _, code in codes) == [200] * (RACERS // 2) + [422] * (RACERS // 2)
    assert all(code == (200 if s == final else 422) for s, code in codes)
    assert stored(client, "Task", rid) == (final, str(3 + RACERS // 2))
