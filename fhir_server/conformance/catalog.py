"""The IG packages of a ``profiles/`` folder, read at start-up, with their dependencies checked.

A package that cannot be read, or that is part of a dependency cycle, is left out with a
problem that names the file and the reason (or stops start-up when ``strict``). A dependency
that is not installed is a warning: the package still loads, but its profiles may point at
definitions (extensions, value sets) this server does not hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .package import IgPackage, PackageError, read_package

__all__ = ["Catalog", "load_catalog", "version_key"]


@dataclass
class Catalog:
    packages: list[IgPackage] = field(default_factory=list)  # oldest version of a name first
    problems: list[str] = field(default_factory=list)  # packages left out, and why
    warnings: list[str] = field(default_factory=list)  # loaded, with a caveat

    def find(self, name: str, version: str | None = None) -> IgPackage | None:
        matches = [p for p in self.packages if p.name == name and (version is None or p.version == version)]
        return matches[-1] if matches else None


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Order versions numerically part by part ('6.1.0' < '7.0.0' < '7.0.0-ballot' sorts by text last)."""
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.\-]", version))


def _cycles(packages: list[IgPackage]) -> set[str]:
    """Names of the packages that depend on themselves through installed packages."""
    by_name = {p.name: p for p in packages}
    looping: set[str] = set()

    def reaches(start: str, node: str, seen: frozenset[str]) -> bool:
        for dep in by_name[node].dependencies:
            if dep == start:
                return True
            if dep in by_name and dep not in seen and reaches(start, dep, seen | {dep}):
                return True
        return False

    for name in by_name:
        if reaches(name, name, frozenset({name})):
            looping.add(name)
    return looping


def _check_dependencies(catalog: Catalog) -> None:
    installed = {p.name: {q.version for q in catalog.packages if q.name == p.name} for p in catalog.packages}
    for package in catalog.packages:
        for dep, wanted in package.dependencies.items():
            if dep not in installed:
                catalog.warnings.append(f"{package.label} depends on {dep}@{wanted}, which is not installed: "
                                        "definitions it refers to may be missing")
            elif wanted not in installed[dep] and wanted not in ("current", "dev"):
                catalog.warnings.append(f"{package.label} depends on {dep}@{wanted}; installed: "
                                        f"{', '.join(sorted(installed[dep], key=version_key))}")


def load_catalog(folder: Path, strict: bool = False) -> Catalog:
    """Every ``*.tgz`` package in ``folder`` (a missing folder is an empty catalog)."""
    catalog = Catalog()
    paths = sorted(folder.glob("*.tgz")) if folder.is_dir() else []
    for path in paths:
        try:
            catalog.packages.append(read_package(path))
        except PackageError as exc:
            catalog.problems.append(str(exc))
    looping = _cycles(catalog.packages)
    for name in sorted(looping):
        catalog.problems.append(f"{name}: circular dependency between installed packages "
                                f"({', '.join(sorted(looping))}); left out")
    catalog.packages = sorted((p for p in catalog.packages if p.name not in looping),
                              key=lambda p: (p.name, version_key(p.version)))
    _check_dependencies(catalog)
    if strict and catalog.problems:
        raise PackageError("; ".join(catalog.problems))
    return catalog
