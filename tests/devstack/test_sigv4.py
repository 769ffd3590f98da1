"""SigV4 verification: what botocore signs with the local identity passes; nothing else does."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from devstack.local_aws import LOCAL_IDENTITY
from devstack.sigv4 import SignatureRejected, SignedRequest, verify
from tests.devstack.conftest import sign

URL = "http://127.0.0.1:3000/connections/abc/test?b=2&a=1"
BODY = b'{"reason": "on_demand"}'


def received(
    headers: Mapping[str, str], body: bytes = BODY, path: str = "/connections/abc/test"
) -> SignedRequest:
    # What the gateway sees: the signed headers plus whatever the HTTP client adds unsigned.
    all_headers = [("Host", "127.0.0.1:3000"), ("User-Agent", "python-requests"), *headers.items()]
    return SignedRequest("POST", path, "b=2&a=1", all_headers, body)


def test_botocore_signature_is_accepted() -> None:
    headers = sign("POST", URL, BODY, {"content-type": "application/json"})

    verify(received(headers), LOCAL_IDENTITY)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h: {**h, "content-type": "text/plain"}, "signature does not match"),
        (lambda h: {k: v for k, v in h.items() if k != "Authorization"}, "missing authorization"),
        (
            lambda h: {**h, "Authorization": h["Authorization"].replace("Signature=", "Signature=0")},
            "does not match",
        ),
        (lambda h: {**h, "Authorization": "Bearer abc"}, "not a SigV4"),
    ],
    ids=["signed-header-changed", "missing", "forged-signature", "other-scheme"],
)
def test_tampered_or_missing_signatures_are_rejected(mutate: object, reason: str) -> None:
    headers = sign("POST", URL, BODY, {"content-type": "application/json"})

    with pytest.raises(SignatureRejected, match=reason):
        verify(received(mutate(headers)), LOCAL_IDENTITY)  # type: ignore[operator]


def test_changed_body_or_path_is_rejected() -> None:
    headers = sign("POST", URL, BODY)

    with pytest.raises(SignatureRejected):
        verify(received(headers, body=b'{"reason": "connect"}'), LOCAL_IDENTITY)
    with pytest.raises(SignatureRejected):
        verify(received(headers, path="/connections/other/test"), LOCAL_IDENTITY)


def test_other_secret_key_or_service_is_rejected() -> None:
    with pytest.raises(SignatureRejected, match="does not match"):
        verify(received(sign("POST", URL, BODY, secret_key="not-the-local-key")), LOCAL_IDENTITY)
    with pytest.raises(SignatureRejected, match="signed for lambda"):
        verify(received(sign("POST", URL, BODY, service="lambda")), LOCAL_IDENTITY)


def test_signature_older_or_newer_than_five_minutes_is_rejected() -> None:
    headers = sign("POST", URL, BODY)
    request = received(headers)

    verify(request, LOCAL_IDENTITY, now=datetime.now(UTC) + timedelta(minutes=4))
    with pytest.raises(SignatureRejected, match="more than 5 minutes"):
        verify(request, LOCAL_IDENTITY, now=datetime.now(UTC) + timedelta(minutes=6))
    with pytest.raises(SignatureRejected, match="more than 5 minutes"):
        verify(request, LOCAL_IDENTITY, now=datetime.now(UTC) - timedelta(minutes=6))


def test_content_hash_header_must_match_the_body() -> None:
    headers = sign("POST", URL, BODY, {"X-Amz-Content-SHA256": "0" * 64})

    with pytest.raises(SignatureRejected, match="x-amz-content-sha256"):
        verify(received(headers), LOCAL_IDENTITY)
