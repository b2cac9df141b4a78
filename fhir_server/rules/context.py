"""Who is writing: the caller's access policy, for rules that depend on it (docs/rules.md).

The resource layer (``resources/interactions``) binds the policy of each write before it calls
the repository, so a rule running inside that write can ask ``writer()``. ``None`` means the
write comes from no request at all (``fhir-server load``, server start-up): the operator.
A context variable, because ``Change`` is frozen per write and the policy belongs to the request.
"""

from __future__ import annotations

from contextvars import ContextVar

from ..smart_auth.policy import Policy

__all__ = ["writing_as", "writer"]

_WRITER: ContextVar[Policy | None] = ContextVar("fhir_rules_writer", default=None)


def writing_as(policy: Policy) -> None:
    """Bind ``policy`` as the writer for the rest of the current task (one request or bundle)."""
    _WRITER.set(policy)


def writer() -> Policy | None:
    return _WRITER.get()
