"""One FHIR IG package (.tgz): its manifest and the conformance resources it carries.

NPM Package Specification: https://confluence.hl7.org/display/FHIR/NPM+Package+Specification.
Only ``package/*.json`` files are read (examples under ``package/example/`` and other folders are
not definitions); nothing is extracted to disk, so member names cannot escape a folder.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

__all__ = ["IgPackage", "PackageError", "read_package", "DEFINITION_TYPES", "CORE_PACKAGES"]

# The resource types of a package that define something this server uses or serves.
DEFINITION_TYPES = frozenset({"StructureDefinition", "SearchParameter", "ValueSet", "CodeSystem", "ConceptMap",
                              "CapabilityStatement", "OperationDefinition", "ImplementationGuide"})
# Packages whose content is the vendored R4 core itself (fhir_server/definitions/r4).
CORE_PACKAGES = frozenset({"hl7.fhir.r4.core", "hl7.fhir.r4.examples", "hl7.fhir.r4.expansions"})
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one definition file larger than this is a broken package


class PackageError(Exception):
    """A package that cannot be used, with the reason (shown at start-up and by the CLI)."""


@dataclass(frozen=True)
class IgPackage:
    name: str
    version: str
    path: Path
    manifest: dict[str, Any]
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by resourceType

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def dependencies(self) -> dict[str, str]:
        deps = self.manifest.get("dependencies") or {}
        return {str(k): str(v) for k, v in deps.items() if k not in CORE_PACKAGES}

    @property
    def canonical(self) -> str | None:
        return self.manifest.get("canonical")

    def of_type(self, rtype: str) -> list[dict[str, Any]]:
        return self.resources.get(rtype, [])


def _manifest(tar: tarfile.TarFile, path: Path) -> dict[str, Any]:
    try:
        member = tar.getmember("package/package.json")
    except KeyError:
        raise PackageError(f"{path.name}: no package/package.json (not a FHIR package)") from None
    raw = _read_member(tar, member, path)
    try:
        manifest = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PackageError(f"{path.name}: package/package.json is not JSON ({exc})") from None
    if not isinstance(manifest, dict) or not manifest.get("name") or not manifest.get("version"):
        raise PackageError(f"{path.name}: package/package.json lacks a name or version")
    versions = manifest.get("fhirVersions") or manifest.get("fhir-version-list") or []
    if isinstance(versions, str):
        versions = [versions]
    if not any(str(v).startswith("4.0") for v in versions):
        raise PackageError(f"{path.name}: {manifest['name']}@{manifest['version']} is for FHIR "
                           f"{', '.join(map(str, versions)) or 'an unstated version'}, not R4 (4.0.x)")
    return manifest


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> bytes:
    if not member.isfile() or member.size > MAX_MEMBER_BYTES:
        raise PackageError(f"{path.name}: {member.name} is not a regular file of at most {MAX_MEMBER_BYTES} bytes")
    handle = tar.extractfile(member)
    assert handle is not None
    return handle.read()


def _is_definition_file(name: str) -> bool:
    # package/Type-id.json directly in package/ (not package/example/..., package/other/...)
    return name.startswith("package/") and name.count("/") == 1 and name.endswith(".json") \
        and name != "package/package.json" and not name.startswith("package/.")


def read_package(path: Path) -> IgPackage:
    """Read a package's manifest and definitions; PackageError names the file and the reason."""
    try:
        tar = tarfile.open(path, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise PackageError(f"{path.name}: not a readable .tgz package ({exc})") from None
    with tar:
        manifest = _manifest(tar, path)
        resources: dict[str, list[dict[str, Any]]] = {}
        for member in tar.getmembers():
            if not _is_definition_file(member.name):
                continue
            try:
                resource = orjson.loads(_read_member(tar, member, path))
            except orjson.JSONDecodeError as exc:
                raise PackageError(f"{path.name}: {member.name} is not JSON ({exc})") from None
            rtype = resource.get("resourceType") if isinstance(resource, dict) else None
            if rtype in DEFINITION_TYPES:
                resources.setdefault(rtype, []).append(resource)
    return IgPackage(str(manifest["name"]), str(manifest["version"]), path, manifest, resources)
