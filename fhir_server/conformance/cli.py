"""``fhir-server ig install|list``: the IG packages of the profiles folder.

Exit status: 0 done; 1 done, but a dependency could not be fetched; 2 the package itself could
not be installed (bad name, not a FHIR R4 package, npm failed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .catalog import load_catalog
from .install import install
from .package import PackageError

__all__ = ["add_commands"]


def _folder(args: argparse.Namespace) -> Path:
    from ..config import load_settings

    return Path(args.profiles_dir) if args.profiles_dir else load_settings().profiles_dir


def _install(args: argparse.Namespace) -> int:
    try:
        report = install(args.package, _folder(args), with_dependencies=not args.no_deps)
    except PackageError as exc:
        print(f"error: {exc}")
        return 2
    for label in report.installed:
        print(f"installed {label}")
    for label in report.present:
        print(f"already installed {label}")
    for problem in report.missing:
        print(f"not installed (dependency): {problem}")
    print("Restart the server to use them; run `fhir-server reindex` to index stored data for new search parameters.")
    return 1 if report.missing else 0


def _list(args: argparse.Namespace) -> int:
    catalog = load_catalog(_folder(args))
    rows: list[dict[str, Any]] = [
        {"name": p.name, "version": p.version, "canonical": p.canonical, "file": p.path.name,
         "profiles": len(p.of_type("StructureDefinition")), "searchParameters": len(p.of_type("SearchParameter")),
         "valueSets": len(p.of_type("ValueSet")), "codeSystems": len(p.of_type("CodeSystem"))}
        for p in catalog.packages]
    if args.json:
        print(json.dumps({"packages": rows, "problems": catalog.problems, "warnings": catalog.warnings}, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']}@{row['version']}  {row['profiles']} profiles, {row['searchParameters']} search "
              f"parameters, {row['valueSets']} value sets, {row['codeSystems']} code systems  ({row['file']})")
    for problem in catalog.problems:
        print(f"left out: {problem}")
    for warning in catalog.warnings:
        print(f"warning: {warning}")
    if not rows and not catalog.problems:
        print(f"no IG packages in {_folder(args)}")
    return 0


def add_commands(commands: Any) -> None:
    ig = commands.add_parser("ig", help="implementation guide packages in the profiles folder")
    sub = ig.add_subparsers(dest="ig_command", required=True)
    inst = sub.add_parser("install", help="install NAME@VERSION from the npm registry, or a .tgz file")
    inst.add_argument("package", help="e.g. hl7.terminology.r4@7.0.1, or path/to/package.tgz")
    inst.add_argument("--no-deps", action="store_true", help="do not install the package's dependencies")
    inst.add_argument("--profiles-dir", help="the profiles folder (default: env FHIR_PROFILES_DIR or ./profiles)")
    inst.set_defaults(handler=_install)
    listing = sub.add_parser("list", help="the installed packages, and any that cannot be used")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--profiles-dir", help="the profiles folder (default: env FHIR_PROFILES_DIR or ./profiles)")
    listing.set_defaults(handler=_list)
