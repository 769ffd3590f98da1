"""Webhook deliveries: what the fake POSTs, signed like Box, to a small receiver on 127.0.0.1.

boxsdk's ``WebhooksManager.validate_message`` is the oracle for the signatures: the fake
computes them on its own (hmac/hashlib) and the SDK must accept them, for either key.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from box_sdk_gen.managers.webhooks import WebhooksManager

from devstack.fake_box import FakeBox, File, Folder, User, Webhook
from devstack.fake_box.webhook_triggers import TRIGGERS_BY_EVENT
from tests.fake_box import spec
from tests.fake_box.helpers import CLIENT_ID, BoxHttp, Tokens

ALICE = "alice@acme.example"
KEYS = ("primary-key", "secondary-key")


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased, as validate_message reads them
    body: bytes

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """An HTTP endpoint that records each POST and answers the scripted statuses, then 200."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.on_request: Callable[[Received], None] | None = None
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                entry = Received(self.path, headers, body)
                receiver.received.append(entry)
                if receiver.on_request is not None:
                    receiver.on_request(entry)
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/box"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    endpoint.start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def keyed(box: FakeBox) -> FakeBox:
    box.webhook_keys = KEYS
    return box


def folder_of(box: FakeBox, login: str, name: str) -> Folder:
    owner = box.tenant.user_by_login(login)
    return next(f for f in box.tenant.folders.values() if f.owner_id == owner.id and f.name == name)


def file_named(box: FakeBox, name: str) -> File:
    return next(f for f in box.tenant.files.values() if f.name == name)


def user(box: FakeBox, login: str) -> User:
    return box.tenant.user_by_login(login)


def hook(box: FakeBox, target: File | Folder, address: str, *triggers: str) -> Webhook:
    owner = box.tenant.users[target.owner_id]
    return box.tenant.add_webhook(target, address, list(triggers), created_by=owner, client_id=CLIENT_ID)


def drained(box: FakeBox) -> None:
    assert box.wait_for_deliveries(10), "deliveries did not finish"


def valid(received: Received, primary: str, secondary: str | None = None) -> bool:
    return WebhooksManager.validate_message(
        received.body.decode(), received.headers, primary, secondary_key=secondary
    )


# ----- signatures and headers ---------------------------------------------------------------


def test_signatures_verify_with_boxsdk_for_either_key(keyed: FakeBox, receiver: Receiver) -> None:
    box = keyed
    alice = user(box, ALICE)
    documents = folder_of(box, ALICE, "Documents")
    file = box.tenant.add_file(documents, "résumé – 2024.txt", "ünïcödé")  # the body is UTF-8, not ASCII
    hook(box, file, receiver.url, "FILE.PREVIEWED")
    box.tenant.add_event("PREVIEW", alice, source=file)
    drained(box)

    [received] = receiver.received
    headers = received.headers
    assert received.path == "/webhooks/box"
    assert headers["content-type"] == "application/json"
    assert headers["box-signature-version"] == "1"
    assert headers["box-signature-algorithm"] == "HmacSHA256"
    assert {"box-delivery-id", "box-signature-primary", "box-signature-secondary"} <= headers.keys()
    stamp = datetime.fromisoformat(headers["box-delivery-timestamp"])
    assert stamp.utcoffset() is not None
    assert not headers["box-delivery-timestamp"].endswith("Z")
    assert "résumé – 2024.txt".encode() in received.body

    assert valid(received, "primary-key")
    assert valid(received, "old-primary", "secondary-key")
    assert not valid(received, "wrong-key", "also-wrong")
    tampered = Received(received.path, headers, received.body.replace(b"PREVIEWED", b"DOWNLOADED"))
    assert not valid(tampered, "primary-key", "secondary-key")
    stale = dict(headers, **{"box-delivery-timestamp": "2020-01-01T00:00:00-08:00"})
    assert not valid(Received(received.path, stale, received.body), "primary-key", "secondary-key")


def test_an_unset_key_sends_no_header(keyed: FakeBox, receiver: Receiver) -> None:
    box = keyed
    file = file_named(box, "readme.txt")
    hook(box, file, receiver.url, "FILE.DOWNLOADED")
    box.webhook_keys = (None, "secondary-key")
    box.tenant.add_event("DOWNLOAD", user(box, ALICE), source=file)
    drained(box)
    box.webhook_keys = ("primary-key", None)
    box.tenant.add_event("DOWNLOAD", user(box, ALICE), source=file)
    drained(box)

    only_secondary, only_primary = receiver.received
    assert "box-signature-primary" not in only_secondary.headers
    assert valid(only_secondary, "primary-key", "secondary-key")
    assert not valid(only_secondary, "primary-key")
    assert "box-signature-secondary" not in only_primary.headers
    assert valid(only_primary, "primary-key")


