"""The set in force: deployed folder plus a connection's overrides, and the version scans key on."""

from __future__ import annotations

import textwrap

import pytest

from boxcasb.policies.loader import InvalidPolicies, LoadedDocument, load_text
from boxcasb.policies.policy_set import PolicySet, merge

PUBLIC = """\
policies:
  - kind: file
    id: public-link
    name: Public link
    filters: {access: [public]}
"""
CARDS = """\
policies:
  - kind: file
    id: cards
    name: Cards shared
    severity: high
    filters:
      access: [public, external]
      content:
        detectors: {credit_card: 1, project_code: 2}
        patterns: {project_code: 'PRJ-[0-9]{6}'}
"""


def doc(text: str, source: str = "deployed.yaml") -> LoadedDocument:
    return load_text(textwrap.dedent(text), source)


def problems(*documents: LoadedDocument, overrides: tuple[LoadedDocument, ...] = ()) -> list[str]:
    with pytest.raises(InvalidPolicies) as caught:
        merge(documents, overrides)
    return [str(p) for p in caught.value.problems]


def test_a_deployed_set_has_a_stable_version_and_its_patterns() -> None:
    first = merge([doc(PUBLIC), doc(CARDS, "cards.yaml")])
    again = merge([doc(CARDS, "cards.yaml"), doc(PUBLIC)])
    assert first.version == again.version  # order of files and policies doesn't matter
    assert first.version.startswith("policies-")
    assert first.custom_patterns == {"project_code": "PRJ-[0-9]{6}"}
    assert first.needs_content
    assert first.sources == {"public-link": "deployed.yaml:2", "cards": "cards.yaml:2"}


def test_any_change_to_a_file_policy_changes_the_version() -> None:
    base = merge([doc(PUBLIC)]).version
    assert merge([doc(PUBLIC.replace("[public]", "[public, company]"))]).version != base
    assert merge([doc(PUBLIC.replace("Public link", "Public links"))]).version != base
    assert merge([doc(PUBLIC)], [doc("disable: [public-link]", "overrides")]).version != base


def test_an_override_replaces_by_id_adds_and_disables() -> None:
    override = doc(
        """\
        policies:
          - kind: file
            id: public-link
            name: Public link, enforced
            mode: enforce
            filters: {access: [public]}
            actions: [{type: remove_shared_link}]
        disable: [cards]
        """,
        "overrides",
    )
    policies = merge([doc(PUBLIC), doc(CARDS, "cards.yaml")], [override])
    by_id = {p.id: p for p in policies.file_policies}
    assert by_id["public-link"].name == "Public link, enforced"
    assert policies.sources["public-link"] == "overrides:2"
    assert not by_id["cards"].enabled
    assert [p.id for p in policies.enabled_file_policies] == ["public-link"]
    assert policies.custom_patterns == {}  # a disabled policy's patterns don't run


def test_ids_are_unique_across_deployed_files() -> None:
    assert problems(doc(PUBLIC), doc(PUBLIC, "other.yaml")) == [
        "other.yaml:2: id: policy id 'public-link' is already defined at deployed.yaml:2"
    ]


def test_only_overrides_disable_and_only_what_exists() -> None:
    assert problems(doc("disable: [public-link]")) == [
        "deployed.yaml: disable: only a connection's overrides can disable"
    ]
    assert problems(doc(PUBLIC), overrides=(doc("disable: [nope]", "overrides"),)) == [
        "overrides: disable: no policy 'nope' to disable"
    ]


def test_detectors_must_exist_and_a_pattern_name_means_one_pattern() -> None:
    unknown = CARDS.replace("credit_card: 1", "credit_cards: 1")
    (problem,) = problems(doc(unknown))
    assert problem.startswith(
        "deployed.yaml:2: filters.content.detectors: unknown detectors ['credit_cards']"
    )
    shadow = CARDS.replace("project_code", "email")
    (problem,) = problems(doc(shadow))
    assert "'email' is a built-in detector" in problem
    other = CARDS.replace("id: cards", "id: cards-2").replace("PRJ-[0-9]{6}", "PRJ-[0-9]{8}")
    (problem,) = problems(doc(CARDS), doc(other, "b.yaml"))
    assert problem == (
        "b.yaml:2: filters.content.patterns.project_code: 'project_code' is defined differently "
        "by policy 'cards'"
    )


def test_an_empty_set() -> None:
    empty = merge([])
    assert empty == PolicySet(())
    assert not empty.needs_content
    assert empty.version == merge([doc("policies: []")]).version
