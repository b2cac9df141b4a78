"""What a write rule is shown: one change to one resource, inside the write's transaction.

The interactions are those of http://hl7.org/fhir/R4/http.html (create, update, patch,
delete); a change carries the version being replaced (or none) and the version being stored
(or none, for a delete), as the resource layer stores them (id and meta stamped).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Change", "Interaction"]

Interaction = Literal["create", "update", "patch", "delete"]


@dataclass(frozen=True, slots=True)
class Change:
    """One write, as a rule sees it. ``old`` and ``new`` are read-only views: a rule refuses or
    writes side rows, it never edits the resource (mutating them is undefined behaviour).

    - ``create``: POST (plain, conditional, bundle entry, load without an id); ``old`` is None.
    - ``update``: PUT (plain, conditional, bundle entry, load with an id); ``old`` is None when
      the PUT creates the resource (update as create, or a re-creation after a delete).
    - ``patch``: PATCH in any patch format; ``old`` is the version the patch was applied to.
    - ``delete``: DELETE (plain, conditional, bundle entry); ``new`` is None.
    """

    interaction: Interaction
    resource_type: str
    id: str
    version_id: int  # the version this write stores (for a delete: the tombstone's)
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