def test_key_rotation_applies_from_the_next_attempt(keyed: FakeBox, receiver: Receiver) -> None:
    """Keys are read at every attempt: a retry after a rotation is signed with the new keys."""
    box = keyed
    file = file_named(box, "readme.txt")
    hook(box, file, receiver.url, "FILE.UPLOADED")

    def rotate_on_first(received: Received) -> None:
        if len(receiver.received) == 1:
            box.webhook_keys = ("new-primary", "primary-key")  # the old primary becomes the secondary

    receiver.on_request = rotate_on_first
    receiver.statuses = [500]
    box.tenant.add_event("UPLOAD", user(box, ALICE), source=file)
    drained(box)

    before, after = receiver.received
    assert valid(before, "primary-key", "secondary-key")
    assert not valid(before, "new-primary")
    assert valid(after, "new-primary")
    assert valid(after, "no-longer", "primary-key")  # a receiver still on the old key accepts it
    assert not valid(after, "secondary-key")


# ----- what fires --------------------------------------------------------------------------


def test_a_folder_webhook_fires_for_a_file_deep_beneath_it(box: FakeBox, receiver: Receiver) -> None:
    tenant = box.tenant
    alice = user(box, ALICE)
    documents = folder_of(box, ALICE, "Documents")
    deep = tenant.add_folder(tenant.add_folder(folder_of(box, ALICE, "Reports"), "2024"), "Q4")
    file = tenant.add_file(deep, "deep.txt", "deep down")
    webhook = hook(box, documents, receiver.url, "FILE.UPLOADED")
    event = tenant.add_event("UPLOAD", alice, source=file)
    drained(box)

    [received] = receiver.received
    payload = received.payload
    assert payload["type"] == "webhook_event"
    assert payload["trigger"] == "FILE.UPLOADED"
    assert payload["webhook"] == {"id": webhook.id, "type": "webhook"}
    assert payload["created_by"] == alice.mini()
    assert payload["created_at"] == datetime.fromisoformat(payload["created_at"]).isoformat()
    assert datetime.fromisoformat(payload["created_at"]) == event.created_at.replace(microsecond=0)
    assert (payload["source"]["type"], payload["source"]["id"]) == ("file", file.id)
    path = [entry["name"] for entry in payload["source"]["path_collection"]["entries"]]
    assert path == ["All Files", "Documents", "Reports", "2024", "Q4"]
    assert payload["additional_info"] == []
    [attempt] = box.webhook_deliveries
    assert (attempt.status, attempt.attempt, attempt.event_id) == (200, 1, payload["id"])
    assert attempt.delivery_id == received.headers["box-delivery-id"]


def test_no_delivery_for_another_trigger_another_folder_or_no_item(box: FakeBox, receiver: Receiver) -> None:
    tenant = box.tenant
    alice = user(box, ALICE)
    hook(box, folder_of(box, ALICE, "Documents"), receiver.url, "FILE.UPLOADED")
    tenant.add_event("PREVIEW", alice, source=file_named(box, "customers.csv"))  # beneath, not a trigger
    tenant.add_event("UPLOAD", alice, source=file_named(box, "roadmap.pptx"))  # in Projects
    tenant.add_event("UPLOAD", alice, source=file_named(box, "readme.txt"))  # in the root above
    tenant.add_event("LOGIN", alice, source=alice)
    tenant.add_event("FAKEBOX_FUTURE_EVENT", alice, source=file_named(box, "customers.csv"))
    drained(box)
    assert receiver.received == []
    assert box.webhook_deliveries == []


def test_event_types_map_to_triggers(box: FakeBox, receiver: Receiver) -> None:
    """Every mapped event type, on a file and on a folder beneath a webhook that has every trigger."""
    tenant = box.tenant
    alice = user(box, ALICE)
    documents = folder_of(box, ALICE, "Documents")
    every = sorted({t for pair in TRIGGERS_BY_EVENT.values() for t in pair if t is not None})
    hook(box, documents, receiver.url, *every)
    file, folder = file_named(box, "customers.csv"), folder_of(box, ALICE, "Reports")
    expected: list[tuple[str, str, str]] = []
    for event_type, (file_trigger, folder_trigger) in TRIGGERS_BY_EVENT.items():
        for source, trigger in ((file, file_trigger), (folder, folder_trigger)):
            tenant.add_event(event_type, alice, source=source)
            if trigger is not None:
                expected.append((trigger, source.type, source.id))
    drained(box)
    got = [
        (r.payload["trigger"], r.payload["source"]["type"], r.payload["source"]["id"])
        for r in receiver.received
    ]
    assert got == expected
    assert ("FILE.UPLOADED", "file", file.id) in got
    assert ("SHARED_LINK.CREATED", "folder", folder.id) in got


