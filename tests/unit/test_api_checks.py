"""Test API checks over an in-memory Box probe: every role and failure mode ends in the right report."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from boxcasb.api_test import outcome_of, run_checks
from boxcasb.errors import BoxAccessDenied, BoxCasbError, BoxRateLimited, ReconnectRequired
from boxcasb.models import ApiTestOutcome, BoxUser, CheckStatus

ADMIN = BoxUser(id="1", login="admin@acme.example", role="admin", enterprise_name="Acme")
COADMIN = BoxUser(id="2", login="coadmin@acme.example", role="coadmin", enterprise_name="Acme")
PLAIN = BoxUser(id="3", login="alice@acme.example", role="user", status="active")
OTHER_ADMIN = BoxUser(id="4", login="root@acme.example", role="admin", status="active")
INACTIVE = BoxUser(id="5", login="dave@acme.example", role="user", status="inactive")


@dataclass
class FakeProbe:
    me: BoxUser | BoxCasbError
    users: list[BoxUser] | BoxCasbError = field(default_factory=lambda: [ADMIN, PLAIN])
    events: BoxCasbError | None = None
    as_user: BoxCasbError | None = None
    as_user_calls: list[str] = field(default_factory=list)

    def current_user(self) -> BoxUser:
        if isinstance(self.me, BoxCasbError):
            raise self.me
        return self.me

    def read_admin_events(self, limit: int = 1) -> int:
        if self.events:
            raise self.events
        return 1

    def list_managed_users(self, limit: int = 100) -> list[BoxUser]:
        if isinstance(self.users, BoxCasbError):
            raise self.users
        return self.users

    def read_root_folder_as(self, user_id: str) -> int:
        self.as_user_calls.append(user_id)
        if self.as_user:
            raise self.as_user
        return 3


def statuses(probe: FakeProbe) -> dict[str, CheckStatus]:
    return {c.name: c.status for c in run_checks(probe)}


def test_admin_passes_every_check_and_acts_as_a_plain_user() -> None:
    probe = FakeProbe(me=ADMIN, users=[OTHER_ADMIN, ADMIN, PLAIN])
    checks = run_checks(probe)
    assert [c.name for c in checks] == [
        "token_valid",
        "admin_role",
        "enterprise_events",
        "users_listable",
        "as_user_access",
    ]
    assert {c.status for c in checks} == {CheckStatus.PASS}
    assert outcome_of(checks) is ApiTestOutcome.PASSED
    assert probe.as_user_calls == ["3"]  # the plain user, never the admin itself


def test_coadmin_warns_about_admin_owned_files() -> None:
    checks = run_checks(FakeProbe(me=COADMIN, users=[ADMIN, COADMIN, PLAIN]))
    role = next(c for c in checks if c.name == "admin_role")
    assert role.status is CheckStatus.WARN
    assert "admins and other co-admins will not be scanned" in role.detail
    assert "failed API test" in role.detail
    assert outcome_of(checks) is ApiTestOutcome.WARNING


def test_plain_user_fails_role_events_and_users() -> None:
    forbidden = BoxAccessDenied("Box answered 403 (access_denied_insufficient_permissions)")
    result = statuses(FakeProbe(me=PLAIN, users=forbidden, events=forbidden))
    assert result == {
        "token_valid": CheckStatus.PASS,
        "admin_role": CheckStatus.FAIL,
        "enterprise_events": CheckStatus.FAIL,
        "users_listable": CheckStatus.FAIL,
        "as_user_access": CheckStatus.SKIPPED,
    }


def test_revoked_token_fails_first_check_and_skips_the_rest() -> None:
    checks = run_checks(FakeProbe(me=ReconnectRequired("Box answered 401")))
    assert [c.status for c in checks] == [CheckStatus.FAIL] + [CheckStatus.SKIPPED] * 4
    assert "boxcasb connect" in (checks[0].fix_hint or "")
    assert outcome_of(checks) is ApiTestOutcome.FAILED


def test_as_user_denied_gives_the_app_setting_to_fix() -> None:
    checks = run_checks(FakeProbe(me=ADMIN, as_user=BoxAccessDenied("Box answered 403")))
    as_user = checks[-1]
    assert as_user.status is CheckStatus.FAIL
    assert "as-user" in (as_user.fix_hint or "").lower()


def test_no_other_active_user_is_a_warning_not_a_failure() -> None:
    checks = run_checks(FakeProbe(me=ADMIN, users=[ADMIN, INACTIVE]))
    assert checks[-1].status is CheckStatus.WARN


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        (BoxRateLimited("429", 30), "again in a few minutes"),
        (ReconnectRequired("401"), "boxcasb connect"),
    ],
)
def test_transient_and_auth_errors_get_their_own_hint(error: BoxCasbError, hint: str) -> None:
    checks = run_checks(FakeProbe(me=ADMIN, events=error))
    events = next(c for c in checks if c.name == "enterprise_events")
    assert events.status is CheckStatus.FAIL
    assert hint in (events.fix_hint or "")
