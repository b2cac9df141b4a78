"""``fhir-server user|launch|client add`` as an administrator meets them: passwords never need
to be an argument, references must name resources that exist, one convention of exit
statuses (0 done, 1 a problem found, 2 usage or input error), registration documents."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import subprocess
import sys
import termios
import time
from pathlib import Path

import psycopg
import pytest

from fhir_server.cli import main

SCRIPT = str(Path(sys.executable).parent / "fhir-server")
KNOWN = [{"resourceType": "Patient", "id": "p-known", "name": [{"family": "Known"}]},
         {"resourceType": "Practitioner", "id": "dr-known", "name": [{"family": "Known"}]},
         {"resourceType": "Encounter", "id": "e-known", "status": "finished",
          "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
          "subject": {"reference": "Patient/p-known"}},
         {"resourceType": "Patient", "id": "p-gone", "name": [{"family": "Gone"}]}]


@pytest.fixture(scope="module")
def db(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database holding the KNOWN resources (loaded with ``fhir-server load``), p-gone deleted."""
    folder = tmp_path_factory.mktemp("known")
    writes = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in KNOWN]
    for name, entries in (("1-known.json", writes), ("2-gone.json", [{"request": {"method": "DELETE",
                                                                                  "url": "Patient/p-gone"}}])):
        (folder / name).write_text(json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}))
        assert main(["load", str(folder / name), "--database-url", database_url, "--workers", "1"]) == 0
    return database_url


