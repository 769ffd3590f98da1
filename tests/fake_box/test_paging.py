"""Paging a folder of 2,500 items 1,000 at a time, by offset and by marker, and paging limits."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.fake_box import FakeBox, Folder
from tests.fake_box.helpers import BoxHttp, Tokens

SIZE = 2500


@pytest.fixture
def big_folder(box: FakeBox) -> Folder:
    tenant = box.tenant
    folder = tenant.add_folder(tenant.root_of(tenant.user_by_login("alice@acme.example")), "Big")
    for index in range(SIZE - 100):
        tenant.add_file(folder, f"file-{index:04d}.txt", f"content {index}")
    for index in range(100):
        tenant.add_folder(folder, f"sub-{index:03d}")
    return folder


def expected_order(box: FakeBox, folder: Folder) -> list[str]:
    """Folders first, then files, each by name: the order Box reports."""
    children = box.tenant.children(folder)
    ranked = sorted(children, key=lambda item: (item.type != "folder", item.name))
    return [item.id for item in ranked]


def test_offset_paging(http: BoxHttp, box: FakeBox, alice: Tokens, big_folder: Folder) -> None:
    ids: list[str] = []
    for offset, size in ((0, 1000), (1000, 1000), (2000, 500), (3000, 0)):
        page = http.get(f"/2.0/folders/{big_folder.id}/items", alice, limit=1000, offset=offset).json()
        assert (page["total_count"], page["offset"], page["limit"]) == (SIZE, offset, 1000)
        assert page["order"] == [{"by": "type", "direction": "ASC"}, {"by": "name", "direction": "ASC"}]
        assert len(page["entries"]) == size
        ids += [entry["id"] for entry in page["entries"]]
    assert ids == expected_order(box, big_folder)


@pytest.mark.parametrize("usemarker", ["true", "True"])  # boxsdk sends Python's "True"
def test_marker_paging(
    http: BoxHttp, box: FakeBox, alice: Tokens, big_folder: Folder, usemarker: str
) -> None:
    ids: list[str] = []
    pages: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        params = {"limit": 1000, "usemarker": usemarker, "fields": "name,sha1"}
        page = http.get(
            f"/2.0/folders/{big_folder.id}/items", alice, **params, **({"marker": marker} if marker else {})
        ).json()
        pages.append(page)
        ids += [entry["id"] for entry in page["entries"]]
        marker = page["next_marker"]
        if marker is None:
            break
    assert [len(page["entries"]) for page in pages] == [1000, 1000, 500]
    assert all("total_count" not in page and page["limit"] == 1000 for page in pages)
    assert ids == expected_order(box, big_folder)
    assert set(pages[0]["entries"][-1]) == {"type", "id", "etag", "name", "sha1"}


def test_limits_default_to_100_and_are_capped_at_1000(
    http: BoxHttp, alice: Tokens, big_folder: Folder
) -> None:
    path = f"/2.0/folders/{big_folder.id}/items"
    default = http.get(path, alice).json()
    assert (default["limit"], len(default["entries"])) == (100, 100)
    capped = http.get(path, alice, limit=5000).json()
    assert (capped["limit"], len(capped["entries"])) == (1000, 1000)


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "ten"}, {"offset": "-1"}, {"usemarker": "true", "marker": "!!not-a-marker!!"}],
)
def test_bad_paging_parameters_are_rejected(http: BoxHttp, alice: Tokens, params: dict[str, str]) -> None:
    answer = http.get("/2.0/folders/0/items", alice, **params)
    assert (answer.status_code, answer.json()["code"]) == (400, "bad_request")


def test_users_offset_beyond_10000_is_rejected(http: BoxHttp, admin: Tokens) -> None:
    assert http.get("/2.0/users", admin, offset=10_000).status_code == 200
    assert http.get("/2.0/users", admin, offset=10_001).status_code == 400


def test_users_pages_by_marker(http: BoxHttp, admin: Tokens) -> None:
    first = http.get("/2.0/users", admin, usemarker="true", limit=4).json()
    second = http.get("/2.0/users", admin, usemarker="true", limit=4, marker=first["next_marker"]).json()
    assert (len(first["entries"]), len(second["entries"]), second["next_marker"]) == (4, 2, None)
