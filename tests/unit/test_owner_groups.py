"""BoxOwnerGroups over an in-memory Box: every page read, names lower-cased with ids, answers kept
per connection and user for the TTL, bounded, and 403/404 taken as no groups."""

from __future__ import annotations

from typing import Any

import pytest

from boxcasb.errors import BoxAccessDenied, BoxCasbError, BoxRequestFailed, BoxUnavailable
from boxcasb.policies import owner_groups
from boxcasb.policies.owner_groups import BoxOwnerGroups


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class MemoryBox:
    """`/users/{id}/memberships` by offset, as Box pages it; `total_count` left out on request."""

    def __init__(self, groups: dict[str, list[tuple[str, str]]], *, page_cap: int = 1000) -> None:
        self.groups = groups  # user id -> [(group id, group name)]
        self.page_cap = page_cap
        self.with_total = True
        self.errors: dict[str, BoxCasbError] = {}
        self.calls: list[tuple[str, dict[str, str], str | None]] = []

    def get_json(self, path: str, params: dict[str, str], user_id: str | None = None) -> dict[str, Any]:
        self.calls.append((path, dict(params), user_id))
        user = path.removeprefix("/users/").removesuffix("/memberships")
        if user in self.errors:
            raise self.errors[user]
        offset, limit = int(params["offset"]), min(int(params["limit"]), self.page_cap)
        memberships = self.groups.get(user, [])
        entries = [
            {
                "type": "group_membership",
                "id": f"m{user}-{group_id}",
                "user": {"type": "user", "id": user},
                "group": {"type": "group", "id": group_id, "name": name, "group_type": "managed_group"},
                "role": "member",
            }
            for group_id, name in memberships[offset : offset + limit]
        ]
        page: dict[str, Any] = {"offset": offset, "limit": limit, "entries": entries}
        if self.with_total:
            page["total_count"] = len(memberships)
        return page

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.calls]


def adapter(box: MemoryBox, clock: Clock, **options: Any) -> tuple[BoxOwnerGroups, list[str]]:
    asked: list[str] = []

    def reads_for(connection_id: str) -> MemoryBox:
        asked.append(connection_id)
        return box

    return BoxOwnerGroups(reads_for, clock=clock, **options), asked


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_names_lower_cased_and_ids_as_the_connected_admin(clock: Clock) -> None:
    box = MemoryBox({"7": [("301", "Finance"), ("302", "EMEA Sales")]})
    groups, asked = adapter(box, clock)
    assert groups.groups_of("conn-1", "7") == frozenset({"301", "finance", "302", "emea sales"})
    assert asked == ["conn-1"]
    assert box.calls == [("/users/7/memberships", {"limit": "1000", "offset": "0"}, None)]


def test_every_page_is_read(clock: Clock) -> None:
    memberships = [(str(9000 + n), f"Team {n}") for n in range(2500)]
    box = MemoryBox({"7": memberships})
    groups, _ = adapter(box, clock)
    found = groups.groups_of("conn-1", "7")
    assert len(found) == 5000
    assert {"9000", "team 0", "11499", "team 2499"} <= found
    assert [params["offset"] for _, params, _ in box.calls] == ["0", "1000", "2000"]


def test_pages_shorter_than_asked_still_reach_the_end(clock: Clock) -> None:
    # Box may cap the page below the limit asked: the offset follows what came, not the limit.
    box = MemoryBox({"7": [(str(n), f"g{n}") for n in range(5)]}, page_cap=2)
    groups, _ = adapter(box, clock)
    assert groups.groups_of("conn-1", "7") == frozenset({*map(str, range(5)), *(f"g{n}" for n in range(5))})
    assert [params["offset"] for _, params, _ in box.calls] == ["0", "2", "4"]


def test_without_total_count_a_short_page_is_the_last(clock: Clock) -> None:
    box = MemoryBox({"7": [(str(n), f"g{n}") for n in range(1001)]})
    box.with_total = False
    groups, _ = adapter(box, clock)
    assert len(groups.groups_of("conn-1", "7")) == 2002
    assert [params["offset"] for _, params, _ in box.calls] == ["0", "1000"]


def test_no_memberships_is_no_groups_in_one_read(clock: Clock) -> None:
    box = MemoryBox({})
    groups, _ = adapter(box, clock)
    assert groups.groups_of("conn-1", "7") == frozenset()
    assert len(box.calls) == 1


def test_odd_entries_are_skipped_not_fatal(clock: Clock) -> None:
    class OddBox(MemoryBox):
        def get_json(self, path: str, params: dict[str, str], user_id: str | None = None) -> dict[str, Any]:
            return {
                "total_count": 4,
                "entries": [
                    "not an object",
                    {"type": "group_membership"},
                    {"group": {"type": "group", "id": 301}},  # no name, numeric id
                    {"group": {"type": "group", "id": "302", "name": ""}},
                ],
            }

    groups, _ = adapter(OddBox({}), clock)
    assert groups.groups_of("conn-1", "7") == frozenset({"301", "302"})


