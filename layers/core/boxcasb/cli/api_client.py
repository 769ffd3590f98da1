"""HTTP client for the admin API: every request signed with the caller's AWS credentials (SigV4)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []  # one entry per problem, when the API lists them


@dataclass
class AdminApi:
    base_url: str
    session: boto3.Session
    timeout: float = 30.0

    @property
    def region(self) -> str:
        match = _REGION_IN_HOST.search(self.base_url)
        return match.group(1) if match else (self.session.region_name or "us-east-1")

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = self.base_url.rstrip("/") + path
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"content-type": "application/json"} if body is not None else {}
        credentials = self.session.get_credentials()
        if credentials is None:
            raise ApiError(0, "no_credentials", "no AWS credentials found (aws configure, or AWS_PROFILE)")
        signed = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(signed)
        response = requests.request(
            method, url, data=data, headers=dict(signed.headers.items()), timeout=self.timeout
        )
        try:
            payload = response.json() if response.content else {}
        except ValueError:
            payload = {"message": response.text[:200]}
        if response.status_code >= 400:
            raise ApiError(
                response.status_code,
                str(payload.get("error") or "http_error"),
                str(payload.get("message") or response.reason),
                [d for d in payload.get("details") or [] if isinstance(d, dict)],
            )
        return payload if isinstance(payload, dict) else {"value": payload}


def stack_outputs(session: boto3.Session, stack_name: str) -> dict[str, str]:
    stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
