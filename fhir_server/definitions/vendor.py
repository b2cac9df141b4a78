"""Generate the compact vendored copy of the official FHIR R4 (4.0.1) definitions.

Source: npm package ``hl7.fhir.r4.examples@4.0.1`` (CC0-1.0), files ``Bundle-types.json``
(profiles-types), ``Bundle-resources.json`` (profiles-resources), ``Bundle-searchParams.json``
and ``Bundle-valuesets.json``. See http://hl7.org/fhir/R4/downloads.html.

The output keeps the FHIR JSON shape of each definition (a StructureDefinition stays a
StructureDefinition) and drops only documentation (narrative, definitions, comments,
mappings, differentials), so the validator consumes a vendored base definition and a
profile from an IG package the same way.

Run: ``python -m fhir_server.definitions.vendor [PATH_TO_TGZ]`` (without a path it runs
``npm pack`` into ``.cache/``). Writes ``fhir_server/definitions/r4/*.json.gz`` and
``PROVENANCE.json``.
"""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import orjson

PACKAGE = "hl7.fhir.r4.examples"
VERSION = "4.0.1"
TGZ_SHA256 = "dce87f1b5b9341867033f7d1f544fa1b5232503f6d62813887ac6b8a8b6cb682"
OUT_DIR = Path(__file__).parent / "r4"
CACHE_DIR = Path(__file__).resolve().parents[2] / ".cache"

ELEMENT_KEYS = (
    "id", "path", "sliceName", "min", "max", "base", "contentReference", "type",
    "fixedCode", "fixedUri", "fixedString", "patternCodeableConcept", "patternCoding",
    "maxLength", "condition", "constraint", "mustSupport", "isModifier", "isSummary",
    "binding", "slicing",
)
SD_KEYS = (
    "resourceType", "id", "url", "version", "name", "kind", "abstract", "type",
    "baseDefinition", "derivation", "fhirVersion",
)
SEARCH_PARAM_KEYS = (
    "resourceType", "id", "url", "name", "code", "base", "type", "expression", "target",
    "multipleOr", "multipleAnd", "comparator", "modifier", "chain", "component",
    "xpathUsage",
)
CONCEPT_KEYS = ("code", "display", "designation", "property")
# The terminology operations the server implements; their official definitions are served as-is.
OPERATION_DEFINITIONS = (
    "ValueSet-expand", "ValueSet-validate-code", "CodeSystem-lookup", "CodeSystem-validate-code",
    "CodeSystem-subsumes", "ConceptMap-translate",
)


def fetch_package() -> Path:
    """Download the package tarball with npm (the only registry client it needs)."""
    CACHE_DIR.mkdir(exist_ok=True)
    target = CACHE_DIR / f"{PACKAGE}-{VERSION}.tgz"
    if not target.exists():
        subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(CACHE_DIR)],
            check=True, capture_output=True,
        )
    return target


def verify_checksum(tgz: Path) -> str:
    digest = hashlib.sha256(tgz.read_bytes()).hexdigest()
    if digest != TGZ_SHA256:
        raise SystemExit(f"{tgz}: sha256 {digest} does not match the pinned {TGZ_SHA256}")
    return digest


def read_operation_definitions(tar: tarfile.TarFile) -> list[dict[str, Any]]:
    out = []
    for name in OPERATION_DEFINITIONS:
        member = tar.extractfile(f"package/OperationDefinition-{name}.json")
        assert member is not None, name
        definition = orjson.loads(member.read())
        definition.pop("text", None)
        out.append(definition)
    return out


def read_bundle(tar: tarfile.TarFile, name: str) -> list[dict[str, Any]]:
    member = tar.extractfile(f"package/{name}")
    assert member is not None, name
    return [entry["resource"] for entry in orjson.loads(member.read())["entry"]]


def compact_element(element: dict[str, Any]) -> dict[str, Any]:
    out = {k: element[k] for k in ELEMENT_KEYS if k in element}
    if "binding" in out:
        out["binding"] = {k: v for k, v in out["binding"].items() if k in ("strength", "valueSet")}
    if "constraint" in out:
        out["constraint"] = [
            {k: c[k] for k in ("key", "severity", "human", "expression", "source") if k in c}
            for c in out["constraint"]
        ]
    if "base" in out:
        out["base"] = {k: out["base"][k] for k in ("path", "min", "max")}
    return out


