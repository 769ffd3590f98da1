"""Admin API (IAM-signed): connections (connect, disconnect), activity, webhooks, scans, files, policies."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from boxcasb.activity.store import ActivityQuery
from boxcasb.alerts.model import ALERT_ID_PATTERN, POLICY_ID_PATTERN, AlertQuery, AlertStatus
from boxcasb.connect import redirect_uri_for
from boxcasb.errors import Conflict, InvalidRequest, NotFound
from boxcasb.http_edge import register_error_handlers
from boxcasb.jobs import RestoreRequest
from boxcasb.models import Connection, ConnectionStatus
from boxcasb.observability import logger, metrics
from boxcasb.policies.loader import MAX_DOCUMENT_BYTES
from boxcasb.policies.policy_set import PolicySet, policy_summary
from boxcasb.policies.source import StoredOverrides
from boxcasb.scan.inventory import InventoryQuery
from boxcasb.scan.model import Exposure
from boxcasb.severity import Severity
from boxcasb.wiring import services

app = APIGatewayHttpResolver()
register_error_handlers(app)

CONNECTION_ID = r"^[0-9a-f-]{36}$"


class CreateConnectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Set to re-authorize an existing connection (for example after "reconnect_required").
    reconnect: str | None = Field(default=None, pattern=CONNECTION_ID)


def _json_body() -> dict[str, Any]:
    raw = app.current_event.decoded_body
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        raise InvalidRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


def _json(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@app.post("/connections")
def create_connection() -> Response[str]:
    request = CreateConnectionRequest.model_validate(_json_body())
    svc = services()
    redirect_uri = redirect_uri_for(svc.settings, app.current_event.request_context.domain_name)
    start = svc.connect().start(redirect_uri, request.reconnect)
    logger.info("connection started", extra={"connection_id": start.connection_id})
    return _json(
        201,
        {
            "connection_id": start.connection_id,
            "authorize_url": start.authorize_url,
            "expires_at": start.expires_at,
        },
    )


@app.get("/connections")
def list_connections() -> Response[str]:
    connections = services().store.list_connections()
    return _json(200, {"connections": [c.model_dump(mode="json") for c in connections]})


@app.get("/connections/<connection_id>")
def get_connection(connection_id: str) -> Response[str]:
    store = services().store
    body = store.get_connection(_checked(connection_id)).model_dump(mode="json")
    body["activity"] = store.activity_progress(connection_id).model_dump(mode="json")
    latest = services().scans().progress(connection_id, limit=1)
    body["scan"] = latest[0].model_dump(mode="json") if latest else None
    return _json(200, body)


class ActivitiesRequest(BaseModel):
    """Query string of GET /connections/{id}/activities; times are ISO 8601 with a zone."""

    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    user: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    file: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    event_type: str | None = Field(default=None, pattern=r"^[A-Z0-9_.]{1,64}$")
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=2048)


@app.delete("/connections/<connection_id>")
def disconnect(connection_id: str) -> Response[str]:
    """Disconnect (202): the Disconnect function deletes the webhooks in Box, revokes the tokens
    and deletes the data; `GET /connections/{id}` shows it `disconnected`, with what went.
    Asking again resumes an unfinished disconnect; a finished one is left as it is."""
    svc = services()
    connection = svc.disconnects().request(_checked(connection_id), _caller())
    if connection.status is not ConnectionStatus.DISCONNECTED:
        svc.invoker.start_disconnect(connection_id)
    return _json(202, {"connection_id": connection_id, "connection": connection.model_dump(mode="json")})


@app.get("/connections/<connection_id>/activities")
def list_activities(connection_id: str) -> Response[str]:
    svc = services()
    svc.store.get_connection(_checked(connection_id))  # 404 for an unknown connection
    request = ActivitiesRequest.model_validate(app.current_event.query_string_parameters or {})
    until = request.until or datetime.now(UTC)
    since = request.since or until - timedelta(days=7)
    page = svc.activity_store.query(
        connection_id,
        ActivityQuery(
            since=since,
            until=until,
            user_id=request.user,
            file_id=request.file,
            event_type=request.event_type,
            limit=request.limit,
            cursor=request.cursor,
        ),
    )
    return _json(
        200,
        {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "events": page.events,
            "cursor": page.cursor,
        },
    )


@app.post("/connections/<connection_id>/test")
def test_connection(connection_id: str) -> Response[str]:
    svc = services()
    report = svc.api_tests().request(_checked(connection_id))
    svc.invoker.start_api_test(connection_id, "on_demand")
    return _json(202, {"connection_id": connection_id, "test": report.model_dump(mode="json")})


@app.get("/connections/<connection_id>/webhooks")
def list_webhooks(connection_id: str) -> Response[str]:
    store = services().store
    store.get_connection(_checked(connection_id))
    sync = store.get_webhook_sync(connection_id)
    return _json(
        200,
        {
            "connection_id": connection_id,
            "sync": sync.model_dump(mode="json") if sync else None,
            "webhooks": [w.model_dump(mode="json") for w in store.list_webhooks(connection_id)],
        },
    )


@app.post("/connections/<connection_id>/webhooks/sync")
def sync_webhooks(connection_id: str) -> Response[str]:
    svc = services()
    report = svc.webhook_sync().request(_checked(connection_id))
    svc.invoker.start_webhook_sync(connection_id)
    return _json(202, {"connection_id": connection_id, "sync": report.model_dump(mode="json")})


@app.post("/connections/<connection_id>/scans")
def start_scan(connection_id: str) -> Response[str]:
    generation = services().scans().start(_checked(connection_id), "on_demand")
    return _json(202, {"connection_id": connection_id, "scan": generation.model_dump(mode="json")})


class ScansRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=10, ge=1, le=100)


@app.get("/connections/<connection_id>/scans")
def list_scans(connection_id: str) -> Response[str]:
    svc = services()
    svc.store.get_connection(_checked(connection_id))
    request = ScansRequest.model_validate(app.current_event.query_string_parameters or {})
    scans = svc.scans().progress(connection_id, limit=request.limit)
    return _json(200, {"connection_id": connection_id, "scans": [g.model_dump(mode="json") for g in scans]})


class FilesRequest(BaseModel):
    """Query string of GET /connections/{id}/files: at least one of exposure, owner, folder."""

    model_config = ConfigDict(extra="forbid")

    exposure: Exposure | None = None
    owner: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    folder: str | None = Field(default=None, pattern=r"^(0@)?[0-9]{1,20}$")
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = Field(default=None, max_length=2048)


@app.get("/connections/<connection_id>/files")
def list_files(connection_id: str) -> Response[str]:
    svc = services()
    svc.store.get_connection(_checked(connection_id))
    request = FilesRequest.model_validate(app.current_event.query_string_parameters or {})
    page = svc.inventory.query(
        connection_id,
        InventoryQuery(
            exposure=request.exposure,
            owner_id=request.owner,
            folder_id=request.folder,
            limit=request.limit,
            cursor=request.cursor,
        ),
    )
    return _json(
        200,
        {
            "connection_id": connection_id,
            "files": [f.model_dump(mode="json") for f in page.files],
            "cursor": page.cursor,
        },
    )


class ApplyPoliciesRequest(BaseModel):
    """Body of PUT /connections/{id}/policies: the connection's whole overrides document."""

    model_config = ConfigDict(extra="forbid")

    yaml: str = Field(max_length=MAX_DOCUMENT_BYTES)  # "" removes the overrides
    dry_run: bool = False


