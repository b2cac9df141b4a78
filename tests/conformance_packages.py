"""Small FHIR packages made by the tests (npm-style .tgz with package/package.json)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any


def make_package(folder: Path, name: str, version: str = "1.0.0", *, fhir: str | None = "4.0.1",
                 dependencies: dict[str, str] | None = None, resources: list[dict[str, Any]] = (),  # type: ignore[assignment]
                 manifest: bytes | None = None, extra: dict[str, bytes] | None = None) -> Path:
    path = folder / f"{name}-{version}.tgz"
    files: dict[str, bytes] = dict(extra or {})
    if manifest is not None:
        files["package/package.json"] = manifest
    elif name:
        body: dict[str, Any] = {"name": name, "version": version, "dependencies": dependencies or {}}
        if fhir is not None:
            body["fhirVersions"] = [fhir]
        files["package/package.json"] = json.dumps(body).encode()
    for resource in resources:
        files[f"package/{resource['resourceType']}-{resource['id']}.json"] = json.dumps(resource).encode()
    with tarfile.open(path, "w:gz") as tar:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path