def compact_structure_definition(sd: dict[str, Any]) -> dict[str, Any]:
    out = {k: sd[k] for k in SD_KEYS if k in sd}
    out["snapshot"] = {"element": [compact_element(e) for e in sd["snapshot"]["element"]]}
    return out


def compact_extension(sd: dict[str, Any]) -> dict[str, Any]:
    """An extension definition: where it may be used (``context``) and its snapshot, with every
    fixed/pattern value (extensions fix their ``url`` and constrain their ``value[x]``)."""
    out = compact_structure_definition(sd)
    for key in ("context", "contextInvariant"):
        if key in sd:
            out[key] = sd[key]
    for compact, full in zip(out["snapshot"]["element"], sd["snapshot"]["element"], strict=True):
        compact.update({k: v for k, v in full.items() if k.startswith(("fixed", "pattern"))})
    return out


def compact_concepts(concepts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for concept in concepts:
        # display, designation and property serve $lookup, $expand and the property filters.
        item: dict[str, Any] = {k: concept[k] for k in CONCEPT_KEYS if k in concept}
        if "concept" in concept:
            item["concept"] = compact_concepts(concept["concept"])
        out.append(item)
    return out


def compact_terminology(resource: dict[str, Any]) -> dict[str, Any]:
    keep = ("resourceType", "id", "url", "version", "name", "status", "content",
            "caseSensitive", "valueSet", "hierarchyMeaning", "property", "compose", "expansion")
    out = {k: resource[k] for k in keep if k in resource}
    if "concept" in resource:
        out["concept"] = compact_concepts(resource["concept"])
    return out


def write_gz(name: str, payload: object) -> str:
    data = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    path = OUT_DIR / name
    # mtime=0 keeps the output byte-identical across runs, so re-vendoring shows no diff.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(data)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vendor(tgz: Path) -> dict[str, Any]:
    digest = verify_checksum(tgz)
    OUT_DIR.mkdir(exist_ok=True)
    with tarfile.open(tgz) as tar:
        types = read_bundle(tar, "Bundle-types.json")
        resources = read_bundle(tar, "Bundle-resources.json")
        params = read_bundle(tar, "Bundle-searchParams.json")
        terminology = read_bundle(tar, "Bundle-valuesets.json")
        extensions = read_bundle(tar, "Bundle-extensions.json")
        operations = read_operation_definitions(tar)
    structure_definitions = [
        compact_structure_definition(r) for r in types + resources
        if r["resourceType"] == "StructureDefinition"
    ]
    extension_definitions = [compact_extension(r) for r in extensions
                             if r["resourceType"] == "StructureDefinition" and "snapshot" in r]
    compartments = [r for r in resources if r["resourceType"] == "CompartmentDefinition"]
    for compartment in compartments:
        compartment.pop("text", None)
    files = {
        "structure-definitions.json.gz": write_gz("structure-definitions.json.gz", structure_definitions),
        "search-parameters.json.gz": write_gz(
            "search-parameters.json.gz", [{k: p[k] for k in SEARCH_PARAM_KEYS if k in p} for p in params]
        ),
        "terminology.json.gz": write_gz("terminology.json.gz", [compact_terminology(r) for r in terminology]),
        "compartments.json.gz": write_gz("compartments.json.gz", compartments),
        "extensions.json.gz": write_gz("extensions.json.gz", extension_definitions),
        "operation-definitions.json.gz": write_gz("operation-definitions.json.gz", operations),
    }
    provenance = {
        "package": PACKAGE, "version": VERSION, "license": "CC0-1.0",
        "source": f"npm registry, {PACKAGE}@{VERSION}", "tarball_sha256": digest,
        "generator": "python -m fhir_server.definitions.vendor",
        "counts": {
            "StructureDefinition": len(structure_definitions), "SearchParameter": len(params),
            "ValueSet+CodeSystem": len(terminology), "CompartmentDefinition": len(compartments),
            "Extension definitions": len(extension_definitions),
            "OperationDefinition": len(operations),
        },
        "files_sha256": files,
    }
    (OUT_DIR / "PROVENANCE.json").write_bytes(orjson.dumps(provenance, option=orjson.OPT_INDENT_2) + b"\n")
    return provenance


def main(argv: list[str]) -> None:
    tgz = Path(argv[0]) if argv else fetch_package()
    print(orjson.dumps(vendor(tgz), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main(sys.argv[1:])
