"""The start-up banner of ``fhir-server serve``: where the API and the data are, never a password."""

from __future__ import annotations

from pathlib import Path

from fhir_server.banner import banner_lines
from fhir_server.config import Settings


def test_external_database_without_its_password_and_auth_off() -> None:
    settings = Settings(database_url="postgresql://fhir:s3cret-pw@db.example.org:5433/fhir?sslmode=require",
                        host="0.0.0.0", port=9000, base_url="https://fhir.example.org/fhir", auth="off")
    assert banner_lines(settings) == [
        "fhir_server is ready: https://fhir.example.org/",
        "  FHIR API      https://fhir.example.org/fhir",
        "  capabilities  https://fhir.example.org/fhir/metadata",
        "  hospital app  https://fhir.example.org/app/",
        "  data          PostgreSQL at postgresql://fhir:***@db.example.org:5433/fhir?sslmode=require",
        "  authorization OFF: every client can read and write everything (development only)"]


def test_embedded_database_with_demo(tmp_path: Path) -> None:
    lines = banner_lines(Settings(data_dir=tmp_path / "pg", demo=True))
    assert lines[4] == f"  data          embedded PostgreSQL in {tmp_path / 'pg'}"
    assert lines[-2:] == [
        "  demo users    dr.demo (Practitioner/demo-practitioner), amy (Patient/demo-patient); password demo-password",
        "  demo app      client_id demo-app (public, PKCE), redirect http://127.0.0.1:9090/callback"]
