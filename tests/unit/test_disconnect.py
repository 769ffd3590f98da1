"""DisconnectService over an in-process table and fake Box ports: the order of the steps, and that a
crash, a redelivery or a second request ends in the same state."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from boxcasb.disconnect import DisconnectPorts, DisconnectService
from boxcasb.errors import BoxRequestFailed, BoxUnavailable, Conflict, ReconnectRequired
from boxcasb.models import BoxUser, Connection, ConnectionStatus, StoredTokens, TokenSet
from boxcasb.scan.ledger import ScanLedger
from boxcasb.scan.model import GenerationStatus, ScanGeneration
from boxcasb.state_store import StateStore
from boxcasb.webhooks.model import REGISTERED_TRIGGERS, WebhookRegistration
from tests.support.moto_tables import pk_sk_table

CID = "0f0f0f0f-0000-4000-8000-000000000001"
ADMIN, BOB = "11", "22"
NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
WHO = "arn:aws:iam::123456789012:user/security-admin"


class FakeBox:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.gone: set[str] = set()  # Box no longer has these (404)

    def current_user(self) -> BoxUser:
        return BoxUser(id=ADMIN)

    def delete_webhook_as(self, user_id: str | None, webhook_id: str) -> bool:
        self.log.append(f"delete {webhook_id} as {user_id}")
        return webhook_id not in self.gone


class World:
    """The state table, the fake ports and what they were asked, in order."""

    def __init__(self, table: Any) -> None:
        self.store = StateStore(table)
        self.ledger = ScanLedger(table)
        self.log: list[str] = []
        self.box = FakeBox(self.log)
        self.tokens: StoredTokens | None = StoredTokens(
            tokens=TokenSet(
                access_token=SecretStr("access-secret"),
                refresh_token=SecretStr("refresh-secret"),
                access_expires_at=NOW + timedelta(hours=1),
                issued_at=NOW,
            ),
            version=3,
            refreshed_at=NOW,
        )
        self.revoke_error: Exception | None = None
        self.fail_on: str | None = None  # an eraser that raises once
        self.service = DisconnectService(self.store, self.ports, clock=lambda: NOW)

    def ports(self) -> DisconnectPorts:
        return DisconnectPorts(
            ledger=self.ledger,
            box_for=lambda _cid: self.box,
            load_tokens=self.load,
            revoke=self.revoke,
            erasers=[(kind, self.eraser(kind)) for kind in ("activity", "inventory", "state")],
        )

    def load(self, connection_id: str) -> StoredTokens:
        if self.store.get_tokens_item(connection_id) is None or self.tokens is None:
            raise ReconnectRequired("no Box tokens are stored for this connection")
        return self.tokens

    def revoke(self, token: str) -> None:
        self.log.append("revoke " + ("refresh" if token.startswith("refresh") else "access"))
        if self.revoke_error is not None:
            raise self.revoke_error

    def eraser(self, kind: str) -> Any:
        def erase(connection_id: str) -> int:
            self.log.append("erase " + kind)
            if self.fail_on == kind:
                self.fail_on = None
                raise RuntimeError("the Lambda died here")
            return 5

        return erase


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with pk_sk_table(monkeypatch, "state", "expires_at") as table:
        w = World(table)
        w.store.create_connection(
            Connection(
                connection_id=CID,
                status=ConnectionStatus.CONNECTED,
                created_at=NOW,
                updated_at=NOW,
                admin_user_id=ADMIN,
            )
        )
        w.store.put_tokens_item(CID, b"ciphertext", NOW, expected_version=None)
        for webhook_id, owner in (("901", ADMIN), ("902", BOB)):
            w.store.put_webhook(
                WebhookRegistration(
                    webhook_id=webhook_id,
                    connection_id=CID,
                    owner_user_id=owner,
                    target_type="folder",
                    target_id=f"5{webhook_id}",
                    triggers=REGISTERED_TRIGGERS,
                    address="https://example.test/webhooks/box",
                    created_at=NOW,
                )
            )
        yield w


def test_steps_run_in_order_and_leave_a_tombstone(world: World) -> None:
    world.ledger.create(
        ScanGeneration(
            connection_id=CID,
            number=1,
            trigger="schedule",
            status=GenerationStatus.RUNNING,
            policy_version="v1",
            started_at=NOW,
        )
    )
    world.service.request(CID, WHO)
    done = world.service.run(CID)

    assert world.log == [
        "delete 901 as None",  # the admin's own webhook: no As-User header
        "delete 902 as 22",
        "revoke refresh",
        "revoke access",
        "erase activity",
        "erase inventory",
        "erase state",
    ]
    assert done.status is ConnectionStatus.DISCONNECTED
    assert done.disconnect is not None
    assert done.disconnect.requested_by == WHO
    assert done.disconnect.disconnected_at == NOW
    assert done.disconnect.removed == {"webhooks": 2, "tokens": 1, "activity": 5, "inventory": 5, "state": 5}
    assert world.store.get_tokens_item(CID) is None
    assert world.store.list_webhooks(CID) == []
    generation = world.ledger.get(CID, 1)
    assert generation is not None
    assert generation.status is GenerationStatus.INCOMPLETE


def test_a_crash_midway_is_continued_by_the_next_run(world: World) -> None:
    world.service.request(CID, WHO)
    world.fail_on = "inventory"
    with pytest.raises(RuntimeError):
        world.service.run(CID)
    assert world.store.get_connection(CID).status is ConnectionStatus.DISCONNECTING
    world.log.clear()

    done = world.service.run(CID)  # the redelivery

    # Webhooks and tokens are gone already: nothing is asked of Box again.
    assert world.log == ["erase activity", "erase inventory", "erase state"]
    assert done.status is ConnectionStatus.DISCONNECTED
    assert done.disconnect is not None
    assert done.disconnect.removed["tokens"] == 1
    assert done.disconnect.removed["webhooks"] == 2
    world.log.clear()
    assert world.service.run(CID) == done  # once disconnected, a run changes nothing
    assert world.log == []


def test_a_second_request_keeps_the_first_and_a_finished_one_stays_finished(world: World) -> None:
    first = world.service.request(CID, WHO)
    again = world.service.request(CID, "arn:aws:iam::123456789012:user/someone-else")
    assert again.disconnect == first.disconnect
    done = world.service.run(CID)
    assert world.service.request(CID, "arn:aws:iam::123456789012:user/late") == done


def test_only_a_requested_disconnect_runs(world: World) -> None:
    with pytest.raises(Conflict):
        world.service.run(CID)
    assert world.log == []
    assert world.store.get_connection(CID).status is ConnectionStatus.CONNECTED


def test_a_token_box_no_longer_knows_is_deleted_with_a_note(world: World) -> None:
    world.box.gone = {"901"}  # 404: gone already counts as removed
    world.revoke_error = BoxRequestFailed("Box answered 400 (invalid_token)", 400, "invalid_token")
    world.service.request(CID, WHO)
    done = world.service.run(CID)
    assert done.status is ConnectionStatus.DISCONNECTED
    assert done.disconnect is not None
    assert done.disconnect.removed["webhooks"] == 2
    assert world.store.get_tokens_item(CID) is None
    assert any("refresh token" in note for note in done.disconnect.notes)
    assert not any("secret" in note for note in done.disconnect.notes)


def test_box_down_keeps_the_tokens_to_revoke_them_on_the_retry(world: World) -> None:
    world.revoke_error = BoxUnavailable("Box is unavailable")
    world.service.request(CID, WHO)
    with pytest.raises(BoxUnavailable):
        world.service.run(CID)
    assert world.store.get_tokens_item(CID) is not None
    assert world.store.get_connection(CID).status is ConnectionStatus.DISCONNECTING
    world.revoke_error = None
    assert world.service.run(CID).status is ConnectionStatus.DISCONNECTED
    assert world.store.get_tokens_item(CID) is None
