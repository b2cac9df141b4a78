"""Input parameters of the terminology operations, from the query string (GET) or a Parameters
body (POST) (http://hl7.org/fhir/R4/operations.html#request): primitive values by name, the
resource parameters (``valueSet``, ``codeSystem``, ``conceptMap``) and the Coding /
CodeableConcept ones, which need POST.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from ...errors import BadRequest
from ...fhir.body import read_json_body
from ...terminology.validate_code import Coded

__all__ = ["OpParams", "op_params"]

PRIMITIVE_KEYS = ("valueString", "valueCode", "valueUri", "valueCanonical", "valueUrl", "valueId", "valueDateTime")


class OpParams:
    def __init__(self, name: str, query: list[tuple[str, str]], body: dict[str, Any] | None) -> None:
        self.operation = name
        self.values: dict[str, list[Any]] = {}
        self.parts: dict[str, list[dict[str, Any]]] = {}
        for key, value in query:
            self.values.setdefault(key, []).append(value)
        for param in (body or {}).get("parameter") or []:
            if not isinstance(param, dict) or not isinstance(param.get("name"), str):
                raise BadRequest(f"${name}: every Parameters.parameter needs a name")
            self.parts.setdefault(param["name"], []).append(param)

    def text(self, name: str) -> str | None:
        for param in self.parts.get(name, []):
            for key in PRIMITIVE_KEYS:
                if isinstance(param.get(key), str):
                    return str(param[key])
            raise BadRequest(f"${self.operation}: parameter '{name}' needs a string value")
        found = self.values.get(name)
        return found[0] if found else None

    def texts(self, name: str) -> list[str]:
        out = [str(p[k]) for p in self.parts.get(name, []) for k in PRIMITIVE_KEYS if isinstance(p.get(k), str)]
        return out + self.values.get(name, [])

    def integer(self, name: str) -> int | None:
        for param in self.parts.get(name, []):
            value = param.get("valueInteger")
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return value
            raise BadRequest(f"${self.operation}: '{name}' must be a non-negative integer")
        raw = self.text(name)
        if raw is None:
            return None
        if not raw.isdigit():
            raise BadRequest(f"${self.operation}: '{name}' must be a non-negative integer, not '{raw}'")
        return int(raw)

    def flag(self, name: str) -> bool:
        for param in self.parts.get(name, []):
            if isinstance(param.get("valueBoolean"), bool):
                return bool(param["valueBoolean"])
            raise BadRequest(f"${self.operation}: '{name}' must be a boolean")
        raw = self.text(name)
        if raw not in (None, "true", "false"):
            raise BadRequest(f"${self.operation}: '{name}' must be true or false, not '{raw}'")
        return raw == "true"

    def resource(self, name: str, rtype: str) -> dict[str, Any] | None:
        for param in self.parts.get(name, []):
            resource = param.get("resource")
            if not isinstance(resource, dict) or resource.get("resourceType") != rtype:
                raise BadRequest(f"${self.operation}: '{name}' must carry a {rtype} resource")
            return resource
        return None

    def _complex(self, name: str, key: str) -> dict[str, Any] | None:
        for param in self.parts.get(name, []):
            value = param.get(key)
            if not isinstance(value, dict):
                raise BadRequest(f"${self.operation}: '{name}' must be a {key.removeprefix('value')}")
            return value
        return None

    def codings(self, code_name: str = "code", system_name: str = "system", coding_name: str = "coding",
                concept_name: str | None = "codeableConcept") -> list[Coded]:
        """The coded input: code (+system, display), a Coding, or a CodeableConcept's codings."""
        code = self.text(code_name)
        if code is not None:
            return [Coded(self.text(system_name), code, self.text("display"))]
        coding = self._complex(coding_name, "valueCoding")
        if coding is not None:
            return [_coded(coding, self.operation)]
        concept = self._complex(concept_name, "valueCodeableConcept") if concept_name else None
        if concept is not None:
            codings = [_coded(c, self.operation) for c in concept.get("coding") or [] if isinstance(c, dict)]
            if codings:
                return codings
        names = " or ".join(n for n in (code_name, coding_name, concept_name) if n)
        raise BadRequest(f"${self.operation} needs {names}")


def _coded(coding: dict[str, Any], operation: str) -> Coded:
    if not isinstance(coding.get("code"), str):
        raise BadRequest(f"${operation}: a Coding without a code")
    system = coding.get("system")
    return Coded(system if isinstance(system, str) else None, coding["code"], coding.get("display"))


async def op_params(request: Request, name: str) -> OpParams:
    body = None
    if request.method == "POST":
        body = await read_json_body(request)
        if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
            raise BadRequest(f"${name} takes a Parameters body")
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("_format", "_pretty")]
    return OpParams(name, query, body)