def test_the_target_folder_itself_fires(box: FakeBox, receiver: Receiver) -> None:
    projects = folder_of(box, ALICE, "Projects")
    hook(box, projects, receiver.url, "SHARED_LINK.CREATED", "COLLABORATION.CREATED")
    box.tenant.add_event("SHARE", user(box, ALICE), source=projects)
    box.tenant.add_event(
        "COLLABORATION_INVITE", user(box, ALICE), source=projects, accessible_by=user(box, "bob@acme.example")
    )
    drained(box)
    assert [r.payload["trigger"] for r in receiver.received] == [
        "SHARED_LINK.CREATED",
        "COLLABORATION.CREATED",
    ]
    assert {r.payload["source"]["id"] for r in receiver.received} == {projects.id}


def test_deliver_webhook_sends_what_it_is_told(box: FakeBox, receiver: Receiver) -> None:
    file = file_named(box, "roadmap.pptx")
    webhook = hook(box, file, receiver.url, "FILE.UPLOADED")
    bob = user(box, "bob@acme.example")
    event_id = box.deliver_webhook(webhook.id, "FILE.PREVIEWED", file, bob)
    drained(box)
    [received] = receiver.received
    assert received.payload["id"] == event_id
    assert received.payload["trigger"] == "FILE.PREVIEWED"
    assert received.payload["created_by"] == bob.mini()


# ----- retries -----------------------------------------------------------------------------


def test_a_failed_delivery_is_retried_with_the_same_id(box: FakeBox, receiver: Receiver) -> None:
    file = file_named(box, "readme.txt")
    hook(box, file, receiver.url, "FILE.UPLOADED")
    receiver.statuses = [500, 503]
    box.tenant.add_event("UPLOAD", user(box, ALICE), source=file)
    drained(box)

    attempts = box.webhook_deliveries
    assert [(a.attempt, a.status, a.ok) for a in attempts] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    assert len({a.event_id for a in attempts}) == 1
    assert len({a.delivery_id for a in attempts}) == 3
    assert len({r.body for r in receiver.received}) == 1  # the same bytes every time
    assert {r.payload["id"] for r in receiver.received} == {attempts[0].event_id}
    assert [r.headers["box-delivery-id"] for r in receiver.received] == [a.delivery_id for a in attempts]


def test_retries_run_out_on_errors_and_unreachable_addresses(box: FakeBox, receiver: Receiver) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    box.webhook_options.retries = 2
    readme, roadmap = file_named(box, "readme.txt"), file_named(box, "roadmap.pptx")
    hook(box, readme, f"http://127.0.0.1:{closed_port}/hook", "FILE.UPLOADED")
    hook(box, roadmap, receiver.url, "FILE.UPLOADED")
    receiver.statuses = [404, 302, 500, 200]
    box.tenant.add_event("UPLOAD", user(box, ALICE), source=readme)
    box.tenant.add_event("UPLOAD", user(box, ALICE), source=roadmap)
    drained(box)

    unreachable = [a for a in box.webhook_deliveries if a.address.endswith("/hook")]
    assert [(a.attempt, a.status) for a in unreachable] == [(1, None), (2, None), (3, None)]
    assert all(a.error for a in unreachable)
    answered = [a for a in box.webhook_deliveries if a.address == receiver.url]
    assert [a.status for a in answered] == [404, 302, 500]  # 3xx is a failure too: nothing is followed
    assert len(receiver.received) == 3


def test_deliveries_never_block_the_tenant(box: FakeBox, receiver: Receiver) -> None:
    file = file_named(box, "readme.txt")
    hook(box, file, receiver.url, "FILE.UPLOADED")
    receiver.delay = 0.25
    started = time.monotonic()
    for _ in range(3):
        box.tenant.add_event("UPLOAD", user(box, ALICE), source=file)
    assert time.monotonic() - started < 0.2
    assert not box.wait_for_deliveries(0.1)
    drained(box)
    assert len(receiver.received) == 3


