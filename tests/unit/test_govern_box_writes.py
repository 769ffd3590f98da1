"""The governance adapter over a scripted gateway: Box's JSON parsed, fallbacks taken, and every
write sent with notifications off."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import pytest

from boxcasb.box_gateway.gateway import JsonReply
from boxcasb.errors import BoxRequestFailed, BoxUnavailable
from boxcasb.govern.box_writes import GatewayBoxWrites, collaboration, file_state
from boxcasb.govern.model import Collaboration, FileState, PathFolder
from boxcasb.scan.model import LinkAccess

CLASSIFICATION = "/files/9/metadata/enterprise/securityClassification-6VMVochwUWo"


@dataclass
class Sent:
    method: str
    path: str
    params: dict[str, str] | None
    body: Any
    user_id: str | None
    headers: dict[str, str] | None
    content_type: str


@dataclass
class ScriptedGateway:
    """Answers writes from a script (status, body) in order, and GETs from a path -> pages map."""

    replies: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    pages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    got: list[tuple[str, dict[str, str], str | None]] = field(default_factory=list)

    def get_json(self, path: str, params: dict[str, str], user_id: str | None = None) -> dict[str, Any]:
        self.got.append((path, params, user_id))
        return self.pages[path].pop(0)

    def send_json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | list[Any] | None = None,
        user_id: str | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        answers: Collection[int] = (),
    ) -> JsonReply:
        self.sent.append(Sent(method, path, params, body, user_id, headers, content_type))
        status, reply = self.replies.pop(0)
        if status >= 400 and status not in answers:
            raise BoxRequestFailed(f"Box answered {status}", status, reply.get("code"))
        return JsonReply(status, reply)


def error(status: int, code: str, **context: Any) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"type": "error", "status": status, "code": code}
    if context:
        body["context_info"] = context
    return status, body


def test_a_file_as_box_answers_it() -> None:
    entry = {
        "type": "file",
        "id": "9",
        "etag": "3",
        "name": "q.txt",
        "owned_by": {"type": "user", "id": "2", "login": "alice@acme.example"},
        "parent": {"type": "folder", "id": "55"},
        "path_collection": {
            "total_count": 2,
            "entries": [{"id": "0", "name": "All Files"}, {"id": "55", "name": "Docs"}],
        },
        "shared_link": {
            "url": "https://acme.app.box.com/s/secret",
            "access": "open",
            "effective_access": "company",
        },
        "classification": {"name": "Internal", "definition": "", "color": "#FFB400"},
    }
    assert file_state(entry) == FileState(
        id="9",
        name="q.txt",
        etag="3",
        owner_id="2",
        parent_id="55",
        path=(PathFolder("0", "All Files"), PathFolder("55", "Docs")),
        link_access=LinkAccess.OPEN,
        classification="Internal",
    )
    bare = file_state({"type": "file", "id": "9", "etag": None, "shared_link": None, "classification": None})
    assert (bare.link_access, bare.classification, bare.etag, bare.path) == (None, None, None, ())


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {
                "id": "1",
                "accessible_by": {"type": "user", "id": "7", "login": "eve@partner.example"},
                "role": "viewer",
                "status": "pending",
            },
            Collaboration("1", "user", "7", "eve@partner.example", "viewer", "pending"),
        ),
        (
            {
                "id": "2",
                "accessible_by": {"type": "group", "id": "8", "name": "Sales"},
                "role": "editor",
                "status": "accepted",
            },
            Collaboration("2", "group", "8", None, "editor", "accepted"),
        ),
        (
            {"id": "3", "invite_email": "new@else.example", "role": "viewer", "status": "pending"},
            Collaboration("3", "invite", None, "new@else.example", "viewer", "pending"),
        ),
        (
            {
                "id": "4",
                "accessible_by": None,
                "invite_email": "x@else.example",
                "role": "viewer",
                "status": "pending",
            },
            Collaboration("4", "invite", None, "x@else.example", "viewer", "pending"),
        ),
    ],
)
def test_collaborations_of_every_kind(entry: dict[str, Any], expected: Collaboration) -> None:
    assert collaboration(entry) == expected


def test_collaborations_follow_the_markers() -> None:
    gateway = ScriptedGateway(
        pages={
            "/files/9/collaborations": [
                {"entries": [{"id": "1", "invite_email": "a@b.example"}], "next_marker": "m1"},
                {"entries": [{"id": "2", "invite_email": "c@d.example"}], "next_marker": None},
            ]
        }
    )
    found = GatewayBoxWrites(gateway).collaborations("file", "9", "2")
    assert [c.id for c in found] == ["1", "2"]
    assert [params.get("marker") for _, params, _ in gateway.got] == [None, "m1"]
    assert gateway.got[0][1]["fields"] == "accessible_by,invite_email,role,status"


def test_every_write_asks_for_no_notifications() -> None:
    gateway = ScriptedGateway(
        replies=[
            (200, {}),
            (204, {}),
            (201, {"id": "70"}),
            (200, {}),
            (201, {"id": "5"}),
            (204, {}),
        ]
    )
    writes = GatewayBoxWrites(gateway)
    writes.set_shared_link("9", "2", None)
    writes.remove_collaboration("70", "2")
    assert writes.invite("5", "2", "editor", None) == "70"
    writes.move_file("9", "5", "2")
    assert writes.ensure_folder("0", "Quarantine", None) == "5"
    assert writes.delete_empty_folder("5", None)
    assert {s.headers["Box-Notifications"] for s in gateway.sent if s.headers} == {"off"}
    assert all(s.headers for s in gateway.sent)
    assert [(s.method, s.path, s.body) for s in gateway.sent] == [
        ("PUT", "/files/9", {"shared_link": None}),
        ("DELETE", "/collaborations/70", None),
        (
            "POST",
            "/collaborations",
            {
                "item": {"type": "folder", "id": "5"},
                "accessible_by": {"type": "user", "id": "2"},
                "role": "editor",
            },
        ),
        ("PUT", "/files/9", {"parent": {"id": "5"}}),
        ("POST", "/folders", {"name": "Quarantine", "parent": {"id": "0"}}),
        ("DELETE", "/folders/5", None),
    ]
    assert gateway.sent[2].params == {"notify": "false", "fields": "id"}
    assert [s.user_id for s in gateway.sent] == ["2", "2", None, "2", None, None]


def test_narrowing_sends_only_the_access() -> None:
    gateway = ScriptedGateway(replies=[(200, {})])
    GatewayBoxWrites(gateway).set_shared_link("9", "2", LinkAccess.COMPANY)
    assert gateway.sent[0].body == {"shared_link": {"access": "company"}}
    assert gateway.sent[0].params == {"fields": "shared_link"}


@pytest.mark.parametrize(
    "conflicts",
    [
        [{"type": "folder", "id": "41", "name": "quarantine"}],
        {"type": "folder", "id": "41", "name": "Quarantine"},
    ],
)
def test_a_folder_that_exists_is_found_in_boxs_conflict(conflicts: Any) -> None:
    gateway = ScriptedGateway(replies=[error(409, "item_name_in_use", conflicts=conflicts)])
    assert GatewayBoxWrites(gateway).ensure_folder("0", "Quarantine", None) == "41"


def test_a_file_in_the_way_of_a_folder_is_an_error() -> None:
    in_the_way = [{"type": "file", "id": "41", "name": "Quarantine"}]
    gateway = ScriptedGateway(replies=[error(409, "item_name_in_use", conflicts=in_the_way)])
    with pytest.raises(BoxRequestFailed) as raised:
        GatewayBoxWrites(gateway).ensure_folder("0", "Quarantine", None)
    assert (raised.value.status, raised.value.code) == (409, "item_name_in_use")


def test_a_folder_locked_by_another_operation_is_worth_a_retry() -> None:
    gateway = ScriptedGateway(replies=[error(409, "operation_blocked_temporary")])
    with pytest.raises(BoxUnavailable):
        GatewayBoxWrites(gateway).ensure_folder("0", "Quarantine", None)


def test_classification_is_created_with_post() -> None:
    gateway = ScriptedGateway(replies=[(201, {})])
    GatewayBoxWrites(gateway).set_classification("9", "2", "Confidential", replace=False)
    assert [(s.method, s.path, s.body) for s in gateway.sent] == [
        ("POST", CLASSIFICATION, {"Box__Security__Classification__Key": "Confidential"})
    ]


def test_classification_is_replaced_with_a_json_patch() -> None:
    gateway = ScriptedGateway(replies=[(200, {})])
    GatewayBoxWrites(gateway).set_classification("9", "2", "Confidential", replace=True)
    sent = gateway.sent[0]
    assert (sent.method, sent.content_type) == ("PUT", "application/json-patch+json")
    assert sent.body == [
        {"op": "replace", "path": "/Box__Security__Classification__Key", "value": "Confidential"}
    ]


def test_classification_falls_back_when_the_file_changed_since_it_was_read() -> None:
    created_meanwhile = ScriptedGateway(replies=[error(409, "tuple_already_exists"), (200, {})])
    GatewayBoxWrites(created_meanwhile).set_classification("9", "2", "Public", replace=False)
    assert [s.method for s in created_meanwhile.sent] == ["POST", "PUT"]
    removed_meanwhile = ScriptedGateway(replies=[error(404, "instance_not_found"), (201, {})])
    GatewayBoxWrites(removed_meanwhile).set_classification("9", "2", "Public", replace=True)
    assert [s.method for s in removed_meanwhile.sent] == ["PUT", "POST"]


def test_a_file_gone_is_not_mistaken_for_a_missing_classification() -> None:
    gateway = ScriptedGateway(replies=[error(404, "not_found")])
    with pytest.raises(BoxRequestFailed) as raised:
        GatewayBoxWrites(gateway).set_classification("9", "2", "Public", replace=True)
    assert raised.value.code == "not_found"
    assert len(gateway.sent) == 1


@pytest.mark.parametrize(
    ("reply", "deleted"),
    [((204, {}), True), (error(400, "folder_not_empty"), False), (error(404, "not_found"), False)],
)
def test_only_an_empty_folder_is_deleted(reply: tuple[int, dict[str, Any]], deleted: bool) -> None:
    gateway = ScriptedGateway(replies=[reply])
    assert GatewayBoxWrites(gateway).delete_empty_folder("5", None) is deleted
    assert gateway.sent[0].params is None  # never recursive


def test_gone_collaborations_are_not_errors() -> None:
    gateway = ScriptedGateway(replies=[error(404, "not_found")])
    assert GatewayBoxWrites(gateway).remove_collaboration("70", "2") is False


def test_an_invite_made_meanwhile_by_another_run_is_reused() -> None:
    gateway = ScriptedGateway(
        replies=[error(400, "user_already_collaborator")],
        pages={
            "/folders/5/collaborations": [
                {"entries": [{"id": "71", "accessible_by": {"type": "user", "id": "2"}}]}
            ]
        },
    )
    assert GatewayBoxWrites(gateway).invite("5", "2", "editor", None) == "71"
    refused = ScriptedGateway(replies=[error(400, "bad_request")])
    with pytest.raises(BoxRequestFailed):
        GatewayBoxWrites(refused).invite("5", "2", "editor", None)
