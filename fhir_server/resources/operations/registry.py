"""The one list of served operations (http://hl7.org/fhir/R4/operations.html), from which the
CapabilityStatement declares them (capabilitystatement-definitions.html#CapabilityStatement.rest.operation
and ``rest.resource.operation``).

Each operation module registers what it serves when it is imported, beside its routes: the
operation's code, the canonical of its OperationDefinition, the level(s) it answers at and the
resource types it serves. ``capability.py`` reads this registry; ``unsupported.py`` uses it to
tell a client that an operation exists but not on the type it asked for. A test enumerates the
app's routes and checks that every served ``$operation`` is registered here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OPERATION_DEFINITION", "Operation", "register", "registered", "for_type", "system_level", "find"]

ALL_TYPES = None  # ``types=ALL_TYPES``: every resource type


OPERATION_DEFINITION = "http://hl7.org/fhir/OperationDefinition"  # the official definitions' base


@dataclass(frozen=True)
class Operation:
    code: str  # without the "$"
    definition: str  # canonical URL of the OperationDefinition
    system: bool = False  # answered at [base]/$code
    types: tuple[str, ...] | None = ()  # served at [base]/[type]/... for these types; None: all types
    type_level: bool = False  # [base]/[type]/$code
    instance_level: bool = False  # [base]/[type]/[id]/$code

    def serves_type(self, rtype: str) -> bool:
        return (self.type_level or self.instance_level) and (self.types is None or rtype in self.types)

    def capability_entry(self) -> dict[str, str]:
        return {"name": self.code, "definition": self.definition}


_REGISTRY: dict[tuple[str, str], Operation] = {}


def register(operation: Operation) -> Operation:
    """Add an operation (idempotent per code and definition, so a re-imported module is harmless)."""
    _REGISTRY[(operation.code, operation.definition)] = operation
    return operation


def registered() -> list[Operation]:
    return sorted(_REGISTRY.values(), key=lambda op: (op.code, op.definition))


def system_level() -> list[Operation]:
    return [op for op in registered() if op.system]


def for_type(rtype: str) -> list[Operation]:
    return [op for op in registered() if op.serves_type(rtype)]


def find(code: str) -> list[Operation]:
    return [op for op in registered() if op.code == code]
