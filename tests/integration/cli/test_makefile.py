"""``make serve`` installs only what serving needs; ``make test`` adds the test tools (make -n:
the recipes as they would run on a fresh machine, nothing executed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _recipe(target: str, venv: Path) -> list[str]:
    # Run as from a shell even under `make test`: no inherited MAKEFLAGS/MAKELEVEL (a sub-make would
    # print "Entering directory" lines around the recipe).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    done = subprocess.run(["make", "--no-print-directory", "-n", target, f"VENV={venv}"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_serve_installs_the_runtime_only(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    lines = _recipe("serve", venv)
    assert [line for line in lines if "pip install" in line] == [
        f"{venv}/bin/pip install --quiet --upgrade pip", f"{venv}/bin/pip install --quiet -e ."]
    assert lines[-1] == f"{venv}/bin/fhir-server serve --demo --host 127.0.0.1 --port 8080"


def test_test_installs_the_test_tools_too(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    lines = _recipe("test", venv)
    assert [line for line in lines if "pip install" in line] == [
        f"{venv}/bin/pip install --quiet --upgrade pip", f"{venv}/bin/pip install --quiet -e .",
        f"{venv}/bin/pip install --quiet -e \".[test]\""]
    assert lines[-1] == f"{venv}/bin/pytest"