def test_stop_and_reset_drop_pending_deliveries(box: FakeBox, receiver: Receiver) -> None:
    file = file_named(box, "readme.txt")
    hook(box, file, receiver.url, "FILE.UPLOADED")
    box.webhook_options.retry_delay = 60
    receiver.statuses = [500]
    box.tenant.add_event("UPLOAD", user(box, ALICE), source=file)
    deadline = time.monotonic() + 5
    while not box.webhook_deliveries and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not box.wait_for_deliveries(0.05)  # the retry waits a minute
    box.reset()
    assert box.wait_for_deliveries(0)
    assert box.webhook_deliveries == []
    assert box.tenant.webhooks == {}


# ----- lifecycle ---------------------------------------------------------------------------


def test_webhook_deleted_when_its_target_goes_or_box_removes_it(
    http: BoxHttp, box: FakeBox, alice: Tokens, receiver: Receiver
) -> None:
    tenant = box.tenant
    reports = folder_of(box, ALICE, "Reports")
    on_folder = hook(box, reports, receiver.url, "FILE.UPLOADED")
    on_file = hook(box, file_named(box, "readme.txt"), receiver.url, "FILE.UPLOADED")
    by_api = hook(box, file_named(box, "roadmap.pptx"), receiver.url, "FILE.UPLOADED")

    gone = tenant.delete_item(folder_of(box, ALICE, "Documents"), by=user(box, ALICE))
    assert {item.name for item in gone} >= {"Documents", "Reports", "customers.csv", "Q3 report.docx"}
    assert reports.id not in tenant.folders
    box.delete_webhook(on_file.id, reason="auto_cleanup", by=user(box, "admin@acme.example"))
    assert http.request("DELETE", f"/2.0/webhooks/{by_api.id}", alice).status_code == 204  # the app: no news
    drained(box)

    assert tenant.webhooks == {}
    deleted = [r.payload for r in receiver.received]
    assert [(p["trigger"], p["webhook"]["id"]) for p in deleted] == [
        ("WEBHOOK.DELETED", on_folder.id),
        ("WEBHOOK.DELETED", on_file.id),
    ]
    assert [p["additional_info"] for p in deleted] == [{"reason": "auto_cleanup"}] * 2
    assert deleted[0]["source"]["id"] == reports.id
    assert deleted[1]["created_by"]["login"] == "admin@acme.example"
    for payload in deleted:
        assert not spec.violations(payload, "WebhookInvocation")


def test_no_active_session_when_the_creators_tokens_are_gone(
    http: BoxHttp, box: FakeBox, alice: Tokens, receiver: Receiver
) -> None:
    """Box's OAuth session ends when the access and refresh tokens are both gone."""
    file = file_named(box, "readme.txt")
    body = {"target": {"type": "file", "id": file.id}, "address": receiver.url, "triggers": ["FILE.UPLOADED"]}
    assert http.request("POST", "/2.0/webhooks", alice, json=body).status_code == 201
    actor = user(box, "bob@acme.example")

    box.tenant.add_event("UPLOAD", actor, source=file)
    box.revoke_refresh_tokens(login=ALICE)  # the access token still works
    box.tenant.add_event("UPLOAD", actor, source=file)
    box.expire_access_tokens()  # now nothing does
    box.tenant.add_event("UPLOAD", actor, source=file)
    http.connect(ALICE)  # a new authorization: a new session
    box.tenant.add_event("UPLOAD", actor, source=file)
    drained(box)

    payloads = [r.payload for r in receiver.received]
    assert [p["trigger"] for p in payloads] == [
        "FILE.UPLOADED",
        "FILE.UPLOADED",
        "NO_ACTIVE_SESSION",
        "FILE.UPLOADED",
    ]
    no_session = payloads[2]
    assert no_session["source"] == {"id": file.id, "type": "file"}
    assert "created_by" not in no_session
    assert no_session["webhook"]["id"] == payloads[0]["webhook"]["id"]


def test_webhooks_added_straight_to_the_tenant_have_a_session(box: FakeBox, receiver: Receiver) -> None:
    """A user who never had tokens is not 'a session that ended': tests need no OAuth dance."""
    box.revoke_refresh_tokens()
    box.expire_access_tokens()
    file = file_named(box, "readme.txt")
    hook(box, file, receiver.url, "FILE.UPLOADED")
    box.tenant.add_event("UPLOAD", user(box, ALICE), source=file)
    drained(box)
    assert [r.payload["trigger"] for r in receiver.received] == ["FILE.UPLOADED"]