def test_the_user_id_stays_one_path_segment(clock: Clock) -> None:
    box = MemoryBox({})
    groups, _ = adapter(box, clock)
    groups.groups_of("conn-1", "7/../../events?x=1")
    assert box.paths() == ["/users/7%2F..%2F..%2Fevents%3Fx%3D1/memberships"]


def test_answers_are_kept_per_connection_and_user(clock: Clock) -> None:
    box = MemoryBox({"7": [("301", "Finance")], "8": [("302", "Legal")]})
    groups, asked = adapter(box, clock)
    for _ in range(3):
        assert groups.groups_of("conn-1", "7") == frozenset({"301", "finance"})
    assert groups.groups_of("conn-1", "8") == frozenset({"302", "legal"})
    assert groups.groups_of("conn-2", "7") == frozenset({"301", "finance"})
    assert asked == ["conn-1", "conn-1", "conn-2"]
    assert len(box.calls) == 3


def test_an_answer_expires_after_the_ttl(clock: Clock) -> None:
    box = MemoryBox({"7": [("301", "Finance")]})
    groups, _ = adapter(box, clock)
    groups.groups_of("conn-1", "7")
    box.groups["7"] = [("302", "Legal")]
    clock.now += 15 * 60 - 1
    assert groups.groups_of("conn-1", "7") == frozenset({"301", "finance"})
    clock.now += 1
    assert groups.groups_of("conn-1", "7") == frozenset({"302", "legal"})
    assert len(box.calls) == 2


def test_the_ttl_is_injectable(clock: Clock) -> None:
    box = MemoryBox({"7": [("301", "Finance")]})
    groups, _ = adapter(box, clock, ttl_seconds=10)
    groups.groups_of("conn-1", "7")
    clock.now += 10
    groups.groups_of("conn-1", "7")
    assert len(box.calls) == 2


def test_the_cache_is_bounded_and_drops_the_oldest_read(clock: Clock) -> None:
    box = MemoryBox({"1": [("301", "A")], "2": [("302", "B")], "3": [("303", "C")]})
    groups, _ = adapter(box, clock, max_entries=2, ttl_seconds=100)
    groups.groups_of("c", "1")
    clock.now += 1
    groups.groups_of("c", "2")
    clock.now += 99  # "1" expires and is read again: now the newest read
    groups.groups_of("c", "1")
    groups.groups_of("c", "3")  # over the bound: "2" goes
    box.calls.clear()
    groups.groups_of("c", "1")
    groups.groups_of("c", "3")
    assert box.calls == []
    groups.groups_of("c", "2")
    assert box.paths() == ["/users/2/memberships"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (BoxAccessDenied("Box answered 403"), 403),
        (BoxRequestFailed("Box answered 404", 404, "not_found"), 404),
    ],
)
def test_memberships_box_will_not_show_are_no_groups_and_kept(
    clock: Clock, monkeypatch: pytest.MonkeyPatch, error: BoxCasbError, status: int
) -> None:
    warnings: list[tuple[str, dict[str, Any]]] = []

    class Recorder:
        def warning(self, message: str, *, extra: dict[str, Any]) -> None:
            warnings.append((message, extra))

    monkeypatch.setattr(owner_groups, "logger", Recorder())
    box = MemoryBox({"7": [("301", "Finance")]})
    box.errors["7"] = error
    groups, _ = adapter(box, clock)
    assert groups.groups_of("conn-1", "7") == frozenset()
    assert groups.groups_of("conn-1", "7") == frozenset()
    assert len(box.calls) == 1
    assert [extra for _, extra in warnings] == [{"connection_id": "conn-1", "user_id": "7", "status": status}]


@pytest.mark.parametrize(
    "error",
    [BoxUnavailable("Box answered 503"), BoxRequestFailed("Box answered 400", 400, "bad_request")],
)
def test_other_failures_are_raised_and_not_kept(clock: Clock, error: BoxCasbError) -> None:
    box = MemoryBox({"7": [("301", "Finance")]})
    box.errors["7"] = error
    groups, _ = adapter(box, clock)
    with pytest.raises(type(error)):
        groups.groups_of("conn-1", "7")
    del box.errors["7"]
    assert groups.groups_of("conn-1", "7") == frozenset({"301", "finance"})


def test_reading_stops_at_boxs_offset_limit(clock: Clock) -> None:
    box = MemoryBox({"7": [(str(n), f"g{n}") for n in range(12_000)]})
    groups, _ = adapter(box, clock)
    assert len(groups.groups_of("conn-1", "7")) == 2 * 11_000
    assert max(int(params["offset"]) for _, params, _ in box.calls) == 10_000


@pytest.mark.parametrize("options", [{"ttl_seconds": 0}, {"max_entries": 0}])
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        BoxOwnerGroups(lambda _: MemoryBox({}), **options)