def _users(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT username, fhir_user FROM smart_user ORDER BY 1")]


def _launches(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM smart_launch").fetchone()
        return int(row[0]) if row else 0


def _run(url: str, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPT, *argv, "--database-url", url], input=stdin, capture_output=True, text=True,
                          timeout=60)


def test_user_add_checks_that_the_fhir_user_exists(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    for missing in ("Practitioner/123", "Patient/p-gone", "Patient/dr-known"):
        assert main(["user", "add", "--username", "ghost", "--password", "long-enough", "--fhir-user", missing,
                     "--database-url", db]) == 2
        assert capsys.readouterr().err == (f"error: --fhir-user {missing} does not exist on this server: "
                                           "load or create it first (or pass --allow-missing)\n")
    assert _users(db) == []
    assert main(["user", "add", "--username", "known", "--password", "long-enough", "--fhir-user",
                 "Practitioner/dr-known", "--database-url", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"username": "known", "fhir_user": "Practitioner/dr-known"}
    assert main(["user", "add", "--username", "later", "--password", "long-enough", "--fhir-user",
                 "Practitioner/not-yet", "--allow-missing", "--database-url", db]) == 0
    assert _users(db) == [("known", "Practitioner/dr-known"), ("later", "Practitioner/not-yet")]


def test_a_duplicate_user_is_an_input_error(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["user", "add", "--username", "twice", "--password", "long-enough", "--fhir-user", "Patient/p-known",
            "--database-url", db]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 2
    assert capsys.readouterr().err == "error: already exists (Key (username)=(twice) already exists.)\n"


def test_launch_add_checks_patient_encounter_and_user(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = _launches(db)
    for extra, message in ((["--patient", "does-not-exist"], "--patient Patient/does-not-exist"),
                           (["--patient", "p-gone"], "--patient Patient/p-gone"),
                           (["--patient", "p-known", "--encounter", "e-none"], "--encounter Encounter/e-none"),
                           (["--patient", "p-known", "--fhir-user", "Practitioner/nobody"],
                            "--fhir-user Practitioner/nobody")):
        assert main(["launch", "add", *extra, "--database-url", db]) == 2
        assert capsys.readouterr().err == (f"error: {message} does not exist on this server: "
                                           "load or create it first (or pass --allow-missing)\n")
    assert _launches(db) == before
    assert main(["launch", "add", "--patient", "p-known", "--encounter", "e-known", "--fhir-user",
                 "Practitioner/dr-known", "--json", "--database-url", db]) == 0
    assert len(json.loads(capsys.readouterr().out)["launch"]) >= 32
    assert _launches(db) == before + 1


def test_password_from_stdin(db: str) -> None:
    done = _run(db, "user", "add", "--username", "piped", "--password-stdin", "--fhir-user", "Patient/p-known",
                stdin="correct horse battery\n")
    assert (done.returncode, done.stderr) == (0, "")
    assert ("piped", "Patient/p-known") in _users(db)
    short = _run(db, "user", "add", "--username", "short", "--password-stdin", "--fhir-user", "Patient/p-known",
                 stdin="seven77\n")
    assert (short.returncode, short.stderr) == (2, "error: the password must have at least 8 characters\n")
    none = _run(db, "user", "add", "--username", "nopw", "--fhir-user", "Patient/p-known", stdin="")
    assert (none.returncode, none.stderr) == (
        2, "error: no password: give --password-stdin (or run on a terminal to be asked)\n")
    assert [u for u, _ in _users(db) if u in ("short", "nopw")] == []


def _on_terminal(argv: list[str], typed: list[tuple[str, str]]) -> tuple[int, str]:
    """Run the console script with a pseudo-terminal as its controlling terminal; answer each prompt."""
    master, slave = pty.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([SCRIPT, *argv], stdin=slave, stdout=slave, stderr=slave, preexec_fn=own_terminal)
    os.close(slave)
    seen, answered = b"", 0
    try:
        for prompt, line in typed:
            deadline = time.monotonic() + 30
            while prompt.encode() not in seen[answered:]:
                assert time.monotonic() < deadline, seen
                seen += os.read(master, 1024)
            # getpass turns echo off (and flushes input) before it prints the prompt: safe to type now
            answered = seen.index(prompt.encode(), answered) + len(prompt)
            os.write(master, line.encode() + b"\n")
        code = proc.wait(timeout=60)
        while True:
            try:
                chunk = os.read(master, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    return code, seen.decode().replace("\r\n", "\n")


def test_password_prompt_on_a_terminal(db: str) -> None:
    argv = ["user", "add", "--username", "asked", "--fhir-user", "Patient/p-known", "--database-url", db]
    code, screen = _on_terminal(argv, [("password: ", "typed-secret-1"), ("password again: ", "typed-secret-1")])
    assert code == 0, screen
    assert "typed-secret-1" not in screen  # not echoed
    assert screen.startswith("password: \npassword again: \n")
    assert ("asked", "Patient/p-known") in _users(db)
    code, screen = _on_terminal([*argv[:2], "--username", "typo", *argv[4:]],
                                [("password: ", "typed-secret-1"), ("password again: ", "typed-secret-2")])
    assert code == 2 and screen.endswith("error: the passwords differ\n"), screen
    assert "typo" not in [u for u, _ in _users(db)]


def test_help_states_the_exit_statuses() -> None:
    done = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert ("exit status, for every command:\n  0  done\n  1  the command ran and found a problem: audit verify "
            "found the chain broken, load rejected entries\n  2  usage or input error, nothing changed:") in done.stdout
    bad = subprocess.run([SCRIPT, "user", "add", "--username", "x"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "the following arguments are required: --fhir-user" in bad.stderr


def _registration(tmp_path: Path, document: object) -> str:
    path = tmp_path / "registration.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_client_add_from_a_registration_document(db: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    document = {"client_name": "Registered app", "redirect_uris": ["https://app.example.org/cb"],
                "scope": "launch openid fhirUser patient/*.rs", "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["authorization_code", "refresh_token"]}
    assert main(["client", "add", "--from-file", _registration(tmp_path, document), "--client-id", "registered",
                 "--json", "--database-url", db]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"client_id", "client_secret"} and out["client_id"] == "registered"
    assert main(["client", "list", "--json", "--database-url", db]) == 0
    listed = [c for c in json.loads(capsys.readouterr().out) if c["client_id"] == "registered"]
    assert listed == [{"client_id": "registered", "name": "Registered app", "auth_method": "client_secret",
                       "scope": "launch openid fhirUser patient/*.rs",
                       "redirect_uris": ["https://app.example.org/cb"], "jwks_url": None}]


@pytest.mark.parametrize("document, message", [
    ({"client_name": "A", "scope": "user/*.rs", "token_endpoint_auth_method": "none"},
     "(the document): 'redirect_uris' is a required property"),
    ({"client_name": "A", "scope": "user/*.rs", "token_endpoint_auth_method": "client_secret_jwt",
      "redirect_uris": ["https://a.example.org/cb"]},
     "token_endpoint_auth_method: 'client_secret_jwt' is not one of ['client_secret_basic', 'client_secret_post', "
     "'none', 'private_key_jwt']"),
    ({"client_name": "A", "scope": "user/*.rs", "token_endpoint_auth_method": "none",
      "redirect_uris": ["https://a.example.org/cb"], "redirect_uri": "https://a.example.org/cb"},
     "(the document): unknown field: Additional properties are not allowed ('redirect_uri' was unexpected)"),
    ({"client_name": "A", "scope": "system/*.rs", "token_endpoint_auth_method": "private_key_jwt"},
     "(the document): private_key_jwt needs jwks or jwks_uri"),
    ({"client_name": "A", "scope": "user/*.rs", "token_endpoint_auth_method": "none",
      "redirect_uris": ["https://a.example.org/cb"], "jwks_uri": "https://a.example.org/jwks"},
     "(the document): jwks and jwks_uri are for private_key_jwt clients only"),
    ({"client_name": "", "scope": "user/*.rs", "token_endpoint_auth_method": "none",
      "redirect_uris": ["https://a.example.org/cb"]}, "client_name: '' should be non-empty"),
    ({"client_name": "A", "scope": "user/*.rs", "token_endpoint_auth_method": "none",
      "redirect_uris": ["https://a.example.org/cb", 7]}, "redirect_uris[1]: 7 is not of type 'string'"),
    ({"client_name": "A", "scope": "user/*.rs", "token_endpoint_auth_method": "none",
      "redirect_uris": ["http://a.example.org/cb"]},
     None),  # shape fine, meaning wrong: plain http off loopback
])
def test_client_add_from_file_names_the_failing_field(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      document: dict[str, object], message: str | None) -> None:
    path = _registration(tmp_path, document)
    assert main(["client", "add", "--from-file", path, "--database-url", db]) == 2
    expected = (f"error: {path}: {message}\n" if message else "error: redirect URI must be an absolute https URL "
                "(http only on loopback), without fragment: http://a.example.org/cb\n")
    assert capsys.readouterr().err == expected
    assert main(["client", "list", "--json", "--database-url", db]) == 0
    assert [c["name"] for c in json.loads(capsys.readouterr().out)] in ([], ["Registered app"])


def test_load_and_reindex_refuse_bad_input_with_status_2(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", "/no/such/file.json", "--database-url", db]) == 2
    assert capsys.readouterr().err == "error: no such file or directory: /no/such/file.json\n"
    assert main(["reindex", "Patient", "Patiant", "--database-url", db]) == 2
    assert capsys.readouterr().err == "error: not FHIR R4 resource types: Patiant\n"
