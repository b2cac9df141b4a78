"""Synthesize, for one SearchParameter, a resource carrying a value at its expression and a
search value that must find it (used by the every-parameter test).

The value and the matching search value are chosen per (parameter type, FHIR type) by hand
from search.html; the path is built from the expression and the R4 model, not from the
extraction code under test.
"""

from __future__ import annotations

import re
from typing import Any

from fhir_server.fhir.fhirpath_env import R4_MODEL
from fhir_server.search.extract import split_union

P2T: dict[str, str] = R4_MODEL["path2Type"]
CHOICES: dict[str, list[str]] = R4_MODEL["choiceTypePaths"]
ELSEWHERE: dict[str, str] = R4_MODEL["pathsDefinedElsewhere"]
UCUM = "http://unitsofmeasure.org"
PREFERRED = {  # choice type to use when the expression does not say, by parameter type
    "token": ["CodeableConcept", "Coding", "Identifier", "Code", "String", "Boolean"],
    "reference": ["Reference", "Canonical", "Uri"],
    "date": ["DateTime", "Period", "Date", "Instant", "Timing"],
    "quantity": ["Quantity", "Age", "Duration", "Money", "Range"],
    "number": ["Decimal", "Integer"],
    "string": ["String", "Markdown"],
    "uri": ["Uri", "Url", "Canonical"],
}


def _lower(t: str) -> str:
    return t[0].lower() + t[1:] if t not in P2T.values() or t[0].islower() else t


def leaf(ptype: str, ftype: str, target: str | None) -> tuple[Any, str] | None:
    """(JSON value, search value that must match it)."""
    t = ftype[0].upper() + ftype[1:]
    if ptype == "string":
        if t == "HumanName":
            return {"family": "Zebrafish"}, "zebra"
        if t == "Address":
            return {"city": "Zebrafish", "line": ["Zebrafish"], "state": "Zebrafish", "postalCode": "Zebrafish",
                    "country": "Zebrafish", "district": "Zebrafish"}, "zebra"
        return "Zebrafish", "zebra"
    if ptype == "token":
        if t == "CodeableConcept":
            return {"coding": [{"system": "http://s", "code": "tok1"}]}, "http://s|tok1"
        if t == "Coding":
            return {"system": "http://s", "code": "tok1"}, "http://s|tok1"
        if t in ("Identifier", "ContactPoint"):
            return {"system": "http://s", "value": "tok1"}, "http://s|tok1"
        if t == "Boolean":
            return True, "true"
        return "tok1", "tok1"
    if ptype == "reference":
        if t == "Reference":
            return {"reference": f"{target or 'Patient'}/ref1"}, f"{target or 'Patient'}/ref1"
        return "http://example.org/canon/1", "http://example.org/canon/1"
    if ptype == "date":
        if t == "Date":
            return "2020-02-03", "2020-02-03"
        if t == "Period":
            return {"start": "2020-02-03T01:00:00Z", "end": "2020-02-03T02:00:00Z"}, "2020-02-03"
        if t == "Timing":
            return {"event": ["2020-02-03T01:00:00Z"]}, "2020-02-03"
        return "2020-02-03T04:05:06Z", "2020-02-03"
    if ptype == "number":
        return 42, "42"
    if ptype == "quantity":
        if t == "Range":
            return {"low": {"value": 40, "system": UCUM, "code": "mg"}, "high": {"value": 44, "system": UCUM,
                                                                                 "code": "mg"}}, "ge42"
        if t == "Money":
            return {"value": 42, "currency": "EUR"}, "42"
        return {"value": 42, "system": UCUM, "code": "mg", "unit": "mg"}, "42|http://unitsofmeasure.org|mg"
    if ptype == "uri":
        return "http://example.org/u1", "http://example.org/u1"
    return None


_AS = re.compile(r"^\((?P<path>[^()]+?) as (?P<type>\w+)\)(?P<rest>.*)$")


def _steps(part: str) -> list[str]:
    m = _AS.match(part)
    if m:
        return [*m["path"].split("."), f"as({m['type']})", *[s for s in m["rest"].split(".") if s]]
    out, depth, cur = [], 0, ""
    for ch in part:
        if ch == "." and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    return [*out, cur]


def _type_of(path: str) -> str | None:
    path = ELSEWHERE.get(path, path)
    return P2T.get(path)


