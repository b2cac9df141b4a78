"""Every command in README.md's ```sh blocks works verbatim, on a fresh database.

The blocks are read from the README each run, so new sections are checked without editing
this file. Each logical line (continuations joined) is one command, run by bash with
``errexit`` and ``pipefail`` as a user would paste it, in a scratch directory whose ``.venv``
is this virtualenv, with ``FHIR_DATABASE_URL`` naming the test database:

- ``fhir-server`` commands run as written (``serve`` excepted: it does not return; the
  start-up test runs it);
- ``curl`` commands run against a real server on that database (authorization off, as the
  README's ``FHIR_AUTH=off make serve``), its address put in for ``127.0.0.1:8080``, with
  ``-f`` so an HTTP error fails;
- ``make`` targets must exist (``make -n``);
- ``printf``/``echo``/``cat`` lines (writing an input file) run as written;
- lines that need a person or a database of your own (a copied OAuth code, a token, your
  PostgreSQL host) are illustrations, named in ILLUSTRATIONS, and not run.

The database starts as ``make serve`` leaves it: with the demo data and demo users.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from fhir_server.cli import main
from fhir_server.config import Settings
from tests.conftest import serving

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
VENV = Path(sys.executable).parent.parent
# Markers of lines that need something a test cannot have: a code copied from a browser, a
# token from that flow, a PostgreSQL server of your own, a tool outside the project.
ILLUSTRATIONS = ("PASTE_CODE", "$TOKEN", "@dbhost", "createdb ")
DEFAULT_ROOT = "http://127.0.0.1:8080"
SHELL = ("printf", "echo", "cat")  # writing an input file in the scratch directory
AUDIT_KEY = "readme-test-audit-key-0123456789abcdef"  # 32+ characters, as FHIR_AUDIT_KEY wants


def _words(line: str) -> list[str]:
    """Shell words, with |, ;, && and || as words of their own; a comment ends the line."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


@dataclass(frozen=True)
class Command:
    line: str
    where: int  # README line number

    @property
    def programs(self) -> list[str]:
        """The program of each stage of the pipeline (after VAR=value assignments)."""
        words = _words(self.line)
        out, expecting = [], True
        for word in words:
            if word in ("|", ";", "&&", "||"):
                expecting = True
            elif expecting and not re.match(r"^[A-Z_][A-Z0-9_]*=", word):
                out.append(Path(word).name)
                expecting = False
        return out

    @property
    def kind(self) -> str:
        if any(marker in self.line for marker in ILLUSTRATIONS):
            return "illustration"
        programs = self.programs
        if "fhir-server" in programs:
            words = _words(self.line)
            after = words[[Path(w).name for w in words].index("fhir-server") + 1:]
            return "serve" if after[:1] == ["serve"] else "fhir-server"
        if programs and programs[0] in SHELL:
            return "shell"
        return programs[0] if programs and programs[0] in ("curl", "make") else "unknown"


def readme_commands(text: str) -> list[Command]:
    """Each logical line of each ```sh block (backslash continuations joined), comments dropped."""
    commands: list[Command] = []
    for block in re.finditer(r"^```sh\n(.*?)^```", text, flags=re.S | re.M):
        first = text[:block.start()].count("\n") + 2
        pending, start = "", 0
        for offset, raw in enumerate(block.group(1).splitlines()):
            if not pending:
                start = first + offset
            if raw.endswith("\\"):
                pending += raw[:-1] + " "
                continue
            line = (pending + raw).strip()
            pending = ""
            if line and not line.startswith("#"):
                commands.append(Command(line, start))
    return commands


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo_database(database_url: str) -> Iterator[str]:
    """The database as `make serve` leaves it: demo data, demo users and app. The audit key is
    one for the server, the demo load and the README's commands alike (as `data/audit.key` is
    for a clone), so `audit verify` checks what they wrote."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FHIR_AUDIT_KEY", AUDIT_KEY)
        assert main(["demo", "load", "--database-url", database_url]) == 0
        yield database_url


@pytest.fixture(scope="module")
def server_root(demo_database: str, server_settings: Settings) -> Iterator[str]:
    from fhir_server.app import create_app

    settings = replace(server_settings, audit_key=AUDIT_KEY)
    with serving(create_app(settings), settings) as base:
        yield base.removesuffix("/fhir")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory like a clone's root: `.venv/bin/fhir-server` resolves to this virtualenv."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / ".venv").symlink_to(VENV)
    (folder / "tests").symlink_to(REPO / "tests")  # as in a clone: the README's example rule module
    return folder


def _bash(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-o", "errexit", "-o", "pipefail", "-c", line], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_readme_has_commands_of_every_kind() -> None:
    kinds = {c.kind for c in COMMANDS}
    assert {"fhir-server", "curl", "make", "serve", "illustration"} <= kinds
    assert [c for c in COMMANDS if c.kind == "unknown"] == [], "classify these README commands"


def test_every_readme_command_works_verbatim(demo_database: str, server_root: str, scratch: Path) -> None:
    env = {**os.environ, "FHIR_DATABASE_URL": demo_database, "FHIR_DATA_DIR": str(scratch / "pg"),
           "FHIR_AUDIT_KEY": AUDIT_KEY}
    failures = []
    for command in COMMANDS:
        if command.kind in ("fhir-server", "shell"):
            done = _bash(command.line, scratch, env)
        elif command.kind == "curl":
            # a curl whose output feeds the next step (a pipe or a file) keeps it; others discard it
            quiet = "-sSf " if re.search(r"[|>]", command.line) else "-sSf -o /dev/null "
            line = command.line.replace(DEFAULT_ROOT, server_root).replace("curl ", "curl " + quiet, 1)
            done = _bash(line, scratch, env)
        elif command.kind == "make":
            targets = [w for w in _words(command.line) if w != "make" and not w.startswith("-") and "=" not in w]
            done = subprocess.run(["make", "-n", *targets[-1:]], cwd=REPO, capture_output=True, text=True,
                                  timeout=60)
        else:
            continue
        if done.returncode != 0:
            failures.append(f"README.md:{command.where}: exit {done.returncode}: {command.line}\n"
                            f"{done.stdout[-600:]}{done.stderr[-600:]}")
    assert failures == []


def test_the_parser_joins_continuations_and_skips_comments() -> None:
    text = ("x\n```sh\n# a comment\n.venv/bin/fhir-server user list  # trailing\n"
            "curl -X POST http://127.0.0.1:8080/fhir \\\n     -d '{}'\n"
            "printf '%s\\n' 'pw' | .venv/bin/fhir-server user add --password-stdin\n```\n"
            "```text\nnot a command\n```\n")
    commands = readme_commands(text)
    assert [(c.line, c.where, c.kind) for c in commands] == [
        (".venv/bin/fhir-server user list  # trailing", 4, "fhir-server"),
        ("curl -X POST http://127.0.0.1:8080/fhir       -d '{}'", 5, "curl"),
        ("printf '%s\\n' 'pw' | .venv/bin/fhir-server user add --password-stdin", 7, "fhir-server")]
