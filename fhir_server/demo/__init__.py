"""The demo data set: a small hospital with ten patients and four years of history, written by
our own deterministic generator (``generate.py``; no third-party records). ``fhir-server serve
--demo`` (``make serve``) and ``fhir-server demo load`` write each resource that is missing (an
update-as-create with its fixed id: https://hl7.org/fhir/R4/http.html#upsert), so loading twice
changes nothing and restarts keep edits; ``fhir-server demo bundle`` writes the same resources
as a transaction Bundle (https://hl7.org/fhir/R4/http.html#transaction) for ``fhir-server load``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from ..accounts.demo import load_accounts_demo
from ..admissions.demo import load_admissions_demo
from ..billing.demo import load_billing_demo
from ..claims.demo import load_claims_demo
from ..laboratory.demo import load_lab_demo
from ..pharmacy.demo import load_pharmacy_demo
from ..resources.service import ResourceService
from ..scheduling.demo import load_scheduling_demo
from .generate import demo_resources

__all__ = ["demo_resources", "demo_bundle", "load_demo"]

log = logging.getLogger(__name__)


def demo_bundle() -> dict[str, Any]:
    """The demo data as one transaction Bundle of PUTs (idempotent to post again)."""
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, r['resourceType'] + '/' + r['id'])}", "resource": r,
         "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
        for r in demo_resources()]}


async def _present(service: ResourceService, resources: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Which demo resources already have a version (a deleted one counts: a deletion is an edit)."""
    async with service.db.connection() as conn:
        cur = await conn.execute(
            "SELECT resource_type, id FROM resource WHERE version_id > 0 AND (resource_type, id) IN "
            "(SELECT * FROM unnest(%s::text[], %s::text[]))",
            ([r["resourceType"] for r in resources], [r["id"] for r in resources]))
        return {(row[0], row[1]) for row in await cur.fetchall()}


async def load_demo(service: ResourceService) -> int:
    """Write each demo resource that is missing; return how many were written."""
    resources = demo_resources()
    present = await _present(service, resources)
    written = 0
    for resource in resources:
        if (resource["resourceType"], resource["id"]) not in present:
            await service.update(resource["resourceType"], resource["id"], resource)
            written += 1
    written += await load_scheduling_demo(service)  # a department whose doctors can be booked at once
    written += await load_pharmacy_demo(service)  # a formulary with stock and a prescription to dispense
    written += await load_lab_demo(service)  # a lab order in progress and a final report
    written += await load_admissions_demo(service)  # two departments, a ward with six beds, one inpatient
    written += await load_claims_demo(service)  # a payer and the demo patient's Coverage
    written += await load_billing_demo(service)  # a price list and an unpaid issued Invoice
    written += await load_accounts_demo(service)  # the administrator admin.demo signs in as
    if written:
        log.info("demo data: wrote %d resources (Patient/demo-patient and friends)", written)
    return written
