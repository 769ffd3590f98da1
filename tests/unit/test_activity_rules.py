"""Activity rules over the in-memory state: which events fire which rule, once, and only those."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from boxcasb.activity.model import ActivityEvent, webhook_activity
from boxcasb.activity_rules.catalog import CATEGORY_EVENTS, Category
from boxcasb.activity_rules.engine import ActivityEngine
from boxcasb.activity_rules.geo import CsvIpCountry, IpCountry, NoGeo
from boxcasb.activity_rules.matches import ActivityMatch, Subject
from boxcasb.activity_rules.model import (
    ActivityPolicy,
    ActivityRules,
    EventRule,
    ExternalActorRule,
    NewCountryRule,
    ShieldAlertRule,
    ThresholdRule,
)
from boxcasb.activity_rules.state import InMemoryActivityState
from boxcasb.severity import Severity

CONN = "c0ffee00-0000-4000-8000-000000000001"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a window start for windows up to 1 day
GEO_CSV = """\
1.0.0.0,1.255.255.255,AU
81.0.0.0,81.255.255.255,FR
85.0.0.0,85.255.255.255,DE
2a01::,2a01:ffff:ffff:ffff:ffff:ffff:ffff:ffff,FR
"""
FR_IP, FR_IP_2, DE_IP, AU_IP, FR_V6 = "81.1.2.3", "81.200.0.1", "85.3.3.3", "1.2.3.4", "2a01:4f8::1"


def box_event(
    event_type: str,
    at: datetime = T0,
    *,
    user_id: str | None = "11",
    login: str | None = "alice@acme.example",
    ip: str | None = "81.1.2.3",
    source: dict[str, Any] | None = None,
    event_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> ActivityEvent:
    entry: dict[str, Any] = {
        "type": "event",
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "created_at": at.isoformat(),
        "source": source
        if source is not None
        else {"item_type": "file", "item_id": "900", "item_name": "q.xlsx"},
    }
    if user_id is not None:
        entry["created_by"] = {"type": "user", "id": user_id, "name": "A", "login": login or ""}
    if ip is not None:
        entry["ip_address"] = ip
    if details is not None:
        entry["additional_details"] = details
    return ActivityEvent.from_box(entry)


def policy(rules: str, policy_id: str = "p1") -> ActivityPolicy:
    return ActivityPolicy(policy_id=policy_id, rules=ActivityRules.model_validate(yaml.safe_load(rules)))


def engine(
    rules: str,
    state: InMemoryActivityState | None = None,
    geo: IpCountry | None = None,
    domains: frozenset[str] = frozenset({"acme.example"}),
    now: datetime = T0,
) -> ActivityEngine:
    return ActivityEngine(
        [policy(rules)],
        state or InMemoryActivityState(),
        geo or CsvIpCountry.from_lines(GEO_CSV.splitlines()),
        lambda _connection: domains,
        clock=lambda: now,
    )


def run(eng: ActivityEngine, *events: ActivityEvent) -> list[ActivityMatch]:
    return [m for e in events for m in eng.evaluate(CONN, e)]


# --- configuration --------------------------------------------------------------------------


def test_a_policy_yaml_list_validates_into_typed_rules() -> None:
    rules = ActivityRules.model_validate(
        yaml.safe_load(
            """
            - {id: mass-download, kind: threshold, category: download, count: 200, window_minutes: 60,
               exclude_users: [" Svc@Acme.example "]}
            - {id: perms, kind: threshold, event_types: [SHARE, CUSTOM_TYPE], category: sharing,
               count: 20, window_minutes: 10}
            - {id: admin, kind: event, category: admin_and_persistence}
            - {id: geo, kind: new_country}
            - {id: outsiders, kind: external_actor, anonymous: false}
            - {id: shield, kind: shield_alert, min_risk_score: 50}
            """
        )
    )
    download, perms, admin, geo, outsiders, shield = rules.root
    assert isinstance(download, ThresholdRule)
    assert isinstance(perms, ThresholdRule)
    assert download.exclude_users == {"svc@acme.example"}
    assert download.watched == {"DOWNLOAD", "FILE_WATERMARKED_DOWNLOAD"}
    assert perms.watched == CATEGORY_EVENTS[Category.SHARING] | {"CUSTOM_TYPE"}
    assert isinstance(admin, EventRule)
    assert admin.severity is Severity.HIGH
    assert isinstance(geo, NewCountryRule)
    assert geo.watched == {"LOGIN"}
    assert geo.remember_days == 90
    assert isinstance(outsiders, ExternalActorRule)
    assert not outsiders.anonymous
    assert outsiders.external
    assert isinstance(shield, ShieldAlertRule)
    assert shield.severity is None


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("[{id: a, kind: threshold, count: 5, window_minutes: 5}]", "needs a category or event_types"),
        (
            "[{id: a, kind: threshold, category: download, count: 1, window_minutes: 5}]",
            "greater than or equal to 2",
        ),
        (
            "[{id: a, kind: threshold, category: download, count: 5, window_minutes: 0}]",
            "greater than or equal to 1",
        ),
        ("[{id: a, kind: threshold, category: nope, count: 5, window_minutes: 5}]", "category"),
        ("[{id: a, kind: event, event_types: [lower_case]}]", "event_types"),
        ("[{id: 'A#1', kind: event, category: admin_role}]", "id"),
        ("[{id: a, kind: event, category: admin_role, colour: red}]", "Extra inputs"),
        ("[{id: a, kind: external_actor, anonymous: false, external: false}]", "matches no one"),
        ("[{id: a, kind: mystery}]", "kind"),
        ("[{id: a, kind: event, category: admin_role}, {id: a, kind: shield_alert}]", "repeated: a"),
        ("[{id: a, kind: shield_alert, min_risk_score: 101}]", "less than or equal to 100"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(rules: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ActivityRules.model_validate(yaml.safe_load(rules))


def test_a_policy_id_that_could_break_state_keys_is_refused() -> None:
    with pytest.raises(ValidationError, match="policy_id"):
        ActivityPolicy(policy_id="p#1")


def test_categories_hold_only_event_types_box_documents() -> None:
    # Box's OpenAPI enum of enterprise event types (GET /events), spelled out for the ones we use.
    documented = {
        "DOWNLOAD", "FILE_WATERMARKED_DOWNLOAD", "DELETE", "SHARE", "ITEM_SHARED_UPDATE",
        "UPDATE_SHARE_EXPIRATION", "COLLABORATION_INVITE", "COLLABORATION_ROLE_CHANGE",
        "UPDATE_COLLABORATION_EXPIRATION", "CHANGE_FOLDER_PERMISSION", "FAILED_LOGIN", "LOGIN",
        "CHANGE_ADMIN_ROLE", "ENTERPRISE_APP_AUTHORIZATION_UPDATE", "APPLICATION_CREATED",
        "APPLICATION_PUBLIC_KEY_ADDED", "LEGAL_HOLD_ASSIGNMENT_DELETE", "LEGAL_HOLD_POLICY_DELETE",
        "DATA_RETENTION_REMOVE_RETENTION", "PREVIEW", "ITEM_OPEN", "UPLOAD", "EDIT", "ITEM_MODIFY",
        "COPY", "MOVE", "RENAME",
    }  # fmt: skip
    used = set().union(*CATEGORY_EVENTS.values())
    assert used <= documented
    assert "SHIELD_ALERT" not in CATEGORY_EVENTS[Category.CONTENT]  # Box logs it as the anonymous user


# --- thresholds -----------------------------------------------------------------------------

MASS_DOWNLOAD = "[{id: mass-download, kind: threshold, category: download, count: 3, window_minutes: 60}]"


def test_a_threshold_fires_once_when_the_count_is_reached_and_names_the_events() -> None:
    eng = engine(MASS_DOWNLOAD)
    events = [box_event("DOWNLOAD", T0 + timedelta(minutes=i)) for i in range(6)]
    fired = [(i, run(eng, e)) for i, e in enumerate(events)]
    assert [i for i, matches in fired if matches] == [2]
    (match,) = fired[2][1]
    assert match.rule_id == "mass-download"
    assert match.policy_id == "p1"
    assert match.rule_kind == "threshold"
    assert match.subject == Subject("user", "11", "alice@acme.example")
    assert match.event_ids == tuple(e.event_id for e in events[:3])
    assert (match.first_at, match.last_at) == (T0, T0 + timedelta(minutes=2))
    assert match.severity is Severity.MEDIUM
    assert match.summary.startswith("3 downloads by alice@acme.example within 60 min")
    assert match.match_id == f"{CONN}/p1/mass-download/11/{int(T0.timestamp()) // 3600}"


def test_a_threshold_fires_again_in_a_later_window_and_counts_users_apart() -> None:
    eng = engine(MASS_DOWNLOAD)
    first = [box_event("DOWNLOAD", T0 + timedelta(minutes=50 + i)) for i in range(3)]
    other_user = [box_event("DOWNLOAD", T0 + timedelta(minutes=i), user_id="12") for i in range(2)]
    later = [box_event("DOWNLOAD", T0 + timedelta(minutes=61 + i)) for i in range(3)]
    matches = run(eng, *first, *other_user, *later)
    assert [m.event_ids for m in matches] == [
        tuple(e.event_id for e in first),
        tuple(e.event_id for e in later),
    ]
    assert matches[0].match_id != matches[1].match_id


def test_fixed_windows_split_a_burst_across_their_boundary() -> None:
    """The documented price of fixed windows: 2 + 2 events either side of a boundary never reach 3."""
    eng = engine(MASS_DOWNLOAD)
    burst = [box_event("DOWNLOAD", T0 + timedelta(minutes=m)) for m in (58, 59, 61, 62)]
    assert run(eng, *burst) == []


def test_redelivered_events_are_not_counted_twice() -> None:
    eng = engine(MASS_DOWNLOAD)
    a, b, c = (box_event("DOWNLOAD", T0 + timedelta(minutes=i)) for i in range(3))
    assert run(eng, a, b, a, b, a) == []  # five deliveries, two events
    (match,) = run(eng, c)
    assert match.event_ids == (a.event_id, b.event_id, c.event_id)


def test_redelivery_of_the_deciding_event_repeats_the_same_decision_and_no_other_does() -> None:
    eng = engine(MASS_DOWNLOAD)
    events = [box_event("DOWNLOAD", T0 + timedelta(minutes=i)) for i in range(4)]
    (match,) = run(eng, *events[:3])
    assert run(eng, events[2]) == [match]  # the alert a crash may have lost comes back, same id
    assert run(eng, events[0], events[1], events[3]) == []


def test_a_threshold_ignores_other_types_excluded_users_webhooks_and_userless_events() -> None:
    rules = (
        "[{id: dl, kind: threshold, category: download, count: 2, window_minutes: 60,"
        " exclude_users: ['13', 'SVC@acme.example']}]"
    )
    eng = engine(rules)
    # A webhook delivery duplicates an enterprise event under another id; its type is made to
    # look like one here, so only the webhook id can be what keeps it out.
    hook = webhook_activity(
        {"id": "d1", "trigger": "DOWNLOAD", "created_at": T0.isoformat(), "created_by": {"id": "11"}},
        T0,
    )
    ignored = [
        box_event("PREVIEW"),
        box_event("UPLOAD"),
        box_event("DOWNLOAD", user_id="13"),
        box_event("DOWNLOAD", user_id="14", login="svc@ACME.example"),
        box_event("DOWNLOAD", user_id=None),
        hook,
        hook,
    ]
    assert run(eng, *ignored, box_event("DOWNLOAD")) == []  # only alice's one download counted
    assert len(run(eng, box_event("DOWNLOAD"))) == 1


@pytest.mark.parametrize(
    ("category", "event_type"),
    [
        ("delete", "DELETE"),
        ("sharing", "COLLABORATION_INVITE"),
        ("sharing", "CHANGE_FOLDER_PERMISSION"),
        ("sharing", "ITEM_SHARED_UPDATE"),
        ("failed_login", "FAILED_LOGIN"),
        ("download", "FILE_WATERMARKED_DOWNLOAD"),
    ],
)
def test_each_threshold_category_counts_its_events(category: str, event_type: str) -> None:
    eng = engine(f"[{{id: t, kind: threshold, category: {category}, count: 2, window_minutes: 5}}]")
    assert run(eng, box_event("PREVIEW"), box_event(event_type)) == []
    (match,) = run(eng, box_event(event_type, T0 + timedelta(minutes=1)))
    assert match.rule_id == "t"


def test_a_mixed_category_counts_different_types_together() -> None:
    eng = engine("[{id: perms, kind: threshold, category: sharing, count: 3, window_minutes: 10}]")
    matches = run(eng, box_event("SHARE"), box_event("COLLABORATION_INVITE"), box_event("ITEM_SHARED_UPDATE"))
    assert len(matches) == 1
    assert matches[0].summary.startswith("3 sharing or permission changes by")


def test_threads_racing_on_one_window_fire_once() -> None:
    state = InMemoryActivityState()
    eng = engine("[{id: t, kind: threshold, category: download, count: 50, window_minutes: 60}]", state)
    events = [box_event("DOWNLOAD", T0 + timedelta(seconds=i)) for i in range(200)]
    start = threading.Barrier(8)

    def worker(part: list[ActivityEvent]) -> list[ActivityMatch]:
        start.wait()
        return run(eng, *part, *part)  # every event twice

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, [events[i::8] for i in range(8)]))
    matches = [m for r in results for m in r]
    # One decision; its deciding event was delivered twice, so it was reported twice, identically.
    assert len(matches) == 2
    assert matches[0] == matches[1]
    assert len(set(matches[0].event_ids)) == 50


# --- per-event admin and persistence changes -----------------------------------------------

ADMIN = "[{id: admin, kind: event, category: admin_and_persistence}]"


@pytest.mark.parametrize(
    "event_type",
    [
        "CHANGE_ADMIN_ROLE",
        "ENTERPRISE_APP_AUTHORIZATION_UPDATE",
        "APPLICATION_CREATED",
        "APPLICATION_PUBLIC_KEY_ADDED",
        "LEGAL_HOLD_ASSIGNMENT_DELETE",
        "LEGAL_HOLD_POLICY_DELETE",
        "DATA_RETENTION_REMOVE_RETENTION",
    ],
)
def test_every_admin_or_persistence_change_fires(event_type: str) -> None:
    eng = engine(ADMIN)
    event = box_event(event_type)
    (match,) = run(eng, event)
    assert match.event_ids == (event.event_id,)
    assert match.severity is Severity.HIGH
    assert match.details["event_type"] == event_type
    assert match.match_id == f"{CONN}/p1/admin/{event.event_id}"


@pytest.mark.parametrize(
    "event_type", ["LEGAL_HOLD_POLICY_CREATE", "RETENTION_POLICY_ASSIGNMENT_ADD", "LOGIN", "EDIT_USER"]
)
def test_other_admin_events_do_not_fire(event_type: str) -> None:
    assert run(engine(ADMIN), box_event(event_type)) == []


def test_an_admin_role_change_names_the_admin_and_the_user_changed() -> None:
    eng = engine("[{id: roles, kind: event, category: admin_role}]")
    event = box_event(
        "CHANGE_ADMIN_ROLE",
        login="admin@acme.example",
        source={"type": "user", "id": "44", "name": "Bob", "login": "bob@acme.example"},
    )
    (match,) = run(eng, event)
    assert match.summary == "admin role changed by admin@acme.example (target: bob@acme.example)"
    assert match.subject == Subject("user", "11", "admin@acme.example")
    assert match.details["target"] == "bob@acme.example"
    assert run(eng, event) == [match]  # a redelivery repeats the identical match (same id)
    assert run(eng, box_event("APPLICATION_CREATED")) == []  # not in this category


# --- new country ----------------------------------------------------------------------------

NEW_COUNTRY = "[{id: geo, kind: new_country}]"


def login(ip: str, minutes: int = 0, user_id: str = "11") -> ActivityEvent:
    return box_event(
        "LOGIN", T0 + timedelta(minutes=minutes), ip=ip, user_id=user_id, source={"type": "user"}
    )


def test_first_login_records_same_country_is_silent_another_country_fires() -> None:
    eng = engine(NEW_COUNTRY)
    assert run(eng, login(FR_IP, 0)) == []  # first login seen: records FR
    assert run(eng, login(FR_IP_2, 1), login(FR_V6, 2)) == []  # FR again, v4 and v6
    de = login(DE_IP, 3)
    (match,) = run(eng, de)
    assert match.rule_kind == "new_country"
    assert match.event_ids == (de.event_id,)
    assert match.details == {"country": "DE", "known_countries": "FR", "ip_address": DE_IP}
    assert "from DE" in match.summary
    assert run(eng, login(DE_IP, 4)) == []  # DE is known now
    (au,) = run(eng, login(AU_IP, 5))
    assert au.details["known_countries"] == "DE, FR"


def test_countries_are_per_user_and_redelivery_repeats_only_the_same_decision() -> None:
    eng = engine(NEW_COUNTRY)
    first, de = login(FR_IP, 0), login(DE_IP, 1)
    assert run(eng, first, login(DE_IP, 0, user_id="12")) == []  # each user's first login
    (match,) = run(eng, de)
    assert run(eng, de) == [match]  # same event again: same match id (the alert store dedupes)
    assert run(eng, first) == []  # the first login again records nothing new
    assert run(eng, login(DE_IP, 2)) == []


def test_private_and_unplaced_addresses_and_other_events_are_ignored() -> None:
    eng = engine(NEW_COUNTRY)
    assert run(eng, login(FR_IP)) == []
    for ip in ("10.0.0.8", "192.168.1.1", "127.0.0.1", "100.64.0.1", "fd00::1", "::1", "9.9.9.9", "nonsense"):
        assert run(eng, login(ip)) == [], ip
    assert run(eng, box_event("PREVIEW", ip=DE_IP), box_event("FAILED_LOGIN", ip=DE_IP)) == []
    assert run(eng, box_event("LOGIN", ip=None)) == []


def test_without_a_geo_database_the_rule_is_inactive_and_says_so() -> None:
    eng = engine(NEW_COUNTRY, geo=NoGeo())
    assert [(r.rule_id, r.reason) for r in eng.inactive()] == [
        ("geo", "no IP-to-country database is configured")
    ]
    assert run(eng, login(FR_IP), login(DE_IP)) == []
    assert engine(NEW_COUNTRY).inactive() == ()


def test_excluded_users_record_nothing() -> None:
    state = InMemoryActivityState()
    eng = engine("[{id: geo, kind: new_country, exclude_users: ['11']}]", state)
    assert run(eng, login(FR_IP), login(DE_IP)) == []
    assert run(engine(NEW_COUNTRY, state), login(DE_IP, user_id="12"), login(FR_IP, user_id="12")) != []


# --- anonymous and external actors -----------------------------------------------------------

OUTSIDERS = "[{id: outsiders, kind: external_actor}]"


def test_anonymous_actors_fire_with_the_item_as_subject() -> None:
    eng = engine(OUTSIDERS)
    for event in (
        box_event("DOWNLOAD", user_id="2", login=""),
        box_event("PREVIEW", user_id=None),
    ):
        (match,) = run(eng, event)
        assert match.subject == Subject("file", "900", "q.xlsx")
        assert match.details["actor"] == "anonymous"
        assert match.summary.startswith("Anonymous ")


def test_external_logins_fire_internal_ones_do_not() -> None:
    eng = engine(OUTSIDERS, domains=frozenset({"acme.example", "acme-labs.example"}))
    (match,) = run(eng, box_event("UPLOAD", user_id="77", login="eve@Partner.example"))
    assert match.subject == Subject("user", "77", "eve@Partner.example")
    assert match.details == {"actor": "external", "domain": "partner.example", "event_type": "UPLOAD"}
    internal = [
        box_event("UPLOAD", login="bob@acme.example"),
        box_event("UPLOAD", login="bob@ACME-LABS.example"),
    ]
    assert run(eng, *internal) == []


def test_outsider_rule_watches_only_its_types_and_honours_its_switches() -> None:
    eng = engine(OUTSIDERS)
    shield = box_event("SHIELD_ALERT", user_id="2", login="", source={})
    assert run(eng, shield, box_event("LOGIN", login="eve@partner.example")) == []
    only_external = engine("[{id: o, kind: external_actor, anonymous: false}]")
    assert run(only_external, box_event("DOWNLOAD", user_id="2", login="")) == []
    only_anonymous = engine("[{id: o, kind: external_actor, external: false}]")
    assert run(only_anonymous, box_event("DOWNLOAD", login="eve@partner.example")) == []


def test_without_internal_domains_no_login_is_external() -> None:
    eng = engine(OUTSIDERS, domains=frozenset())
    assert run(eng, box_event("DOWNLOAD", login="eve@partner.example")) == []
    assert len(run(eng, box_event("DOWNLOAD", user_id="2", login=""))) == 1


# --- Box Shield -------------------------------------------------------------------------------

SHIELD_DETAILS = {
    "shield_alert": {
        "rule_category": "Anomalous Download",
        "rule_id": 123,
        "rule_name": "Anomalous Download Rule",
        "risk_score": 77,
        "alert_summary": {"description": "Significant increase in download content week over week"},
        "alert_id": 444,
        "priority": "high",
        "user": {"id": 567, "name": "Some user", "email": "some@acme.example"},
        "link": "https://cloud.app.box.com/master/shield/alerts/444",
        "created_at": "2019-12-20T11:38:16-08:00",
    }
}


def shield_event(details: dict[str, Any] = SHIELD_DETAILS) -> ActivityEvent:
    # As Box's guide shows it: created by the anonymous user, no source.
    return box_event("SHIELD_ALERT", user_id="2", login="", source={}, ip="10.1.2.3", details=details)


def test_shield_alerts_pass_through_with_rule_priority_and_risk_score() -> None:
    event = shield_event()
    (match,) = run(engine("[{id: shield, kind: shield_alert}]"), event)
    assert match.details == {
        "rule_name": "Anomalous Download Rule",
        "rule_category": "Anomalous Download",
        "shield_rule_id": "123",
        "priority": "high",
        "risk_score": "77",
        "alert_id": "444",
        "link": "https://cloud.app.box.com/master/shield/alerts/444",
    }
    assert match.severity is Severity.HIGH  # from Box's priority
    assert match.subject == Subject("user", "567", "some@acme.example")
    assert match.event_ids == (event.event_id,)
    assert match.summary == (
        "Box Shield alert 'Anomalous Download Rule' for some@acme.example: "
        "Anomalous Download, priority high, risk score 77"
    )


def test_shield_severity_override_risk_floor_and_sparse_alerts() -> None:
    assert run(engine("[{id: s, kind: shield_alert, min_risk_score: 80}]"), shield_event()) == []
    (fixed,) = run(engine("[{id: s, kind: shield_alert, severity: critical}]"), shield_event())
    assert fixed.severity is Severity.CRITICAL
    (sparse,) = run(
        engine("[{id: s, kind: shield_alert}]"), shield_event({"shield_alert": {"priority": "odd"}})
    )
    assert sparse.severity is Severity.MEDIUM
    assert sparse.details == {"priority": "odd"}
    assert run(engine("[{id: s, kind: shield_alert}]"), box_event("DOWNLOAD")) == []


# --- several policies, one event ------------------------------------------------------------


def test_rules_of_several_policies_keep_separate_state_and_all_report() -> None:
    state = InMemoryActivityState()
    rules = "[{id: t, kind: threshold, category: download, count: 2, window_minutes: 5}]"
    eng = ActivityEngine(
        [policy(rules, "strict"), policy(rules, "other")],
        state,
        NoGeo(),
        lambda _c: frozenset({"acme.example"}),
        clock=lambda: T0,
    )
    matches = run(eng, box_event("DOWNLOAD"), box_event("DOWNLOAD"))
    assert sorted(m.policy_id for m in matches) == ["other", "strict"]


def test_match_text_is_clipped_and_details_cannot_be_changed() -> None:
    eng = engine("[{id: roles, kind: event, category: admin_role}]")
    event = box_event("CHANGE_ADMIN_ROLE", source={"type": "user", "login": "x" * 1000})
    (match,) = run(eng, event)
    assert len(match.summary) == 300
    assert match.summary.endswith("…")
    with pytest.raises(TypeError):
        match.details["target"] = "changed"  # type: ignore[index]
