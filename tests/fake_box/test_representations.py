"""Box's text of a file (the `extracted_text` representation) in the fake: described on the file as
the spec shapes it, served behind a bearer token, to whom the file is visible, per version."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from devstack.fake_box import FakeBox, File
from tests.fake_box import spec
from tests.fake_box.helpers import BoxHttp, Tokens

pytestmark = pytest.mark.usefixtures("openapi")

ADMIN, ALICE, BOB, CAROL = (
    "admin@acme.example",
    "alice@acme.example",
    "bob@acme.example",
    "carol@acme.example",
)
TEXT = "Contract with Acme GmbH. IBAN DE89 3704 0044 0532 0130 00\n"


def file_named(box: FakeBox, name: str) -> File:
    return next(f for f in box.tenant.files.values() if f.name == name)


def headers(token: Tokens | None, as_user: str | None = None, **extra: str) -> dict[str, str]:
    sent = {"Authorization": f"Bearer {token.access}"} if token is not None else {}
    return sent | ({"As-User": as_user} if as_user else {}) | extra


def described(
    http: BoxHttp,
    token: Tokens,
    file: File,
    *,
    hints: str | None = "[extracted_text]",
    as_user: str | None = None,
) -> requests.Response:
    extra = {"x-rep-hints": hints} if hints is not None else {}
    return http.session.get(
        f"{http.box.url}/2.0/files/{file.id}",
        params={"fields": "representations"},
        headers=headers(token, as_user, **extra),
        timeout=10,
    )


def text_entry(http: BoxHttp, token: Tokens, file: File, as_user: str | None = None) -> dict[str, Any]:
    """The file's `extracted_text` entry, after checking the whole answer against the spec."""
    answer = described(http, token, file, as_user=as_user)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert spec.violations(body, spec.response_schema("/files/{file_id}", "get", 200)) == []
    assert set(body) == {"type", "id", "etag", "representations"}
    (entry,) = body["representations"]["entries"]
    return dict(entry)


def fetch(http: BoxHttp, url: str, token: Tokens | None, as_user: str | None = None) -> requests.Response:
    return http.session.get(url, headers=headers(token, as_user), timeout=10)


def content_url(entry: dict[str, Any]) -> str:
    return str(entry["content"]["url_template"]).replace("{+asset_path}", "")


