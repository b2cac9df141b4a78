"""AuditEvent resources shaped after IHE Basic Audit Log Patterns (BALP,
https://profiles.ihe.net/ITI/BALP/) on FHIR R4 AuditEvent (http://hl7.org/fhir/R4/auditevent.html).

Pure: an ``AuditRecord`` holds the indexed columns, the AuditEvent JSON and the writer MAC
(``keyring.row_mac``); nothing here touches the database.

Record ids are random UUIDs (122 random bits, ``secrets``-grade): unrelated to request ids and
unguessable, and clients never choose AuditEvent ids (``resources/audit_routes.py``), so no
client can take the id of a record the server is about to write.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..fhir.datetimes import format_instant, now_instant
from .keyring import row_mac

__all__ = ["AuditRecord", "build_audit_record", "ACTIONS", "new_record_id", "sealed"]

# restful-interaction code -> AuditEvent.action (C create, R read, U update, D delete, E execute)
ACTIONS = {"read": "R", "vread": "R", "search-type": "E", "search-system": "E", "search": "E",
           "history-instance": "R", "history-type": "R", "history-system": "R", "create": "C",
           "update": "U", "patch": "U", "delete": "D", "transaction": "E", "batch": "E",
           "operation": "E", "capabilities": "R", "token": "E", "authorize": "E", "login": "E"}
EVENT_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest",
              "display": "Restful Operation"}
SOURCE_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4",
               "display": "Application Server"}
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
BALP_ENTITY = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"


def new_record_id() -> str:
    """A random (version 4) UUID in its text form, built without a UUID object."""
    value = int.from_bytes(os.urandom(16), "big") & ~(0xF << 76) & ~(0x3 << 62) | 0x4 << 76 | 0x2 << 62
    digits = f"{value:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


@dataclass(frozen=True)
class AuditRecord:
    id: str
    recorded: datetime
    action: str
    subtype: str
    outcome: str
    client_id: str | None
    user_ref: str | None
    patient_refs: tuple[str, ...]
    entity_refs: tuple[str, ...]
    request_id: str | None
    content: dict[str, Any] = field(repr=False)
    mac: bytes | None = field(default=None, repr=False)

    def columns(self) -> tuple[Any, ...]:
        return (self.id, self.recorded, self.action, self.subtype, self.outcome, self.client_id, self.user_ref,
                self.patient_refs, self.entity_refs, self.request_id, self.content)


def sealed(record: AuditRecord, key: bytes | None) -> AuditRecord:
    """``record`` with its writer MAC (none without a key: such a row fails ``audit verify``)."""
    return record if key is None else replace(record, mac=row_mac(key, record.columns()))


# Constant parts, shared by every record (serialized at once, never mutated).
_CLIENT_TYPE = {"coding": [{"system": DCM, "code": "110150", "display": "Application"}]}
_USER_TYPE = {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]}
_PERSON = {"system": ENTITY_TYPE, "code": "1", "display": "Person"}
_PATIENT_ROLE = {"system": OBJECT_ROLE, "code": "1", "display": "Patient"}
_SYSTEM_OBJECT = {"system": ENTITY_TYPE, "code": "2", "display": "System Object"}
_QUERY_ROLE = {"system": OBJECT_ROLE, "code": "24", "display": "Query"}
_REQUEST_ID = {"system": BALP_ENTITY, "code": "XrequestId", "display": "X-Request-Id"}


def _agents(client_id: str | None, user_ref: str | None, client_address: str | None) -> list[dict[str, Any]]:
    client: dict[str, Any] = {
        "type": _CLIENT_TYPE,
        "who": {"identifier": {"system": "urn:fhir-server:client", "value": client_id or "anonymous"}},
        "requestor": user_ref is None,
    }
    if client_address:
        client["network"] = {"address": client_address, "type": "2"}
    if not user_ref:
        return [client]
    return [client, {"type": _USER_TYPE, "who": {"reference": user_ref}, "requestor": True}]


def _entities(patients: tuple[str, ...], entities: tuple[str, ...], query: str | None,
              request_id: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"what": {"reference": ref}, "type": _PERSON, "role": _PATIENT_ROLE} for ref in patients]
    out += [{"what": {"reference": ref}, "type": _SYSTEM_OBJECT} for ref in entities if ref not in patients]
    if query is not None:
        out.append({"type": _SYSTEM_OBJECT, "role": _QUERY_ROLE, "query": base64.b64encode(query.encode()).decode()})
    if request_id:
        out.append({"what": {"identifier": {"value": request_id}}, "type": _REQUEST_ID})
    return out


def build_audit_record(*, subtype: str, outcome: str, outcome_desc: str | None, client_id: str | None,
                       user_ref: str | None, patient_refs: tuple[str, ...] = (), entity_refs: tuple[str, ...] = (),
                       query: str | None = None, request_id: str | None = None, server_url: str,
                       client_address: str | None = None, key: bytes | None = None) -> AuditRecord:
    record_id, recorded = new_record_id(), now_instant()
    action = ACTIONS.get(subtype, "E")
    content: dict[str, Any] = {
        "resourceType": "AuditEvent", "id": record_id, "type": EVENT_TYPE,
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": subtype}],
        "action": action, "recorded": format_instant(recorded), "outcome": outcome,
        "agent": _agents(client_id, user_ref, client_address),
        "source": {"observer": {"display": server_url}, "type": [SOURCE_TYPE]},
    }
    if outcome_desc:
        content["outcomeDesc"] = outcome_desc
    entities = _entities(patient_refs, entity_refs, query, request_id)
    if entities:
        content["entity"] = entities
    columns = (record_id, recorded, action, subtype, outcome, client_id, user_ref, patient_refs, entity_refs,
               request_id, content)
    # The server's own content holds strings and booleans only: no number walk for its MAC.
    mac = None if key is None else row_mac(key, columns, numbers=False)
    return AuditRecord(*columns, mac=mac)
