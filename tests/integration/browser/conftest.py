"""Browser tests: Playwright for Python driving the machine's Chromium (Debian's ``chromium``).

The Chromium is found at ``FHIR_CHROMIUM`` or /usr/bin/chromium; without it (or without the
playwright package) every test here is skipped with a message saying so. One server (auth on)
and one browser per module keep the run short. Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.conftest import free_port, serving

CHROMIUM = Path(os.environ.get("FHIR_CHROMIUM") or "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests skipped: no Chromium at {CHROMIUM} (apt-get install chromium; FHIR_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests skipped: the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        # --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on",
                    max_body_bytes=2 * 1024 * 1024, pool_min=1, pool_max=8, log_level="warning",
                    hospital_name="St. Example Hospital", login_failure_delay=0.0)


@pytest.fixture(scope="module")
def server_url(server_settings: Settings) -> Iterator[str]:
    with serving(create_app(server_settings), server_settings) as base:
        yield base


@pytest.fixture(scope="module")
def root_url(server_url: str) -> str:
    return server_url.rsplit("/fhir", 1)[0]