def test_ready_text_is_described_as_the_spec_says_and_served_as_utf8(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    contract, alice = file_named(box, "contract-acme-gmbh.pdf"), http.user_id(ALICE)
    entry = text_entry(http, admin, contract, as_user=alice)
    base = f"{box.url}/2.0/internal_files/{contract.id}/versions/{contract.version_id}/representations"
    assert entry == {
        "representation": "extracted_text",
        "properties": {},
        "info": {"url": f"{base}/extracted_text"},
        "status": {"state": "success"},
        "content": {"url_template": f"{base}/extracted_text/content/{{+asset_path}}"},
    }
    text = fetch(http, content_url(entry), admin, as_user=alice)
    assert text.status_code == 200
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text.content.decode() == TEXT
    info = fetch(http, entry["info"]["url"], admin, as_user=alice)
    assert (info.status_code, info.json()) == (200, entry)


@pytest.mark.parametrize(("pending", "state"), [(False, "none"), (True, "pending")])
def test_text_not_made_yet_has_its_state_and_no_content(
    http: BoxHttp, box: FakeBox, alice: Tokens, pending: bool, state: str
) -> None:
    contract = file_named(box, "contract-acme-gmbh.pdf")
    with box.tenant.lock:
        contract.extracted_text = None
        contract.extracted_text_pending = pending
    entry = text_entry(http, alice, contract)
    assert entry["status"] == {"state": state}
    answer = fetch(http, content_url(entry), alice)
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")


def test_the_seed_has_text_for_three_documents_only(box: FakeBox) -> None:
    ready = sorted(f.name for f in box.tenant.files.values() if f.extracted_text_state == "success")
    assert ready == ["Q3 report.docx", "contract-acme-gmbh.pdf", "travel-policy.pdf"]
    assert (
        file_named(box, "Q3 report.docx").extracted_text == file_named(box, "Q3 report.docx").content.decode()
    )
    assert all(
        f.extracted_text_state == "none" for f in box.tenant.files.values() if f.name.endswith(".xlsx")
    )


@pytest.mark.parametrize(
    ("hints", "entries"),
    [
        ("[extracted_text]", 1),
        ("[pdf][extracted_text]", 1),
        ("[jpg?dimensions=32x32][extracted_text]", 1),
        ("[pdf]", 0),
        ("[jpg?dimensions=94x94]", 0),
        (None, 1),  # the spec: without hints, every representation
    ],
)
def test_hints_choose_the_entries(
    http: BoxHttp, box: FakeBox, alice: Tokens, hints: str | None, entries: int
) -> None:
    answer = described(http, alice, file_named(box, "Q3 report.docx"), hints=hints)
    body = answer.json()
    assert spec.violations(body, "File--Full") == []
    assert len(body["representations"]["entries"]) == entries


def test_representations_come_only_when_asked_for(http: BoxHttp, box: FakeBox, alice: Tokens) -> None:
    report = file_named(box, "Q3 report.docx")
    plain = http.session.get(
        f"{box.url}/2.0/files/{report.id}",
        headers=headers(alice, **{"x-rep-hints": "[extracted_text]"}),
        timeout=10,
    )
    assert plain.status_code == 200
    assert "representations" not in plain.json()


def test_the_content_needs_a_live_bearer_token(http: BoxHttp, box: FakeBox, alice: Tokens) -> None:
    url = content_url(text_entry(http, alice, file_named(box, "Q3 report.docx")))
    assert fetch(http, url, None).status_code == 401
    assert http.session.get(url, headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
    box.expire_access_tokens()
    assert fetch(http, url, alice).status_code == 401


def test_as_user_sees_only_what_that_user_sees(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    contract = file_named(box, "contract-acme-gmbh.pdf")  # alice's; carol collaborates above it
    url = content_url(text_entry(http, admin, contract, as_user=http.user_id(ALICE)))
    for who, status in ((None, 404), (ALICE, 200), (CAROL, 200), (BOB, 404)):
        as_user = http.user_id(who) if who else None
        assert described(http, admin, contract, as_user=as_user).status_code == status, who
        assert fetch(http, url, admin, as_user=as_user).status_code == status, who
    # Carol with her own token, as a collaborator: the same text.
    assert fetch(http, url, http.connect(CAROL)).text == TEXT


def test_an_uploader_may_not_have_the_text(http: BoxHttp, box: FakeBox, alice: Tokens) -> None:
    report = file_named(box, "Q3 report.docx")
    url = content_url(text_entry(http, alice, report))
    with box.tenant.lock:
        box.tenant.add_collaboration(report, box.tenant.user_by_login(BOB), role="uploader")
    answer = fetch(http, url, http.connect(BOB))
    assert (answer.status_code, answer.json()["code"]) == (403, "access_denied_insufficient_permissions")


def test_a_new_version_has_its_own_text_and_the_old_url_is_gone(
    http: BoxHttp, box: FakeBox, alice: Tokens
) -> None:
    report = file_named(box, "Q3 report.docx")
    old_url = content_url(text_entry(http, alice, report))
    box.tenant.update_content(report, b"PK new bytes", extracted_text="Q4: flat.\n")
    new_url = content_url(text_entry(http, alice, report))
    assert new_url != old_url
    assert fetch(http, old_url, alice).status_code == 404
    assert fetch(http, new_url, alice).text == "Q4: flat.\n"
    box.tenant.update_content(report, b"PK newer bytes")  # Box has no text of this version yet
    assert text_entry(http, alice, report)["status"] == {"state": "none"}


@pytest.mark.parametrize("asset", ["1.txt", "x"])
def test_text_has_no_paged_assets(http: BoxHttp, box: FakeBox, alice: Tokens, asset: str) -> None:
    url = content_url(text_entry(http, alice, file_named(box, "Q3 report.docx")))
    assert fetch(http, url + asset, alice).status_code == 404
    other = url.replace("/extracted_text/", "/pdf/")
    assert fetch(http, other, alice).status_code == 404
