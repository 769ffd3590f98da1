"""Drive the connect flow the way an admin's CLI and browser do, over real HTTP."""

from __future__ import annotations

from typing import Any

import boto3

from boxcasb.cli.api_client import AdminApi
from devstack.local_aws import LOCAL_IDENTITY


def admin_api(api_url: str, region: str = "us-east-1") -> AdminApi:
    """The admin API client, signing as the local stack's IAM identity."""
    session = boto3.Session(
        region_name=region,
        aws_access_key_id=LOCAL_IDENTITY.access_key,
        aws_secret_access_key=LOCAL_IDENTITY.secret_key,
    )
    return AdminApi(api_url, session)


def start_connection(api: AdminApi, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return api.request("POST", "/connections", body or {})


def get_connection(api: AdminApi, connection_id: str) -> dict[str, Any]:
    return api.request("GET", f"/connections/{connection_id}")


def every_page(api: AdminApi, path: str, key: str, **query: str) -> list[dict[str, Any]]:
    """Every entry of a paged admin API list, following its cursors."""
    entries: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        params = query | ({"cursor": cursor} if cursor else {})
        page = api.request("GET", f"{path}?" + "&".join(f"{k}={v}" for k, v in params.items()))
        entries.extend(page[key])
        cursor = page["cursor"]
        if not cursor:
            return entries
    raise AssertionError("the cursor never ended")
