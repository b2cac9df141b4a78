"""The admin API (/admin/, admins only, audited) and the blacklist: a deactivated user cannot sign in
(the page says the account is disabled), their refresh and access tokens stop working at once, and a
staff member's Practitioner.active becomes false (a new version written through the resource layer)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import psycopg
import pytest

from fhir_server.cli import main
from tests.integration.smart_auth.helpers import Flow

from .conftest import PASSWORD, REDIRECT, SCOPE, add_user, bearer, token_response


@pytest.fixture(scope="module")
def admin(database_url: str, browser_module: httpx.Client, root_url: str, server_url: str, client_id: str) -> str:
    add_user(database_url, "root.admin", "Practitioner/admin-1", "admin")
    add_user(database_url, "nurse.kim", "Practitioner/nurse-kim", "nurse")
    token = str(token_response(browser_module, root_url, server_url, client_id, "root.admin")["access_token"])
    practitioner = {"resourceType": "Practitioner", "id": "nurse-kim", "active": True,
                    "name": [{"family": "Kim", "given": ["Mina"]}]}
    put = browser_module.put(f"{server_url}/Practitioner/nurse-kim", json=practitioner, headers=bearer(token))
    assert put.status_code == 201, put.text
    return token


@pytest.fixture(scope="module")
def browser_module() -> Any:
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        yield http


def audit_rows(database_url: str, subtype: str, like: str = "%", want: int = 1) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + 5
    while True:  # the trail's buffer is flushed every 0.2 s
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT outcome, user_ref, content->'outcomeDesc' FROM audit_event"
                                " WHERE subtype = %s AND content::text LIKE %s ORDER BY seq",
                                (subtype, like)).fetchall()
        if len(rows) >= want or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_admin_api_refuses_non_admins(browser: httpx.Client, root_url: str, server_url: str, client_id: str,
                                      admin: str) -> None:
    assert browser.get(f"{root_url}/admin/users").status_code == 401
    nurse = token_response(browser, root_url, server_url, client_id, "nurse.kim")["access_token"]
    response = browser.get(f"{root_url}/admin/users", headers=bearer(nurse))
    assert response.status_code == 403
    assert response.json()["issue"][0]["diagnostics"] == "The admin API needs a token of a user with the role admin"
    posted = browser.post(f"{root_url}/admin/users/nurse.kim/deactivate", headers=bearer(nurse))
    assert posted.status_code == 403


def test_admin_adds_lists_and_changes_roles(database_url: str, browser: httpx.Client, root_url: str,
                                            admin: str) -> None:
    auth = bearer(admin)
    new = {"username": "dr.new", "password": PASSWORD, "fhir_user": "Practitioner/dr-new", "roles": ["doctor"]}
    made = browser.post(f"{root_url}/admin/users", json=new, headers=auth)
    assert made.status_code == 201, made.text
    assert made.json() == {"username": "dr.new", "fhir_user": "Practitioner/dr-new", "active": True,
                           "verified": True, "roles": ["doctor"]}
    assert browser.post(f"{root_url}/admin/users", json=new, headers=auth).status_code == 409
    bad_role = browser.post(f"{root_url}/admin/users", json={**new, "username": "x1", "roles": ["surgeon"]},
                            headers=auth)
    assert bad_role.status_code == 422
    assert "Unknown role(s) surgeon" in bad_role.json()["issue"][0]["diagnostics"]
    short = browser.post(f"{root_url}/admin/users", json={**new, "username": "x2", "password": "short"}, headers=auth)
    assert short.status_code == 422
    assert browser.post(f"{root_url}/admin/users", content=b"[1", headers=auth).status_code == 400
    changed = browser.post(f"{root_url}/admin/users/dr.new/roles", json={"add": ["staff"], "remove": ["doctor"]},
                           headers=auth)
    assert changed.status_code == 200
    assert changed.json()["roles"] == ["staff"]
    assert browser.post(f"{root_url}/admin/users/nobody/roles", json={"add": ["staff"]},
                        headers=auth).status_code == 404
    listed = {u["username"]: u["roles"] for u in browser.get(f"{root_url}/admin/users", headers=auth).json()}
    assert listed["dr.new"] == ["staff"] and listed["root.admin"] == ["admin"]
    rows = audit_rows(database_url, "admin-add", want=4)
    assert [r[0] for r in rows] == ["0", "4", "4", "4"]
    assert rows[0][1] == "Practitioner/admin-1" and rows[0][2] == "user 'dr.new'"


def test_deactivated_user_is_locked_out_everywhere(database_url: str, browser: httpx.Client, root_url: str,
                                                   server_url: str, client_id: str, admin: str) -> None:
    tokens = token_response(browser, root_url, server_url, client_id, "nurse.kim")
    auth = bearer(tokens["access_token"])
    assert browser.get(f"{server_url}/Patient", headers=auth).status_code == 200
    done = browser.post(f"{root_url}/admin/users/nurse.kim/deactivate", headers=bearer(admin))
    assert done.status_code == 200, done.text
    assert done.json() == {"username": "nurse.kim", "active": False, "practitioner_active": False}
    # The access token already issued fails on its next use (checked against its row on every request).
    assert browser.get(f"{server_url}/Patient", headers=auth).status_code == 401
    refreshed = browser.post(f"{root_url}/auth/token", data={"grant_type": "refresh_token", "client_id": client_id,
                                                             "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    flow = Flow(browser, root_url, server_url, client_id, REDIRECT, SCOPE)
    page = flow.login(flow.authorize(), "nurse.kim", PASSWORD)
    assert page.status_code == 403
    assert "This account is disabled." in page.text
    practitioner = browser.get(f"{server_url}/Practitioner/nurse-kim", headers=bearer(admin)).json()
    assert practitioner["active"] is False and practitioner["meta"]["versionId"] == "2"
    assert [r[0] for r in audit_rows(database_url, "admin-deactivate")] == ["0"]
    refused = audit_rows(database_url, "login", "%account is disabled%")
    assert [(r[0], r[1]) for r in refused] == [("4", "Practitioner/nurse-kim")]
    # Reactivated from the CLI: sign-in works again, Practitioner.active is true again, old tokens stay dead.
    assert main(["user", "activate", "nurse.kim", "--database-url", database_url]) == 0
    assert browser.get(f"{server_url}/Patient", headers=auth).status_code == 401
    fresh = token_response(browser, root_url, server_url, client_id, "nurse.kim")
    assert browser.get(f"{server_url}/Patient", headers=bearer(fresh["access_token"])).status_code == 200
    assert browser.get(f"{server_url}/Practitioner/nurse-kim", headers=bearer(admin)).json()["active"] is True


def test_cli_deactivate_unknown_user_is_a_usage_error(database_url: str, server_url: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "deactivate", "nobody", "--database-url", database_url]) == 2
    assert "No user 'nobody'" in capsys.readouterr().out


def test_admin_removes_a_user(database_url: str, browser: httpx.Client, root_url: str, admin: str) -> None:
    auth = bearer(admin)
    new = {"username": "temp.clerk", "password": PASSWORD, "fhir_user": "Practitioner/temp", "roles": ["billing"]}
    assert browser.post(f"{root_url}/admin/users", json=new, headers=auth).status_code == 201
    removed = browser.delete(f"{root_url}/admin/users/temp.clerk", headers=auth)
    assert removed.status_code == 200 and removed.json() == {"username": "temp.clerk", "removed": True}
    assert browser.delete(f"{root_url}/admin/users/temp.clerk", headers=auth).status_code == 404
    names = [u["username"] for u in browser.get(f"{root_url}/admin/users", headers=auth).json()]
    assert "temp.clerk" not in names
    assert [r[0] for r in audit_rows(database_url, "admin-remove", want=2)] == ["0", "4"]


def test_deactivation_between_sign_in_and_consent_issues_no_code(database_url: str, browser: httpx.Client,
                                                                  root_url: str, server_url: str, client_id: str,
                                                                  admin: str) -> None:
    """Signed in before the blacklist, consenting after it: the grant is refused (issue_code checks the
    account under a row lock), the app gets access_denied and no grant row is made."""
    from tests.integration.smart_auth.helpers import query

    add_user(database_url, "late.staff", "Practitioner/late", "staff")
    flow = Flow(browser, root_url, server_url, client_id, REDIRECT, SCOPE)
    signed_in = flow.login(flow.authorize(), "late.staff", PASSWORD)
    assert browser.post(f"{root_url}/admin/users/late.staff/deactivate", headers=bearer(admin)).status_code == 200
    answer = flow.consent(signed_in)
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(REDIRECT + "?")
    assert query(answer.headers["location"])["error"] == "access_denied"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM smart_grant WHERE username = 'late.staff'").fetchone() == (0,)