def _policies_body(connection_id: str, policies: PolicySet) -> dict[str, Any]:
    return {
        "connection_id": connection_id,
        "version": policies.version,
        "policies": [
            {**policy_summary(p), "source": policies.sources.get(p.id, "")} for p in policies.all_policies
        ],
    }


@app.get("/connections/<connection_id>/policies")
def list_policies(connection_id: str) -> Response[str]:
    svc = services()
    svc.store.get_connection(_checked(connection_id))
    body = _policies_body(connection_id, svc.policies.for_connection(connection_id))
    stored = svc.policy_overrides.get(connection_id)
    body["overrides"] = stored.model_dump(mode="json") if stored else None
    return _json(200, body)


@app.put("/connections/<connection_id>/policies")
def apply_policies(connection_id: str) -> Response[str]:
    svc = services()
    _live(svc.store.get_connection(_checked(connection_id)))
    request = ApplyPoliciesRequest.model_validate(_json_body())
    policies = svc.policies.with_overrides(request.yaml or None)  # 400 naming lines if it can't
    if not request.dry_run:
        if request.yaml:
            who = _caller()
            overrides = StoredOverrides(text=request.yaml, updated_at=datetime.now(UTC), updated_by=who)
            svc.policy_overrides.put(connection_id, overrides)
        else:
            svc.policy_overrides.delete(connection_id)
        svc.policies.forget(connection_id)
        logger.info("policy overrides applied", extra={"version": policies.version})
    return _json(200, {**_policies_body(connection_id, policies), "applied": not request.dry_run})


class ActionsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=1000)


@app.get("/connections/<connection_id>/actions")
def list_actions(connection_id: str) -> Response[str]:
    """The governance audit: every action taken or dry-run on this connection's files, newest first."""
    svc = services()
    svc.store.get_connection(_checked(connection_id))
    request = ActionsRequest.model_validate(app.current_event.query_string_parameters or {})
    records = svc.audit_log.recent(connection_id, request.limit)
    return _json(
        200, {"connection_id": connection_id, "actions": [r.model_dump(mode="json") for r in records]}
    )


@app.post("/connections/<connection_id>/files/<file_id>/restore")
def restore_file(connection_id: str, file_id: str) -> Response[str]:
    """Puts a quarantined file back where it was (202: the Governance function does it; the
    outcome is in GET /connections/{id}/actions). The file's quarantine alerts are dismissed."""
    svc = services()
    _live(svc.store.get_connection(_checked(connection_id)))
    if not re.match(r"^[0-9]{1,20}$", file_id):
        raise InvalidRequest("file ids are Box ids (digits)")
    if svc.audit_log.last_quarantine(connection_id, file_id) is None:
        raise NotFound(f"file {file_id} has no quarantine on record for this connection")
    who = _caller()
    svc.invoker.start_restore(RestoreRequest(connection_id=connection_id, file_id=file_id, requested_by=who))
    return _json(202, {"connection_id": connection_id, "file_id": file_id, "restore": "requested"})


class AlertsRequest(BaseModel):
    """Query string of GET /alerts: every filter optional, newest activity first."""

    model_config = ConfigDict(extra="forbid")

    connection: str | None = Field(default=None, pattern=CONNECTION_ID)
    status: AlertStatus | None = None
    severity: Severity | None = None
    policy: str | None = Field(default=None, pattern=POLICY_ID_PATTERN)
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=4096)


@app.get("/alerts")
def list_alerts() -> Response[str]:
    request = AlertsRequest.model_validate(app.current_event.query_string_parameters or {})
    page = services().alerts.query(
        AlertQuery(
            connection_id=request.connection,
            status=request.status,
            severity=request.severity,
            policy_id=request.policy,
            limit=request.limit,
            cursor=request.cursor,
        )
    )
    return _json(200, {"alerts": [a.model_dump(mode="json") for a in page.alerts], "cursor": page.cursor})


class AlertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection: str = Field(pattern=CONNECTION_ID)


@app.get("/alerts/<alert_id>")
def get_alert(alert_id: str) -> Response[str]:
    request = AlertRequest.model_validate(app.current_event.query_string_parameters or {})
    alert = services().alerts.get(request.connection, _checked_alert(alert_id))
    return _json(200, alert.model_dump(mode="json"))


class UpdateAlertRequest(BaseModel):
    """Body of PATCH /alerts/{id}: an admin dismisses an alert (a resolved one can't be)."""

    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(pattern=CONNECTION_ID)
    status: Literal["dismissed"]
    reason: str = Field(min_length=1, max_length=1000)


@app.patch("/alerts/<alert_id>")
def update_alert(alert_id: str) -> Response[str]:
    request = UpdateAlertRequest.model_validate(_json_body())
    who = _caller()
    alert = services().alerts.dismiss(request.connection_id, _checked_alert(alert_id), who, request.reason)
    logger.info("alert dismissed", extra={"alert_id": alert.alert_id})
    return _json(200, alert.model_dump(mode="json"))


def _checked_alert(alert_id: str) -> str:
    if not re.match(ALERT_ID_PATTERN, alert_id):
        raise InvalidRequest("alert ids are 24 hexadecimal characters")
    return alert_id


def _caller() -> str:
    """The IAM principal that signed the request: who applied, dismissed or asked, for the record."""
    return app.current_event.request_context.authorizer.iam.user_arn or "unknown"


def _live(connection: Connection) -> Connection:
    """The connection, unless it is disconnecting or disconnected (409: nothing may be added)."""
    if connection.status.retired:
        raise Conflict(f"connection {connection.connection_id} is {connection.status.value}")
    return connection


def _checked(connection_id: str) -> str:
    if not re.match(CONNECTION_ID, connection_id):
        raise InvalidRequest("connection ids are UUIDs")
    return connection_id


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
