"""Token ``:in``, ``:not-in``, ``:below``, ``:above`` (http://hl7.org/fhir/R4/search.html#token),
a thin adapter over the terminology engine (``fhir_server.terminology``).

``:in``/``:not-in`` match the (system, code) pairs of the expanded value set; ``:below``/
``:above`` match the code and its descendants/ancestors. For a code system held in memory the
hierarchy is expanded here; for one loaded into PostgreSQL (``fhir-server terminology load``)
it is a recursive subquery over ``terminology_concept`` (no expansion in Python). A value set
or code system the server does not hold is a 400, not an empty match.
"""

from __future__ import annotations

from ..errors import BadRequest, FhirError
from ..terminology import hierarchy, value_set_codes
from ..terminology.store import ABOVE_SQL, BELOW_SQL, is_loaded
from .parse import split_escaped, unescape
from .sqlfrag import Q, fmt, ident
from .types.token import codes_predicate

__all__ = ["token_codes_predicate"]


def _value_set_predicate(url: str, alias: str) -> Q:
    try:
        codes = value_set_codes(url)
    except FhirError as exc:
        raise BadRequest(f"ValueSet {url} cannot be used for :in/:not-in: {exc.message}") from exc
    return codes_predicate(sorted(codes, key=str), alias)


def token_codes_predicate(raw: str, modifier: str, alias: str) -> Q:
    if modifier in ("in", "not-in"):
        return _value_set_predicate(raw, alias)
    parts = [unescape(p) for p in split_escaped(raw, "|")]
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise BadRequest(f":{modifier}={raw!r}: expected system|code")
    system, code = parts
    codes = hierarchy(system, code, modifier == "below")
    if codes is not None:
        return fmt("({} = {} AND {} = ANY({}))", ident(alias, "system"), system, ident(alias, "code"), codes)
    if is_loaded(system):
        related = fmt(BELOW_SQL if modifier == "below" else ABOVE_SQL, system, code, system)
        return fmt("({} = {} AND ({} = {} OR {} IN ({})))", ident(alias, "system"), system, ident(alias, "code"),
                   code, ident(alias, "code"), related)
    raise BadRequest(f"CodeSystem {system} is not known to this server, so :{modifier} cannot be evaluated")
