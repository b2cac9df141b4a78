"""What every browser test checks on a page: axe-core (no serious or critical violation), no
Content-Security-Policy violation, no horizontal scrolling at phone width; and a screenshot."""

from __future__ import annotations

from functools import cache
from typing import Any

from .conftest import ARTIFACTS, AXE

BLOCKING = {"serious", "critical"}


@cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def axe_violations(page: Any) -> list[str]:
    """Serious and critical axe-core violations (WCAG 2.1 A/AA rules) as "rule: target" lines."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source() + "\n;undefined")  # evaluate is not subject to the page's CSP
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})")
    return [f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in result["violations"]
            if v.get("impact") in BLOCKING]


def check_page(page: Any, name: str, csp_errors: list[str]) -> None:
    """axe, CSP and layout checks on the current page, then a full-page screenshot ``name``.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert axe_violations(page) == []
    assert csp_errors == []
    width = page.viewport_size["width"]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width, "the page scrolls sideways"


def watch_csp(page: Any) -> list[str]:
    """Collects console errors about Content-Security-Policy (an inline script or style slipped in)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    return errors
