"""The module map's import rules (docs/architecture.md, "Who may import whom"), checked on the source.

Each rule names a package and the fhir_server packages it must not import. The floors of the
house run one way: ``fhir`` (primitives) below ``search`` below ``resources`` below ``exchange``;
only the composition roots (``app``, ``cli``) put the rooms together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "fhir_server"

# package -> packages (top-level names under fhir_server) it may not import
FORBIDDEN: dict[str, set[str]] = {
    "fhir": {"*"},  # only the allowed ground floor below
    "definitions": {"*"},
    "search": {"resources", "exchange", "audit", "rules", "app", "cli"},
    "audit": {"resources", "exchange", "search", "rules", "app", "cli"},
    "smart_auth": {"resources", "exchange", "rules", "app", "cli"},
    "rules": {"resources", "exchange", "app", "cli"},
    "resources": {"exchange", "app", "cli"},
    "exchange": {"app", "cli"},
    "conformance": {"exchange", "app", "cli"},
    "accounts": {"exchange", "app", "cli"},
    "terminology": {"resources", "exchange", "search", "smart_auth", "audit", "rules", "app", "cli"},
    # The hospital app reaches data only through the HTTP API, never the layers behind it.
    "webapp": {"resources", "exchange", "search", "audit", "rules", "scheduling", "terminology", "conformance",
               "app", "cli"},
}
GROUND = {"errors", "jsonio", "render", "definitions", "fhir", "ids"}


def _own_package(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imported_packages(path: Path) -> set[str]:
    """Top-level fhir_server packages that a module imports (absolute or relative)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names = [node.module or ""]
            else:
                parts = list(path.relative_to(PACKAGE).parts[:-1])
                up = node.level - 1
                if up > len(parts):
                    continue
                base = parts[: len(parts) - up]
                mod = (node.module or "").split(".") if node.module else []
                target = [*base, *mod]
                if not target:  # "from .. import x" at the package root: x is the package
                    target = [node.names[0].name]
                names = ["fhir_server." + ".".join(target)]
        else:
            continue
        for name in names:
            if name.startswith("fhir_server."):
                found.add(name.split(".")[1])
    return found


def _violations() -> list[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _own_package(path)
        rule = FORBIDDEN.get(own)
        if rule is None:
            continue
        for imported in _imported_packages(path) - {own}:
            if "*" in rule and imported not in GROUND or imported in rule:
                bad.append(f"{path.relative_to(PACKAGE.parent)} imports fhir_server.{imported}")
        if own not in ("app", "cli"):
            for imported in _imported_packages(path) & {"app", "cli"}:
                bad.append(f"{path.relative_to(PACKAGE.parent)} imports fhir_server.{imported}")
    return bad


def test_the_import_rules_hold() -> None:
    assert _violations() == []


@pytest.mark.parametrize("source, imported", [
    ("from ...resources import repository\n", "resources"),
    ("from ... import resources\n", "resources"),
    ("from ...resources.datetimes import x\n", "resources"),
    ("import fhir_server.resources.patch\n", "resources"),
    ("from fhir_server.exchange import bundle\n", "exchange"),
])
def test_the_checker_sees_every_import_form(source: str, imported: str) -> None:
    """A forbidden import written any of the usual ways is found (the rule cannot pass vacuously)."""
    module = PACKAGE / "search" / "types" / "_probe_for_test.py"
    module.write_text(source)
    try:
        assert _imported_packages(module) >= {imported}
        assert any("_probe_for_test" in v for v in _violations())
    finally:
        module.unlink()
