"""FHIR_PRESCRIBER_CHECK=users (the default): an external EHR's records, posted by a writer that is
not a user token (here a server with authorization off, as when Synthea bundles are loaded), load
although their prescribers have no PractitionerRole; the dispense rules still hold for every writer.
A user token is held to the rule (applies_to here; with real tokens in test_smart.py)."""

from __future__ import annotations

import httpx
import pytest

from fhir_server.config import Settings, load_settings
from fhir_server.pharmacy.prescriber import applies_to
from fhir_server.smart_auth.context import DEV_CONTEXT, AccessContext
from fhir_server.smart_auth.policy import Policy
from fhir_server.smart_auth.scopes import ScopeSet
from tests.conftest import free_port
from tests.synthea import read_bundle, synthea_files

from .helpers import dispense, order, patient, practitioner


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="off", pool_min=1,
                    pool_max=8, log_level="warning")


def test_default_mode_exempts_imports_only() -> None:
    def kind(name: str) -> Policy:
        return Policy(AccessContext("c", None, None, None, ScopeSet.everything(), name))
    assert Settings().prescriber_check == "users"
    assert [applies_to("users", p) for p in (kind("user"), kind("patient"), kind("system"), Policy(DEV_CONTEXT),
                                             None)] == [True, True, False, False, False]
    assert applies_to("all", None) and not applies_to("off", kind("user"))


def test_bad_mode_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_PRESCRIBER_CHECK", "sometimes")
    with pytest.raises(ValueError, match="FHIR_PRESCRIBER_CHECK: 'sometimes' is not one of users, all, off"):
        load_settings()


def test_synthea_active_orders_load(client: httpx.Client) -> None:
    bundle = read_bundle(synthea_files(2)[1])  # the second patient has 7 active orders, no PractitionerRole
    active = [i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "MedicationRequest"
              and e["resource"]["status"] == "active"]
    assert len(active) == 7
    response = client.post("", json=bundle)
    assert response.status_code == 200, response.text[:500]
    assert [response.json()["entry"][i]["response"]["status"][:3] for i in active] == ["201"] * 7


def test_an_order_without_prescriber_role_loads_but_dispensing_is_still_limited(client: httpx.Client) -> None:
    pat, nurse = patient(client), f"Practitioner/{practitioner(client, role='nurse')}"
    response = client.post("/MedicationRequest", json=order(pat, nurse, quantity=10, repeats=0))
    assert response.status_code == 201, response.text
    rid = response.json()["id"]
    assert client.post("/MedicationDispense", json=dispense(rid, pat, 10)).status_code == 201
    assert client.post("/MedicationDispense", json=dispense(rid, pat, 1)).status_code == 422
