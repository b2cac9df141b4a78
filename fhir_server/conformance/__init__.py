"""Implementation guides: FHIR IG packages from the ``profiles/`` folder, and their content put to work.

FHIR packages (https://confluence.hl7.org/display/FHIR/NPM+Package+Specification) are npm-style
``.tgz`` files: ``package/package.json`` names the package, its FHIR version and dependencies;
the resources lie beside it as ``package/<Type>-<id>.json``. ``package.read_package`` reads one,
``catalog.load_catalog`` reads a folder of them and checks their dependencies, ``apply.apply_catalog``
registers what they define (profiles for validation, SearchParameters for search and indexing,
ValueSets and CodeSystems for terminology), ``install`` fetches a package by name from the npm
registry (through ``npm pack``). Only the composition roots (``app``, ``cli``) import this package.
"""

from .catalog import Catalog, load_catalog
from .package import IgPackage, PackageError, read_package

__all__ = ["Catalog", "IgPackage", "PackageError", "load_catalog", "read_package"]
