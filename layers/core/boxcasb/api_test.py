"""Test API: each access the connector needs, checked against Box and reported with a fix hint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from boxcasb.clock import Clock, utc_now
from boxcasb.errors import (
    BoxAccessDenied,
    BoxCasbError,
    BoxRateLimited,
    BoxUnavailable,
    Conflict,
    ReconnectRequired,
)
from boxcasb.models import (
    ApiTestOutcome,
    ApiTestReport,
    BoxUser,
    CheckResult,
    CheckStatus,
    ConnectionStatus,
)
from boxcasb.observability import logger, metrics
from boxcasb.state_store import StateStore


class BoxProbe(Protocol):
    """The Box calls the test needs (BoxGateway implements it)."""

    def current_user(self) -> BoxUser: ...

    def read_admin_events(self, limit: int = 1) -> int: ...

    def list_managed_users(self, limit: int = 100) -> list[BoxUser]: ...

    def read_root_folder_as(self, user_id: str) -> int: ...


RECONNECT_HINT = "Run `boxcasb connect` and sign in with a Box admin account."
APP_SCOPES_HINT = (
    "In the Box Developer Console, open the app's Configuration and enable {scope}; "
    "then reconnect (`boxcasb connect`) so the new token carries it."
)


def run_checks(probe: BoxProbe) -> list[CheckResult]:
    """Every check, in order. A check that can't run because an earlier one failed is 'skipped'."""
    results: list[CheckResult] = []

    try:
        me = probe.current_user()
    except BoxCasbError as exc:
        results.append(_failure("token_valid", "Token valid", exc, RECONNECT_HINT))
        return results + [_skipped(name, title, "the token check failed") for name, title in _AFTER_TOKEN]
    results.append(
        CheckResult(
            name="token_valid",
            title="Token valid",
            status=CheckStatus.PASS,
            detail=f"Box accepted the token of {me.login} ({me.enterprise_name or 'no enterprise'}).",
        )
    )
    results.append(_role_check(me))
    results.append(
        _attempt(
            "enterprise_events",
            "Enterprise event log readable",
            lambda: f"Read the enterprise event log (admin_logs): {probe.read_admin_events(1)} event(s).",
            "Connect with an admin, or give the co-admin the 'Run new reports and access existing "
            "reports' permission; the app needs the 'Manage enterprise properties' scope.",
        )
    )
    users: list[BoxUser] = []

    def list_users() -> str:
        users.extend(probe.list_managed_users(100))
        return f"Listed {len(users)} managed users."

    results.append(
        _attempt(
            "users_listable",
            "Enterprise users listable",
            list_users,
            APP_SCOPES_HINT.format(scope="'Manage users'")
            + " A co-admin also needs the 'Manage users' permission.",
        )
    )
    results.append(_as_user_check(probe, me, users, results[-1].status is CheckStatus.PASS))
    return results


def outcome_of(checks: list[CheckResult]) -> ApiTestOutcome:
    statuses = {c.status for c in checks}
    if CheckStatus.FAIL in statuses:
        return ApiTestOutcome.FAILED
    if CheckStatus.WARN in statuses:
        return ApiTestOutcome.WARNING
    return ApiTestOutcome.PASSED


def _role_check(me: BoxUser) -> CheckResult:
    name, title = "admin_role", "Connected as a Box admin"
    if me.role == "admin":
        return CheckResult(name=name, title=title, status=CheckStatus.PASS, detail=f"{me.login} is an admin.")
    if me.role == "coadmin":
        return CheckResult(
            name=name,
            title=title,
            status=CheckStatus.WARN,
            detail=f"{me.login} is a co-admin: files owned by admins and other co-admins will not "
            "be scanned (Microsoft's Cloud App Security reports a co-admin connection as a failed API test).",
            fix_hint="To scan every file, reconnect with the primary admin or a full admin account.",
        )
    return CheckResult(
        name=name,
        title=title,
        status=CheckStatus.FAIL,
        detail=f"{me.login} has the role '{me.role or 'unknown'}': a plain user can't read the "
        "event log or other users' files.",
        fix_hint=RECONNECT_HINT,
    )