# ----- the spec ----------------------------------------------------------------------------


@pytest.mark.usefixtures("openapi")
def test_payloads_conform_to_the_published_schema(box: FakeBox, receiver: Receiver) -> None:
    tenant = box.tenant
    alice = user(box, ALICE)
    documents = folder_of(box, ALICE, "Documents")
    hook(box, documents, receiver.url, "FILE.UPLOADED", "FOLDER.CREATED", "SHARED_LINK.CREATED")
    tenant.add_event("UPLOAD", alice, source=file_named(box, "customers.csv"))  # link, classification
    tenant.add_event("UPLOAD", alice, source=file_named(box, "summary.txt"))  # neither
    tenant.add_event("UPLOAD", alice, source=tenant.add_folder(folder_of(box, ALICE, "Reports"), "New"))
    tenant.add_event("SHARE", alice, source=documents)
    tenant.add_event("UPLOAD", user(box, "eve@partner.example"), source=file_named(box, "summary.txt"))
    drained(box)
    payloads = [r.payload for r in receiver.received]
    assert [p["source"]["type"] for p in payloads] == ["file", "file", "folder", "folder", "file"]
    for payload in payloads:
        assert set(payload) == {
            "type", "id", "created_at", "trigger", "webhook", "created_by", "source", "additional_info",
        }  # fmt: skip
        assert not spec.violations(payload, "WebhookInvocation"), spec.violations(
            payload, "WebhookInvocation"
        )
    assert spec.violations({**payloads[0], "trigger": "FILE.EXPLODED"}, "WebhookInvocation")
    assert spec.violations({**payloads[0], "type": "event"}, "WebhookInvocation")


def webhook_body(target: File | Folder, address: str, *triggers: str) -> dict[str, Any]:
    return {"target": {"type": target.type, "id": target.id}, "address": address, "triggers": list(triggers)}


def conforms(response: requests.Response, path: str, method: str) -> Any:
    body = response.json()
    schema = spec.response_schema(path, method, response.status_code)
    assert not spec.violations(body, schema), (response.status_code, spec.violations(body, schema))
    return body


@pytest.mark.usefixtures("openapi")
def test_put_updates_address_triggers_and_target(
    http: BoxHttp, box: FakeBox, alice: Tokens, receiver: Receiver
) -> None:
    readme, roadmap = file_named(box, "readme.txt"), file_named(box, "roadmap.pptx")
    projects = folder_of(box, ALICE, "Projects")
    created = http.request(
        "POST",
        "/2.0/webhooks",
        alice,
        json=webhook_body(readme, "https://connector.example/a", "FILE.UPLOADED"),
    ).json()
    other = http.request(
        "POST", "/2.0/webhooks", alice, json=webhook_body(roadmap, receiver.url, "FILE.UPLOADED")
    ).json()
    path = f"/2.0/webhooks/{created['id']}"

    def put(body: dict[str, Any], webhook_path: str = path) -> requests.Response:
        return http.request("PUT", webhook_path, alice, json=body)

    updated = conforms(
        put({"address": receiver.url, "triggers": ["FILE.PREVIEWED"]}), "/webhooks/{webhook_id}", "put"
    )
    assert (updated["address"], updated["triggers"]) == (receiver.url, ["FILE.PREVIEWED"])
    assert updated["target"] == {"id": readme.id, "type": "file"}
    assert http.get(path, alice).json() == updated
    for bad, status in (
        ({"triggers": ["FILE.EXPLODED"]}, 400),
        ({"triggers": []}, 400),
        ({"triggers": ["FOLDER.CREATED"]}, 400),  # folder triggers on a file
        ({"address": "http://connector.example/hook"}, 400),
        ({"target": {"type": "folder", "id": "0"}}, 400),
        ({"target": {"type": "file", "id": roadmap.id}}, 409),  # the other webhook's target
        ({"target": {"type": "file", "id": "123"}}, 404),
    ):
        response = put(bad)
        assert response.status_code == status, (bad, response.text)
        conforms(response, "/webhooks/{webhook_id}", "put")
    assert put({}, "/2.0/webhooks/999").status_code == 404
    moved = put(
        {"target": {"type": "folder", "id": projects.id}, "triggers": ["FILE.PREVIEWED", "FOLDER.CREATED"]}
    )
    assert moved.status_code == 200
    assert moved.json()["target"] == {"id": projects.id, "type": "folder"}

    box.tenant.add_event("PREVIEW", user(box, ALICE), source=readme)  # no longer covered
    box.tenant.add_event("PREVIEW", user(box, ALICE), source=roadmap)  # beneath Projects
    drained(box)
    assert [(r.payload["webhook"]["id"], r.payload["trigger"]) for r in receiver.received] == [
        (created["id"], "FILE.PREVIEWED")
    ]
    assert other["id"] != created["id"]


