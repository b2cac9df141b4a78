"""Reading IG packages and a profiles folder: what loads, what is left out, and the messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from fhir_server.conformance import PackageError, load_catalog, read_package
from fhir_server.conformance.catalog import version_key
from fhir_server.conformance.install import parse_spec
from tests.conformance_packages import make_package

VALUE_SET = {"resourceType": "ValueSet", "id": "colours", "url": "http://example.org/vs/colours", "status": "active"}


def test_a_package_yields_its_definitions_and_not_its_examples(tmp_path: Path) -> None:
    example = b'{"resourceType": "Patient", "id": "ex"}'
    path = make_package(tmp_path, "example.ig", "2.0.0", resources=[VALUE_SET],
                        extra={"package/example/Patient-ex.json": example, "package/Patient-p.json": example})
    package = read_package(path)
    assert (package.name, package.version, package.label) == ("example.ig", "2.0.0", "example.ig@2.0.0")
    assert package.of_type("ValueSet") == [VALUE_SET]
    assert package.of_type("Patient") == []  # neither the example folder nor a non-definition resource


def test_core_dependencies_are_not_dependencies_to_install(tmp_path: Path) -> None:
    path = make_package(tmp_path, "a.ig", dependencies={"hl7.fhir.r4.core": "4.0.1", "b.ig": "1.0.0"})
    assert read_package(path).dependencies == {"b.ig": "1.0.0"}


@pytest.mark.parametrize("kwargs, message", [
    ({"name": ""}, "no package/package.json (not a FHIR package)"),
    ({"manifest": b"{not json"}, "package/package.json is not JSON"),
    ({"manifest": b'{"version": "1.0.0", "fhirVersions": ["4.0.1"]}'}, "lacks a name or version"),
    ({"fhir": "5.0.0"}, "is for FHIR 5.0.0, not R4 (4.0.x)"),
    ({"fhir": None}, "is for FHIR an unstated version, not R4 (4.0.x)"),
    ({"extra": {"package/ValueSet-x.json": b"[1,"}}, "package/ValueSet-x.json is not JSON"),
])
def test_broken_packages_are_refused_with_the_reason(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    name = kwargs.pop("name", "broken.ig")
    path = make_package(tmp_path, str(name), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(PackageError) as caught:
        read_package(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(path.name)


def test_a_file_that_is_not_a_tarball_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.tgz"
    path.write_bytes(b"not a tarball")
    with pytest.raises(PackageError, match="junk.tgz: not a readable .tgz package"):
        read_package(path)


def test_the_catalog_leaves_out_broken_and_circular_packages_and_warns_of_missing_dependencies(tmp_path: Path) -> None:
    make_package(tmp_path, "good.ig", dependencies={"absent.ig": "3.0.0"})
    make_package(tmp_path, "loop.a", dependencies={"loop.b": "1.0.0"})
    make_package(tmp_path, "loop.b", dependencies={"loop.a": "1.0.0"})
    make_package(tmp_path, "bad.ig", fhir="3.0.2")
    catalog = load_catalog(tmp_path)
    assert [p.label for p in catalog.packages] == ["good.ig@1.0.0"]
    assert catalog.problems == [
        "bad.ig-1.0.0.tgz: bad.ig@1.0.0 is for FHIR 3.0.2, not R4 (4.0.x)",
        "loop.a: circular dependency between installed packages (loop.a, loop.b); left out",
        "loop.b: circular dependency between installed packages (loop.a, loop.b); left out",
    ]
    assert catalog.warnings == ["good.ig@1.0.0 depends on absent.ig@3.0.0, which is not installed: "
                                "definitions it refers to may be missing"]


def test_strict_loading_refuses_a_folder_with_a_problem(tmp_path: Path) -> None:
    make_package(tmp_path, "bad.ig", fhir="5.0.0")
    with pytest.raises(PackageError, match="is for FHIR 5.0.0"):
        load_catalog(tmp_path, strict=True)


def test_versions_of_one_package_are_ordered_oldest_first(tmp_path: Path) -> None:
    for version in ("7.0.0", "3.1.1", "6.1.0", "10.0.0"):
        make_package(tmp_path, "hl7.fhir.us.core", version)
    catalog = load_catalog(tmp_path)
    assert [p.version for p in catalog.packages] == ["3.1.1", "6.1.0", "7.0.0", "10.0.0"]
    assert catalog.find("hl7.fhir.us.core").version == "10.0.0"  # type: ignore[union-attr]
    assert catalog.find("hl7.fhir.us.core", "6.1.0").version == "6.1.0"  # type: ignore[union-attr]
    assert version_key("6.1.0") < version_key("6.10.0")


def test_a_missing_folder_is_an_empty_catalog(tmp_path: Path) -> None:
    catalog = load_catalog(tmp_path / "nowhere")
    assert (catalog.packages, catalog.problems, catalog.warnings) == ([], [], [])


@pytest.mark.parametrize("spec", ["hl7.terminology.r4", "Bad Name@1.0", "x@", "@1.0.0", "a@1.0;rm -rf /"])
def test_install_specs_are_name_at_version(spec: str) -> None:
    with pytest.raises(PackageError, match="neither a .tgz file nor NAME@VERSION"):
        parse_spec(spec)


def test_a_valid_install_spec_is_split() -> None:
    assert parse_spec("hl7.terminology.r4@7.0.1") == ("hl7.terminology.r4", "7.0.1")