def _as_user_check(probe: BoxProbe, me: BoxUser, users: list[BoxUser], users_listed: bool) -> CheckResult:
    name, title = "as_user_access", "Act as another user (As-User)"
    if not users_listed:
        return _skipped(name, title, "no user list to pick a user from")
    others = [u for u in users if u.id != me.id and (u.status or "active") == "active"]
    # Prefer a plain user: a co-admin may only act for those, so it is the fair test of the app's rights.
    others.sort(key=lambda u: (u.role != "user", u.id))
    if not others:
        return CheckResult(
            name=name,
            title=title,
            status=CheckStatus.WARN,
            detail="The enterprise has no other active user to try As-User with.",
            fix_hint="Run the test again once the enterprise has another user.",
        )
    target = others[0]
    return _attempt(
        name,
        title,
        lambda: (
            f"Listed the root folder of {target.login} as that user "
            f"({probe.read_root_folder_as(target.id)} items)."
        ),
        "In the Box Developer Console enable Advanced Features > 'Make API calls using the "
        "as-user header' (Perform actions as users), have the admin re-authorize the app, and "
        "reconnect. A co-admin needs the 'Manage users' permission.",
    )


def _attempt(name: str, title: str, run: Callable[[], str], hint: str) -> CheckResult:
    try:
        detail = run()
    except BoxCasbError as exc:
        return _failure(name, title, exc, hint)
    return CheckResult(name=name, title=title, status=CheckStatus.PASS, detail=detail)


def _failure(name: str, title: str, exc: BoxCasbError, hint: str) -> CheckResult:
    if isinstance(exc, ReconnectRequired):
        hint = RECONNECT_HINT
    elif isinstance(exc, BoxRateLimited | BoxUnavailable):
        hint = "Box is busy or unreachable right now: run `boxcasb test` again in a few minutes."
    detail = f"{exc}." if not isinstance(exc, BoxAccessDenied) else f"Box refused: {exc}."
    return CheckResult(name=name, title=title, status=CheckStatus.FAIL, detail=detail, fix_hint=hint)


def _skipped(name: str, title: str, why: str) -> CheckResult:
    return CheckResult(name=name, title=title, status=CheckStatus.SKIPPED, detail=f"Not run: {why}.")


_AFTER_TOKEN = [
    ("admin_role", "Connected as a Box admin"),
    ("enterprise_events", "Enterprise event log readable"),
    ("users_listable", "Enterprise users listable"),
    ("as_user_access", "Act as another user (As-User)"),
]


class ApiTestService:
    def __init__(
        self,
        store: StateStore,
        probe_for: Callable[[str], tuple[BoxProbe, Callable[[], int]]],
        clock: Clock = utc_now,
        on_passed: Callable[[str], object] | None = None,
    ) -> None:
        self._store = store
        self._probe_for = probe_for
        self._clock = clock
        self._on_passed = on_passed  # the first scan starts once Box said yes to everything it needs

    def request(self, connection_id: str) -> ApiTestReport:
        """Record that a test was asked for (what the 202 answer shows until the run ends)."""
        connection = self._store.get_connection(connection_id)
        if connection.status.retired:
            raise Conflict(f"connection {connection_id} is {connection.status.value}")
        if connection.status is ConnectionStatus.PENDING:
            raise Conflict(
                f"connection {connection_id} is not connected to Box yet: finish `boxcasb connect`"
            )
        report = ApiTestReport(requested_at=self._clock(), outcome=ApiTestOutcome.RUNNING)
        self._store.update_connection(connection_id, lambda c: c.model_copy(update={"last_test": report}))
        return report

    def run(self, connection_id: str) -> ApiTestReport:
        connection = self._store.get_connection(connection_id)
        started = self._clock()
        requested = connection.last_test.requested_at if connection.last_test else started
        probe, box_calls = self._probe_for(connection_id)
        checks = run_checks(probe)
        report = ApiTestReport(
            requested_at=requested,
            started_at=started,
            finished_at=self._clock(),
            outcome=outcome_of(checks),
            checks=checks,
            box_calls=box_calls(),
        )
        # A revoked token has already marked the connection (TokenStore's on_revoked); only the report is new.
        self._store.update_connection(
            connection_id,
            lambda c: c.model_copy(update={"last_test": report, "updated_at": report.finished_at}),
        )
        logger.info(
            "api test finished",
            extra={"connection_id": connection_id, "outcome": report.outcome, "box_calls": report.box_calls},
        )
        metrics.add_metric(name="ApiTestsRun", unit="Count", value=1)
        if self._on_passed is not None and report.outcome in (ApiTestOutcome.PASSED, ApiTestOutcome.WARNING):
            self._on_passed(connection_id)
        return report