def build(part: str, ptype: str, root_type: str, targets: tuple[str, ...], focus: dict[str, Any] | None = None,
          relative: bool = False) -> tuple[dict[str, Any], str] | None:
    """Fill ``focus`` (a new resource unless given) along ``part``; return (focus, search value)."""
    steps = _steps(part)
    if not relative:
        steps = steps[1:]
    focus = focus if focus is not None else {"resourceType": root_type}
    node, path = focus, root_type
    target = targets[0] if targets else None
    i = 0
    while i < len(steps):
        step = steps[i]
        nxt = steps[i + 1] if i + 1 < len(steps) else ""
        if m := re.fullmatch(r"where\(resolve\(\) is (\w+)\)", step):
            target = m.group(1)
        elif m := re.fullmatch(r"where\((\w+) ?= ?'([^']*)'\)", step):
            node[m.group(1)] = m.group(2)
        elif re.fullmatch(r"(as|ofType)\(\w+\)|first\(\)", step):
            pass
        elif m := re.fullmatch(r"extension\('([^']*)'\)", step):
            ext = {"url": m.group(1)}
            node.setdefault("extension", []).append(ext)
            node, path = ext, "Extension"
        elif re.fullmatch(r"\w+(\[0\])?", step):
            name = step.removesuffix("[0]")
            child = f"{path}.{name}"
            if child not in P2T and child not in CHOICES and ELSEWHERE.get(child) is None:
                for base in ("DomainResource", "Resource", "Element"):
                    if f"{base}.{name}" in P2T:
                        child = f"{base}.{name}"
            child = ELSEWHERE.get(child, child)
            choice = CHOICES.get(child)
            if choice:
                m2 = re.fullmatch(r"(?:as|ofType)\((\w+)\)", nxt)
                wanted = m2.group(1) if m2 else next((c for c in PREFERRED.get(ptype, []) if c in choice), choice[0])
                wanted = wanted[0].upper() + wanted[1:]
                key, ftype = name + wanted, wanted
            else:
                key, ftype = name, _type_of(child) or "BackboneElement"
            rest = steps[i + 1:]
            last = all(re.fullmatch(r"(as|ofType)\(\w+\)|where\(.*\)|first\(\)", s) for s in rest)
            if last:
                made = leaf(ptype, ftype, target_for(rest, target))
                if made is None:
                    return None
                value, search = made
                for field_name, literal in re.findall(r"where\((\w+) ?= ?'([^']*)'\)", " ".join(rest)):
                    value[field_name] = literal
                    search = search.split("|")[-1]
                node[key] = value if not _is_list(child) else [value]
                return focus, search
            new: dict[str, Any] = {}
            node[key] = [new] if _is_list(child) else new
            node = new
            path = child if ftype in ("BackboneElement", "Element") or ftype is None else ftype
        else:
            return None
        i += 1
    return None


def target_for(rest: list[str], default: str | None) -> str | None:
    for step in rest:
        if m := re.fullmatch(r"where\(resolve\(\) is (\w+)\)", step):
            return m.group(1)
    return default


def _is_list(path: str) -> bool:
    # Lists are accepted by extraction either way; use lists for elements that usually repeat.
    return path.rsplit(".", 1)[-1] in {"name", "identifier", "telecom", "address", "coding", "given", "line",
                                       "category", "component", "extension", "contained"}


def sample_for(sp: dict[str, Any], rtype: str) -> tuple[dict[str, Any], str] | None:
    """(resource, search value) for one SearchParameter bound to ``rtype``, or None if not synthesizable."""
    expression = sp.get("expression") or ""
    parts = [p if not p[:1].islower() else f"{rtype}.{p}" for p in split_union(expression)]
    parts = [p for p in parts if re.match(rf"^\(*{rtype}\b", p)]
    for part in parts:
        built = build(part, sp["type"], rtype, tuple(sp.get("target") or ()))
        if built is not None:
            return built
    return None


def _descend(resource: dict[str, Any], part: str, rtype: str) -> tuple[dict[str, Any], str] | None:
    """Create the (backbone) element a composite's expression selects; return it and its type path."""
    node, path = resource, rtype
    for name in _steps(part)[1:]:
        if not re.fullmatch(r"\w+", name):
            return None
        path = ELSEWHERE.get(f"{path}.{name}", f"{path}.{name}")
        new: dict[str, Any] = {}
        node[name] = [new] if _is_list(path) or name in ("useContext", "characteristic", "item", "entry") else new
        node = new
        path = _type_of(path) or path
    return node, path


def composite_sample(sp: dict[str, Any], rtype: str, by_url: dict[str, dict[str, Any]]
                     ) -> tuple[dict[str, Any], str] | None:
    parts = [p for p in split_union(sp.get("expression") or "") if re.match(rf"^{rtype}\b", p)]
    if not parts:
        return None
    resource: dict[str, Any] = {"resourceType": rtype}
    found = _descend(resource, parts[0], rtype)
    if found is None:
        return None
    focus, path = found
    values = []
    for comp in sp.get("component") or ():
        ctype = by_url.get(comp["definition"], {}).get("type", "token")
        first = split_union(comp["expression"])[0]
        if first.startswith("%resource."):
            built = build(first.removeprefix("%resource."), ctype, rtype, (), focus=resource, relative=True)
        else:
            built = build(first, ctype, path, (), focus=focus, relative=True)
        if built is None:
            return None
        values.append(built[1].replace("$", "\\$"))
    return resource, "$".join(values)