@pytest.mark.usefixtures("openapi")
def test_the_limit_of_webhooks_per_app_and_user(http: BoxHttp, box: FakeBox, alice: Tokens) -> None:
    assert FakeBox(webhook_limit_per_user=5).webhook_options.limit_per_user == 5
    assert FakeBox().webhook_options.limit_per_user == 1000
    box.webhook_options.limit_per_user = 3
    tenant = box.tenant
    documents = folder_of(box, ALICE, "Documents")
    targets = [tenant.add_file(documents, f"f{i}.txt") for i in range(4)]

    def post(target: File | Folder, token: Tokens = alice) -> requests.Response:
        body = webhook_body(target, "https://connector.example/hook", "FILE.UPLOADED")
        return http.request("POST", "/2.0/webhooks", token, json=body)

    created = [conforms(post(target), "/webhooks", "post") for target in targets[:3]]
    refused = post(targets[3])
    assert refused.status_code == 403
    error = conforms(refused, "/webhooks", "post")
    assert error["code"] == "access_denied_insufficient_permissions"
    assert "Maximum number of webhooks (3)" in error["message"]
    # Per user: bob has his own 3; per app: only this app's webhooks count.
    bob = http.connect("bob@acme.example")
    assert post(file_named(box, "todo.txt"), bob).status_code == 201
    tenant.add_webhook(
        targets[3],
        "https://other.example",
        ["FILE.UPLOADED"],
        created_by=user(box, ALICE),
        client_id="other-app",
    )
    assert http.request("DELETE", f"/2.0/webhooks/{created[0]['id']}", alice).status_code == 204
    assert post(targets[3]).status_code == 201


# ----- control API -------------------------------------------------------------------------


def test_control_api(http: BoxHttp, box: FakeBox, receiver: Receiver) -> None:
    def control(method: str, path: str, body: Any = None) -> requests.Response:
        return http.session.request(method, f"{box.url}/_fake/{path}", json=body, timeout=10)

    assert control("POST", "webhook-keys", {"primary": "p1", "secondary": None}).json() == {
        "primary": "p1",
        "secondary": None,
    }
    assert box.webhook_keys == ("p1", None)
    assert control("POST", "webhook-keys", {"secondary": "s1"}).json() == {"primary": "p1", "secondary": "s1"}
    assert control("POST", "webhook-keys", {"primary": 7}).status_code == 400
    assert control("POST", "webhook-options", {"retries": 1, "limit_per_user": 10}).json()["retries"] == 1
    assert box.webhook_options.limit_per_user == 10
    assert control("POST", "webhook-options", {"retries": -1}).status_code == 400
    assert control("POST", "webhook-options", {"nope": 1}).status_code == 400
    assert control("GET", "webhook-options").json()["limit_per_user"] == 10

    file = file_named(box, "readme.txt")
    webhook = hook(box, file, receiver.url, "FILE.UPLOADED")
    receiver.statuses = [500]
    sent = control(
        "POST",
        f"webhooks/{webhook.id}/deliver",
        {"trigger": "FILE.UPLOADED", "source": {"type": "file", "id": file.id}},
    )
    assert sent.status_code == 201
    assert control("POST", "webhook-deliveries/wait", {"timeout": 10}).json() == {"done": True}
    entries = control("GET", "webhook-deliveries").json()["entries"]
    assert [(e["attempt"], e["status"], e["event_id"]) for e in entries] == [
        (1, 500, sent.json()["id"]),
        (2, 200, sent.json()["id"]),
    ]
    assert json.loads(entries[0]["body"])["created_by"]["login"] == ALICE
    assert valid(receiver.received[-1], "p1")
    assert control("POST", f"webhooks/{webhook.id}/delete", {"reason": "auto_cleanup"}).status_code == 200
    assert control("POST", f"webhooks/{webhook.id}/delete").status_code == 400
    assert control("POST", "webhook-deliveries/wait").json() == {"done": True}
    assert receiver.received[-1].payload["trigger"] == "WEBHOOK.DELETED"
    assert control("POST", "webhook-deliveries/clear").status_code == 200
    assert box.webhook_deliveries == []
