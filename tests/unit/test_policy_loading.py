"""Policy YAML: what loads, and errors that name the file, the line and the field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from boxcasb.policies.loader import InvalidPolicies, load_directory, load_text
from boxcasb.policies.model import ActivityPolicy, FilePolicy, Mode, NarrowSharedLink

ROOT = Path(__file__).resolve().parents[2]


def _problems(text: str) -> list[str]:
    with pytest.raises(InvalidPolicies) as caught:
        load_text(textwrap.dedent(text), "team.yaml")
    return [str(p) for p in caught.value.problems]


def test_the_shipped_templates_load_alert_only() -> None:
    documents = load_directory(ROOT / "policies")
    policies = [p for d in documents for p in d.document.policies]
    files = [p for p in policies if isinstance(p, FilePolicy)]
    assert {p.id for p in files} == {
        "public-link",
        "sensitive-content-shared",
        "personal-mail-collaborator",
        "stale-public-link",
        "public-executable",
    }
    assert all(p.mode is Mode.ALERT for p in files)
    rules = {r.kind for p in policies if isinstance(p, ActivityPolicy) for r in p.activity.root}
    assert rules == {"threshold", "event", "new_country", "external_actor", "shield_alert"}


def test_a_policy_loads_with_its_line() -> None:
    loaded = load_text(
        textwrap.dedent(
            """\
            policies:
              - kind: file
                id: finance-links
                name: Finance links
                filters:
                  paths: ["/Finance/*"]
                  extensions: [.PDF, xlsx]
                mode: enforce
                actions:
                  - {type: narrow_shared_link, access: company}
            """
        ),
        "team.yaml",
    )
    (policy,) = loaded.document.policies
    assert loaded.lines == {"finance-links": 2}
    assert policy.filters.extensions == ["pdf", "xlsx"]
    assert policy.actions == [NarrowSharedLink(type="narrow_shared_link", access="company")]


def test_an_unknown_filter_names_its_line_and_path() -> None:
    problems = _problems(
        """\
        policies:
          - kind: file
            id: p1
            name: One
            filters:
              acess: [public]
        """
    )
    assert problems == ["team.yaml:6: policies[0].filters.acess: Extra inputs are not permitted"]


def test_a_bad_value_is_reported_where_it_is() -> None:
    problems = _problems(
        """\
        policies:
          - kind: file
            id: p1
            name: One
            filters:
              size:
                min_bytes: -5
        """
    )
    assert problems == [
        "team.yaml:7: policies[0].filters.size.min_bytes: Input should be greater than or equal to 0"
    ]


def test_a_missing_field_is_reported_on_its_parent() -> None:
    problems = _problems(
        """\
        policies:
          - kind: file
            id: p1
            filters: {access: [public]}
        """
    )
    assert problems == ["team.yaml:2: policies[0].name: Field required"]


def test_every_problem_of_a_document_is_reported() -> None:
    problems = _problems(
        """\
        policies:
          - kind: file
            id: Bad Id
            name: One
            filters: {access: [everyone]}
          - kind: file
            id: p2
            name: Two
            filters: {}
        """
    )
    assert len(problems) == 3
    assert problems[0].startswith("team.yaml:3: policies[0].id: String should match pattern")
    assert problems[1].startswith("team.yaml:5: policies[0].filters.access[0]: Input should be")
    assert problems[2] == (
        "team.yaml:6: policies[1]: Value error, a file policy needs at least one filter "
        "(it would match every file)"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("policies: [\n  {kind: file\n", "team.yaml:3: not valid YAML"),
        ("a: 1\na: 2\n", "team.yaml:2: duplicate key 'a'"),
        ("x: &big [1, 2]\ny: *big\n", "anchors and aliases are not allowed"),
        ("? [1, 2]\n: 3\n", "team.yaml:1: keys must be plain strings"),
        ("- just\n- a list\n", "team.yaml:1: Input should be a valid dictionary"),
    ],
)
def test_malformed_yaml_is_refused(body: str, message: str) -> None:
    (problem,) = _problems(body)
    assert message in problem


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ("{size: {min_bytes: 10, max_bytes: 5}}", "`min_bytes` is above `max_bytes`"),
        ("{created: {}}", "give at least one of"),
        ("{collaborator_domains: {}}", "give `allow`, `deny` or both"),
        ("{content: {detectors: {a: 1}, patterns: {b: 'x'}}}", "patterns ['b'] are defined but not listed"),
        ("{collaborator_domains: {deny: [not a domain]}}", "String should match pattern"),
    ],
)
def test_incoherent_filters_are_refused(filters: str, message: str) -> None:
    (problem,) = _problems(f"policies:\n  - {{kind: file, id: p1, name: One, filters: {filters}}}\n")
    assert message in problem


def test_enforce_needs_actions_and_quarantine_comes_last() -> None:
    (problem,) = _problems(
        "policies:\n  - {kind: file, id: p1, name: One, mode: enforce, filters: {access: [public]}}\n"
    )
    assert "`mode: enforce` needs at least one action" in problem
    (problem,) = _problems(
        "policies:\n  - {kind: file, id: p1, name: One, filters: {access: [public]},\n"
        "     actions: [{type: quarantine}, {type: remove_shared_link}]}\n"
    )
    assert "`quarantine` must be the last action" in problem


def test_a_huge_document_is_refused_before_parsing() -> None:
    (problem,) = _problems("x: " + "a" * (1024 * 1024))
    assert "larger than 1048576 bytes" in problem


def test_a_directory_reports_every_file_and_ignores_other_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("policies:\n  - {kind: file, id: p1, name: One}\n")
    (tmp_path / "b.yml").write_bytes(b"\xff\xfe")
    (tmp_path / "README.md").write_text("not a policy")
    with pytest.raises(InvalidPolicies) as caught:
        load_directory(tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path / 'a.yaml'}:2: policies[0].filters: Field required",
        f"{tmp_path / 'b.yml'}: not UTF-8 text",
    ]
