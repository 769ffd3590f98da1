"""Box's text of a file through the real gateway (boxsdk, As-User, the representation's URL) against
the fake Box over HTTP, and the content reader on top of it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from boxcasb.box_gateway.gateway import _may_carry_token
from boxcasb.errors import ContentTooLarge
from boxcasb.inspect.content import ContentReader
from boxcasb.inspect.extract import ExtractLimits
from boxcasb.scan.reads import ScanReads
from devstack.fake_box import FakeBox, File
from devstack.fake_box.render import Renderer
from tests.support.box_gateways import gateway_for

ADMIN, ALICE = "admin@acme.example", "alice@acme.example"
IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture
def box() -> Iterator[FakeBox]:
    with FakeBox("text-client-id", "text-client-secret", port=0, history=False) as fake:
        yield fake


def file_named(box: FakeBox, name: str) -> File:
    return next(f for f in box.tenant.files.values() if f.name == name)


def api_gets(box: FakeBox) -> list[tuple[str, str | None]]:
    """(path, x-rep-hints) of every API call Box received, the token grants left out."""
    return [(r.path, r.headers.get("x-rep-hints")) for r in box.requests if r.path.startswith("/2.0/")]


def test_the_scan_reads_a_pdf_from_box_text_as_its_owner(box: FakeBox) -> None:
    contract = file_named(box, "contract-acme-gmbh.pdf")  # alice's; its bytes are no real PDF
    alice = box.tenant.user_by_login(ALICE).id
    reads = ScanReads(gateway_for(box, ADMIN))
    listed, _ = reads.get_file(contract.id, alice)
    box.clear_requests()
    summary = ContentReader(ExtractLimits()).read(reads, listed, alice, {})
    assert (summary.source, summary.counts, summary.error) == ("extracted_text", {"iban": 1}, None)
    assert IBAN not in " ".join(summary.samples["iban"])
    version = f"/2.0/internal_files/{contract.id}/versions/{contract.version_id}/representations"
    assert api_gets(box) == [
        (f"/2.0/files/{contract.id}", "[extracted_text]"),
        (f"{version}/extracted_text/content/", None),
    ]
    assert all(r.as_user == alice for r in box.requests)


def test_without_ready_text_nothing_is_written_and_the_file_is_downloaded(box: FakeBox) -> None:
    contract = file_named(box, "contract-acme-gmbh.pdf")
    alice = box.tenant.user_by_login(ALICE).id
    gateway = gateway_for(box, ADMIN)
    for pending in (False, True):
        with box.tenant.lock:
            contract.extracted_text, contract.extracted_text_pending = None, pending
        into = io.BytesIO()
        box.clear_requests()
        assert gateway.extracted_text(contract.id, alice, into, 1_000_000) is False
        assert (into.getvalue(), [path for path, _ in api_gets(box)]) == (b"", [f"/2.0/files/{contract.id}"])
    reads = ScanReads(gateway)
    listed, _ = reads.get_file(contract.id, alice)
    summary = ContentReader(ExtractLimits()).read(reads, listed, alice, {})
    # Downloaded and parsed: the seeded bytes are not a PDF, which the summary says.
    assert (summary.source, summary.counts) == ("content", {})
    assert (summary.error or "").startswith("malformed")


def test_text_gone_between_the_two_calls_is_no_text(box: FakeBox) -> None:
    report = file_named(box, "Q3 report.docx")  # alice's own
    box.faults.add(path_regex=r"^/2\.0/internal_files/.*/content/$", status=404)
    into = io.BytesIO()
    assert gateway_for(box, ALICE).extracted_text(report.id, None, into, 1_000_000) is False
    assert into.getvalue() == b""


def test_text_over_the_limit_is_too_large(box: FakeBox) -> None:
    report = file_named(box, "Q3 report.docx")
    box.tenant.update_content(report, b"PK", extracted_text="x" * 3_000_000)
    gateway = gateway_for(box, ALICE)
    with pytest.raises(ContentTooLarge):
        gateway.extracted_text(report.id, None, io.BytesIO(), 2_000_000)
    into = io.BytesIO()
    assert gateway.extracted_text(report.id, None, into, 3_000_000) is True
    assert len(into.getvalue()) == 3_000_000


def test_the_token_goes_to_no_host_but_box(box: FakeBox, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeBox("other-id", "other-secret", port=0, history=False) as elsewhere:
        described = Renderer.text_representation

        def elsewhere_url(self: Renderer, file: File) -> dict[str, Any]:
            entry = described(self, file)
            entry["content"]["url_template"] = entry["content"]["url_template"].replace(
                box.url, elsewhere.url
            )
            return entry

        monkeypatch.setattr(Renderer, "text_representation", elsewhere_url)
        into = io.BytesIO()
        gateway = gateway_for(box, ALICE)
        assert gateway.extracted_text(file_named(box, "Q3 report.docx").id, None, into, 1_000_000) is False
        assert (into.getvalue(), elsewhere.requests) == (b"", [])


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.box.com/2.0/internal_files/1/versions/2/representations/extracted_text/content/", True),
        ("https://dl.boxcloud.com/api/2.0/internal_files/1/versions/2/representations/x/content/", True),
        ("https://boxcloud.com/api/2.0/internal_files/1/content/", True),
        ("http://dl.boxcloud.com/api/2.0/internal_files/1/content/", False),  # not over HTTPS
        ("https://evilboxcloud.com/api/2.0/internal_files/1/content/", False),
        ("https://dl.boxcloud.com.evil.example/api/2.0/internal_files/1/content/", False),
        ("https://api.box.com:8443/2.0/internal_files/1/content/", False),
        ("https://evil.example/?dl.boxcloud.com", False),
    ],
)
def test_the_token_is_sent_only_to_box_hosts(url: str, allowed: bool) -> None:
    assert _may_carry_token(url, "https://api.box.com") is allowed
