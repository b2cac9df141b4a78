"""HTTP routes of the billing operations: parse, call one operation, render.

POST /ChargeItemDefinition/[id]/$apply, POST /Account/[id]/$invoice, POST /Encounter/[id]/$charge,
POST /Invoice/[id]/$pay (desk, online),
POST /Invoice/[id]/$cancel-payment, POST /PaymentReconciliation/[id]/$refund, POST /billing/stripe/webhook, and their
OperationDefinitions (GET /OperationDefinition/Account-invoice, ChargeItemDefinition-apply: the
R4 definition, with this server's reading of it in the description). http://hl7.org/fhir/R4/operations.html
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..errors import BadRequest, Forbidden
from ..fhir.body import read_json_body
from ..jsonio import dumps
from ..render import fhir_response
from ..resources import repository
from ..resources.operations.registry import Operation, register
from ..scheduling.writes import content, unit_of_work
from ..smart_auth.policy import policy_of
from . import apply, charge, invoice
from .access import is_billing_staff
from .payments import cancel, desk, idempotency, online, refund, webhook
from .payments.record import record_payment

__all__ = ["router", "webhook_router"]

router = APIRouter()
webhook_router = APIRouter()  # outside /fhir: the provider authenticates by its signature
DEFINITIONS = Path(__file__).parent / "operation_definitions"
register(Operation(apply.CAPABILITY_ENTRY["name"], apply.CAPABILITY_ENTRY["definition"],
                   types=("ChargeItemDefinition",), instance_level=True))
register(Operation(invoice.CAPABILITY_ENTRY["name"], invoice.CAPABILITY_ENTRY["definition"],
                   types=("Account",), instance_level=True))
for _entry, _type in ((charge.CAPABILITY_ENTRY, "Encounter"), (desk.CAPABILITY_ENTRY, "Invoice"),
                      (cancel.CAPABILITY_ENTRY, "Invoice"), (refund.CAPABILITY_ENTRY, "PaymentReconciliation")):
    register(Operation(_entry["name"], _entry["definition"], types=(_type,), instance_level=True))


@cache
def _definitions() -> dict[str, bytes]:
    return {path.stem: path.read_bytes() for path in sorted(DEFINITIONS.glob("*.json"))}


@router.post("/ChargeItemDefinition/{resource_id}/$apply")
async def apply_route(request: Request, resource_id: str) -> Response:
    policy = policy_of(request)
    body = await read_json_body(request)
    async with request.app.state.db.connection() as conn:
        await policy.check_visible(conn, "ChargeItemDefinition", resource_id, "r")
        definition = content(await repository.read(conn, "ChargeItemDefinition", resource_id))
        charge = await apply.charge_item_in(conn, body, policy)
    return fhir_response(request, apply.apply(definition, charge))


def _invoice_params(body: Any) -> tuple[list[str], bool]:
    if body is None:
        return [], False
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("$invoice takes an optional Parameters body (claimResponse, issue)")
    responses, issue = [], False
    for param in body.get("parameter") or []:
        name = param.get("name") if isinstance(param, dict) else None
        if name == "claimResponse":
            responses.append(str((param.get("valueReference") or {}).get("reference") or ""))
        elif name == "issue" and isinstance(param.get("valueBoolean"), bool):
            issue = param["valueBoolean"]
        else:
            raise BadRequest(f"$invoice has no parameter {name!r} (claimResponse valueReference, issue valueBoolean)")
    return responses, issue


@router.post("/Account/{resource_id}/$invoice")
async def invoice_route(request: Request, resource_id: str) -> Response:
    policy = policy_of(request)
    if not is_billing_staff(policy):
        raise Forbidden("Only billing staff create Invoices")
    raw = await request.body()
    responses, issue = _invoice_params(await read_json_body(request) if raw.strip() else None)
    async with unit_of_work(request.app.state.resources, policy) as writes:
        created = await invoice.invoice_account(writes, resource_id, responses, issue)
    base = request.app.state.settings.public_base
    headers = {"Location": f"{base}/Invoice/{created['id']}/_history/{created['meta']['versionId']}",
               "ETag": f'W/"{created["meta"]["versionId"]}"'}
    return fhir_response(request, created, 201, headers=headers)


@router.post("/Encounter/{resource_id}/$charge")
async def charge_route(request: Request, resource_id: str) -> Response:
    policy = policy_of(request)
    if not is_billing_staff(policy):
        raise Forbidden("Only billing staff charge Encounters")
    raw = await request.body()
    body = await read_json_body(request) if raw.strip() else None
    account = None
    for param in (body or {}).get("parameter") or [] if isinstance(body, dict) else []:
        if isinstance(param, dict) and param.get("name") == "account":
            account = str((param.get("valueReference") or {}).get("reference") or "")
    async with unit_of_work(request.app.state.resources, policy) as writes:
        created = await charge.charge_encounter(writes, resource_id, account)
    return fhir_response(request, created, 201)


@router.post("/Invoice/{resource_id}/$pay")
async def pay_route(request: Request, resource_id: str) -> Response:
    policy = policy_of(request)
    key = idempotency.required_key(request.headers.get(idempotency.HEADER), policy)
    raw = await request.body()
    payment = desk.desk_payment(resource_id, await read_json_body(request), key)
    if payment.method != "online" and not is_billing_staff(policy):
        raise Forbidden("Only billing staff record desk payments (cash, card)")
    settings = request.app.state.settings
    provider = online.provider_for(settings) if payment.method == "online" else None
    async with unit_of_work(request.app.state.resources, policy) as writes:
        replay = await idempotency.claim(writes.conn, key, raw, settings.idempotency_hours)
        if replay is not None:
            return fhir_response(request, replay[1], replay[0], headers={"Idempotent-Replayed": "true"})
        await writes.policy.check_visible(writes.conn, "Invoice", resource_id, "r")
        if provider is not None:
            answer, status = await online.start_online(writes, provider, payment, idempotency.provider_key(key)), 200
        else:
            answer, status = await record_payment(writes, payment, settings.hospital_name), 201
        await idempotency.remember(writes.conn, key, status, dumps(answer))
    return fhir_response(request, answer, status)


@router.post("/Invoice/{resource_id}/$cancel-payment")
async def cancel_payment_route(request: Request, resource_id: str) -> Response:
    policy = policy_of(request)
    intent_id = cancel.intent_in(await read_json_body(request))
    provider = online.provider_for(request.app.state.settings)
    key = idempotency.provider_key(idempotency.key_of(f"cancel-{intent_id}", policy) or intent_id)
    async with unit_of_work(request.app.state.resources, policy) as writes:
        await writes.policy.check_visible(writes.conn, "Invoice", resource_id, "r")
        answer = await cancel.cancel_pending(writes, resource_id, intent_id, provider, key)
    return fhir_response(request, answer)


@router.post("/PaymentReconciliation/{resource_id}/$refund")
async def refund_route(request: Request, resource_id: str) -> Response:
    policy = policy_of(request)
    if not is_billing_staff(policy):
        raise Forbidden("Only billing staff refund payments")
    key = idempotency.required_key(request.headers.get(idempotency.HEADER), policy)
    raw = await request.body()
    settings = request.app.state.settings
    provider = online.provider_for(settings) if settings.stripe_api_key else None
    async with unit_of_work(request.app.state.resources, policy) as writes:
        replay = await idempotency.claim(writes.conn, key, raw, settings.idempotency_hours)
        if replay is not None:
            return fhir_response(request, replay[1], replay[0], headers={"Idempotent-Replayed": "true"})
        answer = await refund.refund_payment(writes, resource_id, provider, idempotency.provider_key(key))
        await idempotency.remember(writes.conn, key, 200, dumps(answer))
    return fhir_response(request, answer)


@webhook_router.post("/billing/stripe/webhook")
async def stripe_webhook(request: Request) -> Response:
    settings = request.app.state.settings
    answer = await webhook.handle_webhook(request.app.state.resources, online.provider_for(settings),
                                          await request.body(), request.headers.get("Stripe-Signature"),
                                          settings.hospital_name)
    return Response(dumps(answer), 200, media_type="application/json")


def _serving(body: bytes) -> Any:
    async def serve(request: Request) -> Response:
        return fhir_response(request, body)
    return serve


for _rid in ("Account-invoice", "ChargeItemDefinition-apply", "Encounter-charge", "Invoice-pay",
             "Invoice-cancel-payment", "PaymentReconciliation-refund"):
    router.add_api_route(f"/OperationDefinition/{_rid}", _serving(_definitions()[_rid]), methods=["GET"])
