"""``fhir-server ig install``: put a FHIR package into the profiles folder, with its dependencies.

FHIR packages are published on the npm registry; ``npm pack NAME@VERSION`` fetches one through
the user's own npm set-up (registry, proxy, credentials), so this module names no host. A local
``.tgz`` is taken as it is. Every package is read (``read_package``) before it is kept, and is
stored as ``NAME#VERSION.tgz`` (the FHIR package cache's naming). A dependency that the registry
does not have in the wanted version is reported, never silently swapped for another version.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .package import CORE_PACKAGES, IgPackage, PackageError, read_package

__all__ = ["install", "InstallReport", "parse_spec"]

_SPEC = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._\-]*)@(?P<version>[0-9A-Za-z.\-]+)$")
NPM_TIMEOUT_SECONDS = 300


@dataclass
class InstallReport:
    installed: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # dependencies that could not be fetched, and why


def parse_spec(spec: str) -> tuple[str, str]:
    match = _SPEC.match(spec)
    if match is None:
        raise PackageError(f"{spec!r} is neither a .tgz file nor NAME@VERSION (e.g. hl7.terminology.r4@7.0.1)")
    return match["name"], match["version"]


def _fetch(name: str, version: str, into: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise PackageError("npm is needed to fetch packages from the npm registry; install Node.js, "
                           "or download the .tgz and run: fhir-server ig install FILE.tgz")
    done = subprocess.run([npm, "pack", "--silent", f"{name}@{version}"], cwd=into, capture_output=True,
                          text=True, timeout=NPM_TIMEOUT_SECONDS, check=False)
    if done.returncode != 0:
        first = next((line for line in done.stderr.splitlines() if line.strip()), "no output")
        raise PackageError(f"{name}@{version}: npm pack failed ({first.strip()})")
    files = sorted(into.glob("*.tgz"))
    if not files:
        raise PackageError(f"{name}@{version}: npm pack produced no file")
    return files[-1]


def _keep(package: IgPackage, profiles: Path) -> Path:
    profiles.mkdir(parents=True, exist_ok=True)
    target = profiles / f"{package.name}#{package.version}.tgz"
    shutil.copyfile(package.path, target)
    return target


def _installed(profiles: Path) -> set[tuple[str, str]]:
    found = set()
    for path in profiles.glob("*.tgz") if profiles.is_dir() else ():
        try:
            package = read_package(path)
        except PackageError:
            continue
        found.add((package.name, package.version))
    return found


def install(spec: str, profiles: Path, with_dependencies: bool = True) -> InstallReport:
    """Install a package (NAME@VERSION or a .tgz path) and, unless told not to, what it depends on."""
    report = InstallReport()
    have = _installed(profiles)
    with tempfile.TemporaryDirectory(prefix="fhir-ig-") as tmp:
        if spec.endswith(".tgz") or Path(spec).is_file():
            queue: list[IgPackage | tuple[str, str]] = [read_package(Path(spec))]
        else:
            queue = [parse_spec(spec)]
        first = True
        while queue:
            item = queue.pop(0)
            try:
                package = item if isinstance(item, IgPackage) else _download(item, Path(tmp), have, report)
            except PackageError as exc:
                if first:
                    raise
                report.missing.append(str(exc))
                continue
            first = False
            if package is None:
                continue
            _keep(package, profiles)
            have.add((package.name, package.version))
            report.installed.append(package.label)
            if with_dependencies:
                queue.extend((n, v) for n, v in package.dependencies.items() if n not in CORE_PACKAGES)
    return report


def _download(wanted: tuple[str, str], tmp: Path, have: set[tuple[str, str]],
              report: InstallReport) -> IgPackage | None:
    name, version = wanted
    if (name, version) in have:
        if f"{name}@{version}" not in report.present:
            report.present.append(f"{name}@{version}")
        return None
    folder = Path(tempfile.mkdtemp(dir=tmp))
    package = read_package(_fetch(name, version, folder))
    if (package.name, package.version) != (name, version):
        raise PackageError(f"{name}@{version}: the registry answered {package.label}")
    return package
