"""``fhir-server terminology load FILE``: a large code system into PostgreSQL (migration 085),
for sites licensed to use LOINC, SNOMED CT or ICD-10 (none is shipped).

Two formats:

- a FHIR CodeSystem JSON file (http://hl7.org/fhir/R4/codesystem.html): concepts nested or
  with ``parent`` properties; its ``url``/``version``/``name`` name the system;
- a CSV file with a header row: ``code``, ``display``, ``parents`` (parent codes separated by
  ``|``), then optional columns: ``inactive`` (true/false), ``designation:LANG`` (a display
  in that language) and any other column as a string property of that name. ``--url`` names
  the system (``--version``, ``--name`` optional).

The load is one transaction under an advisory lock on the url: it replaces any earlier load
of the same url, and a file with a duplicate code, an empty code or a parent that is not one
of its codes changes nothing and names the problem.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb

from ..definitions import definitions
from .codesystem import CodeSystemView

__all__ = ["LoadError", "Loaded", "load_file", "read_file"]

Row = tuple[str, str | None, list[str], bool, list[dict[str, Any]], list[dict[str, Any]]]
FIXED = ("code", "display", "parents", "inactive")


class LoadError(Exception):
    """The file cannot be loaded; nothing was changed."""


@dataclass(frozen=True)
class Loaded:
    url: str
    version: str | None
    concepts: int


def _csv_rows(path: Path) -> Iterator[Row]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        if "code" not in columns:
            raise LoadError(f"{path}: the CSV header has no 'code' column (columns: code, display, parents, ...)")
        for line, record in enumerate(reader, start=2):
            code = (record.get("code") or "").strip()
            if not code:
                raise LoadError(f"{path}, line {line}: empty code")
            parents = [p.strip() for p in (record.get("parents") or "").split("|") if p.strip()]
            inactive = (record.get("inactive") or "").strip().lower() == "true"
            designations = [{"language": c.split(":", 1)[1], "value": v} for c, v in record.items()
                            if c and c.startswith("designation:") and v]
            properties = [{"code": c, "valueString": v} for c, v in record.items()
                          if c and c not in FIXED and not c.startswith("designation:") and v]
            yield code, record.get("display") or None, parents, inactive, properties, designations


def _json_rows(view: CodeSystemView) -> Iterator[Row]:
    for code, concept in view.by_code.items():
        properties = [p for p in concept.properties if p.get("code") not in ("parent", "child", "subsumedBy")]
        yield (code, concept.display, view.parents(code), concept.inactive, properties,
               list(concept.designations))


def read_file(path: Path, url: str | None, version: str | None, name: str | None
              ) -> tuple[dict[str, Any], Iterator[Row]]:
    """(CodeSystem header without concepts, concept rows)."""
    if path.suffix.lower() == ".csv":
        if not url:
            raise LoadError("a CSV file needs --url (the code system's canonical url)")
        header = {"resourceType": "CodeSystem", "url": url, "status": "active", "content": "complete",
                  **({"version": version} if version else {}), **({"name": name} if name else {})}
        return header, _csv_rows(path)
    try:
        resource = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise LoadError(f"{path}: not a CSV or FHIR CodeSystem JSON file ({exc})") from None
    if not isinstance(resource, dict) or resource.get("resourceType") != "CodeSystem":
        raise LoadError(f"{path}: not a FHIR CodeSystem")
    resource = {**resource, **({"url": url} if url else {}), **({"version": version} if version else {})}
    if not isinstance(resource.get("url"), str):
        raise LoadError(f"{path}: the CodeSystem has no url (give --url)")
    view = CodeSystemView(resource)
    header = {k: v for k, v in resource.items() if k not in ("concept", "text")}
    return header, _json_rows(view)


def _copy(conn: psycopg.Connection[Any], url: str, rows: Iterator[Row]) -> int:
    count = 0
    with conn.cursor() as cur, cur.copy(
            "COPY terminology_concept (system, code, display, parents, inactive, properties, designations)"
            " FROM STDIN") as copy:
        for code, display, parents, inactive, properties, designations in rows:
            copy.write_row((url, code, display, parents, inactive, Jsonb(properties), Jsonb(designations)))
            count += 1
    return count


def _check_parents(conn: psycopg.Connection[Any], url: str) -> None:
    row = conn.execute(
        "SELECT c.code, p FROM terminology_concept c, unnest(c.parents) p WHERE c.system = %s AND NOT EXISTS"
        " (SELECT 1 FROM terminology_concept o WHERE o.system = %s AND o.code = p) LIMIT 1", (url, url)).fetchone()
    if row is not None:
        raise LoadError(f"the parent '{row[1]}' of '{row[0]}' is not a code of this file")


def load_file(database_url: str, path: Path, url: str | None = None, version: str | None = None,
              name: str | None = None) -> Loaded:
    header, rows = read_file(path, url, version, name)
    system = header["url"]
    if system in definitions().code_systems:
        raise LoadError(f"{system} is an R4 core code system, already held by the server")
    with psycopg.connect(database_url) as conn:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('terminology_system:' || %s))", (system,))
                conn.execute("DELETE FROM terminology_system WHERE url = %s", (system,))
                conn.execute("INSERT INTO terminology_system (url, version, name, header, concept_count)"
                             " VALUES (%s, %s, %s, %s, 0)",
                             (system, header.get("version"), header.get("name"), Jsonb(header)))
                count = _copy(conn, system, rows)
                _check_parents(conn, system)
                conn.execute("UPDATE terminology_system SET concept_count = %s WHERE url = %s", (count, system))
        except psycopg.errors.UniqueViolation as exc:
            raise LoadError(f"{path}: a code appears twice ({exc.diag.message_detail})") from None
        except psycopg.DataError as exc:
            raise LoadError(f"{path}: {exc.diag.message_primary}") from None
    return Loaded(system, header.get("version"), count)
