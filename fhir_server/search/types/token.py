"""token search parameters: http://hl7.org/fhir/R4/search.html#token.

Index rows are (system, code) per Coding / Identifier / ContactPoint / code / boolean, plus
text-only rows (system and code NULL) for CodeableConcept.text, Coding.display and
Identifier.type.text, which ``:text`` searches. Identifier rows also carry the identifier
type's system and code for ``:of-type``. ``:not`` and ``:missing`` are handled by the query
assembler (they negate or test existence); ``:in``/``:not-in``/``:below``/``:above`` expand
to a code list through ``terminology`` before reaching ``predicate``.
"""

from __future__ import annotations

from typing import Any

from ...errors import BadRequest
from ..extract import Node
from ..parse import split_escaped, unescape
from ..sqlfrag import Q, fmt, ident, join
from .common import MAX_INDEXED_CHARS, ValueContext, normalize

__all__ = ["TABLE", "COLUMNS", "MODIFIERS", "index_rows", "predicate", "codes_predicate"]

TABLE = "search_token"
COLUMNS = ("system", "code", "text", "type_system", "type_code")
MODIFIERS = frozenset({"text", "not", "of-type", "missing", "in", "not-in", "below", "above"})
_TOP = "\U0010ffff"


def _cut(value: Any) -> str | None:
    return None if value is None else str(value)[:MAX_INDEXED_CHARS]


def _codeable(value: dict[str, Any], rows: list[tuple[Any, ...]]) -> None:
    for coding in value.get("coding") or ():
        if isinstance(coding, dict):
            _coding(coding, rows)
    if isinstance(value.get("text"), str):
        rows.append((None, None, normalize(value["text"]), None, None))


def _coding(value: dict[str, Any], rows: list[tuple[Any, ...]]) -> None:
    if value.get("code") is not None or value.get("system") is not None:
        rows.append((_cut(value.get("system")), _cut(value.get("code")), None, None, None))
    if isinstance(value.get("display"), str):
        rows.append((None, None, normalize(value["display"]), None, None))


def _identifier(value: dict[str, Any], rows: list[tuple[Any, ...]]) -> None:
    system, code = _cut(value.get("system")), _cut(value.get("value"))
    id_type: dict[str, Any] = value["type"] if isinstance(value.get("type"), dict) else {}
    type_codings = [c for c in id_type.get("coding") or () if isinstance(c, dict)]
    if not type_codings:
        rows.append((system, code, None, None, None))
    for coding in type_codings:
        rows.append((system, code, None, _cut(coding.get("system")), _cut(coding.get("code"))))
    if isinstance(id_type.get("text"), str):
        rows.append((None, None, normalize(id_type["text"]), None, None))


def _one(value: Any, rows: list[tuple[Any, ...]]) -> None:
    if isinstance(value, bool):
        rows.append((None, "true" if value else "false", None, None, None))
    elif isinstance(value, str | int | float) or type(value).__name__ == "Decimal":
        rows.append((None, _cut(value), None, None, None))
    elif isinstance(value, dict):
        if "coding" in value or ("text" in value and "value" not in value and "code" not in value):
            _codeable(value, rows)
        elif "value" in value and "code" not in value:
            _identifier(value, rows)
        elif "code" in value or "system" in value:
            _coding(value, rows)


def index_rows(nodes: list[Node], root: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for value, _ in nodes:
        _one(value, rows)
    return list(dict.fromkeys(rows))


def _code_match(raw: str, alias: str, name: str) -> Q:
    parts = [unescape(p) for p in split_escaped(raw, "|")]
    if len(parts) == 1:
        return fmt("{} = {}", ident(alias, "code"), parts[0])
    if len(parts) != 2:
        raise BadRequest(f"{name}={raw!r}: a token is [system]|[code]; escape a literal '|' as '\\|'")
    system, code = parts
    if system and code:
        return fmt("({} = {} AND {} = {})", ident(alias, "code"), code, ident(alias, "system"), system)
    if code:  # |code: no system
        return fmt("({} = {} AND {} IS NULL)", ident(alias, "code"), code, ident(alias, "system"))
    if system:  # system|: any code in the system
        return fmt("{} = {}", ident(alias, "system"), system)
    raise BadRequest(f"{name}={raw!r}: empty token")


def _of_type(raw: str, alias: str, name: str) -> Q:
    parts = [unescape(p) for p in split_escaped(raw, "|")]
    if len(parts) != 3 or not all(parts):
        raise BadRequest(f"{name}:of-type={raw!r}: expected [type-system]|[type-code]|[identifier value]")
    return fmt("({} = {} AND {} = {} AND {} = {})", ident(alias, "type_system"), parts[0],
               ident(alias, "type_code"), parts[1], ident(alias, "code"), parts[2])


def predicate(raw: str, modifier: str | None, alias: str, vc: ValueContext) -> Q:
    name = vc.name
    """One OR-value of a token parameter, over ``search_token`` rows aliased ``alias``."""
    if modifier == "text":
        value = normalize(unescape(raw))
        return fmt("({} >= {} AND {} < {})", ident(alias, "text"), value, ident(alias, "text"), value + _TOP)
    if modifier == "of-type":
        return _of_type(raw, alias, name)
    if modifier in (None, "not"):
        return _code_match(raw, alias, name)
    raise BadRequest(f"Modifier :{modifier} is not supported on token parameter {name}")


def codes_predicate(codes: list[tuple[str | None, str]], alias: str) -> Q:
    """Membership in an expanded value set / code hierarchy: (system, code) pairs."""
    if not codes:
        return Q(fmt("false").sql)
    by_system: dict[str | None, list[str]] = {}
    for system, code in codes:
        by_system.setdefault(system, []).append(code)
    # A code-typed element (Patient.gender) is indexed without its implicit system.
    items = [fmt("({} = ANY({}) AND ({} IS NULL OR {} = {}))", ident(alias, "code"), list(codes_),
                 ident(alias, "system"), ident(alias, "system"), system) for system, codes_ in by_system.items()]
    return fmt("({})", join(" OR ", items))
