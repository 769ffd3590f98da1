"""Verifies AWS Signature Version 4 on requests to IAM-authorized routes, as API Gateway does.

The signature is recomputed with botocore's own SigV4Auth over a reconstructed
request, so anything botocore (and therefore the admin CLI) signs is accepted, and
nothing signed with other credentials, for another service or region, or too long
ago, is.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from devstack.local_aws import REGION, LocalIdentity

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = timedelta(minutes=5)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


class SignatureRejected(Exception):
    """The request is not signed by the local identity (the reason is for logs, never for the caller)."""


@dataclass(frozen=True)
class SignedRequest:
    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]  # as received, names in any case, repeats kept
    body: bytes


@dataclass(frozen=True)
class Authorization:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


class _RecomputingSigner(SigV4Auth):
    """SigV4Auth that signs exactly the headers the caller said it signed.

    botocore picks its own header set (it leaves out user-agent, expect, ...), which
    would misjudge a client that signed more or fewer headers.
    """

    def __init__(self, credentials: Credentials, signed_headers: Sequence[str]) -> None:
        super().__init__(credentials, SERVICE, REGION)
        self._signed = signed_headers

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        header_map = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                header_map[name] = value
        return header_map


def verify(request: SignedRequest, identity: LocalIdentity, now: datetime | None = None) -> None:
    """Return quietly if the local identity signed `request`; raise SignatureRejected otherwise."""
    now = now or datetime.now(UTC)
    headers = _lower_headers(request.headers)
    authorization = parse_authorization(_single(headers, "authorization"))
    if authorization.access_key != identity.access_key:
        raise SignatureRejected(f"unknown access key {authorization.access_key}")
    if (authorization.region, authorization.service) != (REGION, SERVICE):
        raise SignatureRejected(f"signed for {authorization.service} in {authorization.region}")
    for required in ("host", "x-amz-date"):
        if required not in authorization.signed_headers:
            raise SignatureRejected(f"{required} is not among the signed headers")
    missing = [name for name in authorization.signed_headers if name not in headers]
    if missing:
        raise SignatureRejected(f"signed headers missing from the request: {missing}")
    amz_date = _single(headers, "x-amz-date")
    try:
        signed_at = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureRejected(f"malformed X-Amz-Date {amz_date!r}") from None
    if abs(now - signed_at) > MAX_CLOCK_SKEW:
        raise SignatureRejected(f"signature time {amz_date} is more than 5 minutes from now")
    if authorization.date != amz_date[:8]:
        raise SignatureRejected("credential scope date differs from X-Amz-Date")
    declared_hash = headers.get("x-amz-content-sha256")
    if declared_hash is not None and declared_hash[0] != hashlib.sha256(request.body).hexdigest():
        # botocore trusts this header as the payload hash; without the check a signed
        # request could carry any body. API Gateway does not accept unsigned payloads either.
        raise SignatureRejected("x-amz-content-sha256 does not match the body")

    host = _single(headers, "host")
    url = f"http://{host}{request.raw_path}" + (f"?{request.raw_query}" if request.raw_query else "")
    rebuilt = AWSRequest(method=request.method, url=url, data=request.body)
    for name in authorization.signed_headers:
        for value in headers[name]:
            rebuilt.headers[name] = value  # HTTPHeaders appends, so repeated headers stay repeated
    rebuilt.context["timestamp"] = amz_date
    signer = _RecomputingSigner(
        Credentials(identity.access_key, identity.secret_key), authorization.signed_headers
    )
    canonical_request = signer.canonical_request(rebuilt)
    expected = signer.signature(signer.string_to_sign(rebuilt, canonical_request), rebuilt)
    if not hmac.compare_digest(expected, authorization.signature):
        raise SignatureRejected("signature does not match")


def parse_authorization(value: str) -> Authorization:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureRejected(f"not a SigV4 Authorization header ({algorithm or 'empty'})")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, _, field_value = part.strip().partition("=")
        fields[name] = field_value
    try:
        credential = fields["Credential"].split("/")
        signed_headers = tuple(fields["SignedHeaders"].split(";"))
        signature = fields["Signature"]
    except KeyError as exc:
        raise SignatureRejected(f"Authorization header lacks {exc.args[0]}") from None
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise SignatureRejected("malformed credential scope")
    return Authorization(
        credential[0], credential[1], credential[2], credential[3], signed_headers, signature
    )


def _lower_headers(headers: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name.lower(), []).append(value)
    return grouped


def _single(headers: Mapping[str, list[str]], name: str) -> str:
    values: Any = headers.get(name)
    if not values:
        raise SignatureRejected(f"missing {name} header")
    if len(values) != 1:
        raise SignatureRejected(f"repeated {name} header")
    return str(values[0])
