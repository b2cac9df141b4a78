"""``fhir-server load``: run the loader over worker processes with a progress line
(files, resources, resources/s, ETA by bytes) and a report of rejected entries."""

from __future__ import annotations

import gc
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from ..db import migrate
from ..definitions import definitions
from ..rules import load_rule_modules
from .load import FileReport, discover, init_worker, load_in_worker

__all__ = ["run_load"]


def _progress(done_bytes: int, total_bytes: int, files: int, total_files: int, loaded: int, started: float) -> str:
    elapsed = max(time.monotonic() - started, 1e-6)
    rate = loaded / elapsed
    eta = elapsed * (total_bytes - done_bytes) / done_bytes if done_bytes else 0.0
    return (f"\r{files}/{total_files} files  {loaded:,} resources  {rate:,.0f} resources/s  "
            f"ETA {eta:,.0f} s   ")


def _summary(reports: list[FileReport], started: float) -> tuple[str, int]:
    loaded = sum(r.loaded for r in reports)
    skipped = sum(1 for r in reports if r.skipped)
    rejected = [(r.path, reason) for r in reports for reason in r.rejected]
    elapsed = time.monotonic() - started
    lines = [f"loaded {loaded:,} resources from {len(reports) - skipped} files in {elapsed:,.1f} s "
             f"({loaded / max(elapsed, 1e-6):,.0f} resources/s); {skipped} files already loaded, skipped"]
    if rejected:
        lines.append(f"{len(rejected)} rejected:")
        lines += [f"  {path}: {reason}" for path, reason in rejected]
    return "\n".join(lines), 1 if rejected else 0


def _share_definitions() -> None:
    """Load the R4 definitions before the workers fork, and freeze them out of the collector:
    the workers share the pages instead of each loading its own copy, and no worker's full
    collection walks them (they live as long as the process)."""
    definitions()
    gc.collect()
    gc.freeze()


def _in_loading_order(files: list[Path], workers: int) -> list[Path]:
    """One worker: the order given. Several: largest first, so that no worker is left with a
    big file while the others have finished (the files load independently of each other
    anyway: workers take them in parallel)."""
    return files if workers <= 1 else sorted(files, key=lambda f: f.stat().st_size, reverse=True)


def run_load(url: str, base: str, paths: list[Path], workers: int, force: bool, audit_key: bytes,
             rule_modules: tuple[str, ...] = ()) -> int:
    migrate(url)
    load_rule_modules(rule_modules)  # a module that cannot load stops here, before any worker starts
    files = _in_loading_order(discover(paths), workers)
    total_bytes = sum(f.stat().st_size for f in files) or 1
    started = time.monotonic()
    _share_definitions()
    reports: list[FileReport] = []
    done_bytes = 0
    with ProcessPoolExecutor(max_workers=workers, initializer=init_worker,
                             initargs=(url, base, audit_key, rule_modules)) as pool:
        futures = [pool.submit(load_in_worker, str(f), force) for f in files]
        for future in as_completed(futures):
            report = future.result()
            reports.append(report)
            done_bytes += report.size
            sys.stderr.write(_progress(done_bytes, total_bytes, len(reports), len(files),
                                       sum(r.loaded for r in reports), started))
            sys.stderr.flush()
    sys.stderr.write("\n")
    text, status = _summary(reports, started)
    print(text)
    return status
