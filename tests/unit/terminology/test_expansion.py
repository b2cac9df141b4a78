"""The expansion engine over hand-made resources (no database): each compose filter, excludes,
nested imports intersected, the recursion guard, the size limit, text filter, activeOnly."""

from __future__ import annotations

import pytest

from fhir_server.terminology import CannotExpand, Expander, Membership, Sources, TerminologyError, TooCostly
from fhir_server.terminology.codesystem import CodeSystemView
from tests.terminology_fixtures import ANIMALS, CODE_SYSTEM, VALUE_SETS, VS, value_set


def _sources() -> Sources:
    sources = Sources()
    for resource in [CODE_SYSTEM, *VALUE_SETS]:
        sources.add(resource)
    return sources


def _codes(name: str, **kw: object) -> list[str]:
    return [c.code for c in Expander(_sources()).expand_url(VS + name, **kw)]  # type: ignore[arg-type]


@pytest.mark.parametrize("name, codes", [
    ("mammals", ["mammal", "dog", "cat"]),
    ("birds-below", ["eagle", "penguin"]),
    ("abc", ["animal", "cat", "bird"]),
    ("retired", ["penguin"]),
    ("dog-eagle", ["dog", "eagle"]),
    ("not-birds", ["animal", "mammal", "dog", "cat"]),
    ("nested", ["dog"]),  # mammals ∩ {dog, eagle}
    ("pets", ["dog", "cat"]),
])
def test_each_compose_rule(name: str, codes: list[str]) -> None:
    assert _codes(name) == codes


def test_text_filter_and_active_only() -> None:
    assert _codes("birds-below", text="PEN") == ["penguin"]
    assert _codes("birds-below", active_only=True) == ["eagle"]
    assert _codes("not-birds", text="a") == ["animal", "mammal", "cat"]  # "a" in Animal, Mammal, Cat


def test_enumerated_display_wins_and_known_display_fills_in() -> None:
    concepts = Expander(_sources()).expand_url(VS + "pets")
    assert [(c.code, c.display) for c in concepts] == [("dog", "Dog"), ("cat", "Kitty")]
    assert concepts[0].designations == ({"language": "de", "value": "Hund"},)
    assert concepts[0].display_in("de") == "Hund"


def test_import_cycle_is_named() -> None:
    sources = _sources()
    sources.add(value_set("a", {"include": [{"valueSet": [VS + "b"]}]}))
    sources.add(value_set("b", {"include": [{"valueSet": [VS + "a"]}]}))
    with pytest.raises(TerminologyError) as err:
        Expander(sources).expand_url(VS + "a")
    assert err.value.message == f"ValueSet {VS}a includes itself: {VS}a -> {VS}b -> {VS}a"


def test_too_costly_counts_what_must_be_computed() -> None:
    """not-birds includes all 7 codes before excluding 3: the work, not the answer, is limited."""
    with pytest.raises(TooCostly) as err:
        Expander(_sources(), limit=6).expand_url(VS + "not-birds")
    assert err.value.status == 422 and err.value.issues[0].code == "too-costly"
    assert len(Expander(_sources(), limit=7).expand_url(VS + "not-birds")) == 4


def test_unknown_system_and_unsupported_filter() -> None:
    sources = _sources()
    sources.add(value_set("nowhere", {"include": [{"system": "http://example.org/nowhere"}]}))
    sources.add(value_set("odd", {"include": [{"system": ANIMALS, "filter": [
        {"property": "concept", "op": "almost", "value": "dog"}]}]}))
    sources.add(value_set("bad-regex", {"include": [{"system": ANIMALS, "filter": [
        {"property": "code", "op": "regex", "value": "(("}]}]}))
    with pytest.raises(CannotExpand, match="CodeSystem http://example.org/nowhere .* is not known"):
        Expander(sources).expand_url(VS + "nowhere")
    with pytest.raises(CannotExpand, match="'concept almost dog' .* is not supported"):
        Expander(sources).expand_url(VS + "odd")
    with pytest.raises(CannotExpand, match="regex filter '\\(\\(' .* is not a valid expression"):
        Expander(sources).expand_url(VS + "bad-regex")


def test_membership_without_expanding() -> None:
    sources = _sources()
    membership = Membership(sources)
    assert membership.find(sources.value_sets[VS + "not-birds"], ANIMALS, "cat") is not None
    assert membership.find(sources.value_sets[VS + "not-birds"], ANIMALS, "eagle") is None
    assert membership.find(sources.value_sets[VS + "nested"], ANIMALS, "dog") is not None
    assert membership.find(sources.value_sets[VS + "nested"], ANIMALS, "eagle") is None


def test_hierarchy_of_the_view() -> None:
    view = CodeSystemView(CODE_SYSTEM)
    assert view.parents("dog") == ["mammal"] and view.children("bird") == ["eagle", "penguin"]
    assert view.subsumes("animal", "penguin") and not view.subsumes("mammal", "eagle")
    assert view.ancestors("dog") == {"mammal", "animal"}
    assert view.concept("penguin").inactive  # type: ignore[union-attr]


def test_legacy_expand_keeps_validation_semantics() -> None:
    from fhir_server.terminology import expand

    assert expand("http://hl7.org/fhir/ValueSet/administrative-gender") == frozenset(
        ("http://hl7.org/fhir/administrative-gender", c) for c in ("male", "female", "other", "unknown"))
    assert expand("http://example.org/not-a-value-set") is None


def test_subsumed_by_property_is_a_parent() -> None:
    """HL7 Terminology (THO) code systems give the hierarchy as ``subsumedBy`` properties, not nesting."""
    view = CodeSystemView({"url": "http://example.org/tho-like", "concept": [
        {"code": "_Group"}, {"code": "A", "property": [{"code": "subsumedBy", "valueCode": "_Group"}]},
        {"code": "B", "property": [{"code": "subsumedBy", "valueCode": "A"}]}]})
    assert view.children("_Group") == ["A"] and view.ancestors("B") == {"A", "_Group"}
    assert [c.code for c in view.filtered([{"property": "concept", "op": "is-a", "value": "_Group"}], None, 10)] == [
        "_Group", "A", "B"]
