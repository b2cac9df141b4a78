"""`make serve`'s demo data has staff accounts with roles: nurse.demo (nurse, Practitioner/demo-nurse)
and admin.demo (admin, Practitioner/demo-admin); dr.demo and amy keep no role (not capped)."""

from __future__ import annotations

import psycopg
import pytest

from fhir_server.cli import main


def test_the_demo_load_makes_the_staff_accounts_with_their_roles(database_url: str) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FHIR_AUDIT_KEY", "0123456789abcdef0123456789abcdef")
        assert main(["demo", "load", "--database-url", database_url]) == 0
        assert main(["demo", "load", "--database-url", database_url]) == 0  # again: nothing doubled
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT u.username, u.fhir_user, r.role FROM smart_user u"
                            " LEFT JOIN smart_user_role r ON r.username = u.username ORDER BY 1, 3").fetchall()
        admin = conn.execute("SELECT content->'name'->0->>'family' FROM resource"
                             " WHERE resource_type = 'Practitioner' AND id = 'demo-admin' AND NOT deleted").fetchone()
    assert rows == [("admin.demo", "Practitioner/demo-admin", "admin"), ("amy", "Patient/demo-patient", None),
                    ("dr.demo", "Practitioner/demo-practitioner", None),
                    ("nurse.demo", "Practitioner/demo-nurse", "nurse")]
    assert admin == ("Lindqvist",)
