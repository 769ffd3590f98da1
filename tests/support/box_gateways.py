"""Box gateways for tests that talk to a FakeBox directly, outside the local stack."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from pydantic import SecretStr

from boxcasb.app_credentials import BoxAppCredentials
from boxcasb.box_gateway import BoxApp, BoxGateway
from boxcasb.box_gateway.auth import ConnectionAuth, IssuedTokenSource
from boxcasb.settings import Settings
from devstack.fake_box import FakeBox


def gateway_for(box: FakeBox, login: str) -> BoxGateway:
    """A gateway over a pair issued to `login` by the fake's consent and token endpoints."""
    settings = Settings(
        table_name="unused",
        activity_table_name="unused",
        backfill_queue_url="unused",
        priority_scan_queue_url="unused",
        token_key_arn="unused",
        box_app_secret_arn="unused",
        box_api_base_url=box.url,  # type: ignore[arg-type]
        box_upload_base_url=f"{box.url}/api",  # type: ignore[arg-type]
        box_authorize_url=f"{box.url}/api/oauth2/authorize",  # type: ignore[arg-type]
        box_max_retry_wait_seconds=0.05,  # 5xx retries back off at most this long
    )
    app = BoxApp(BoxAppCredentials(box.client_id, SecretStr(box.client_secret)), settings)
    query = {
        "response_type": "code",
        "client_id": box.client_id,
        "redirect_uri": "https://connector.example/oauth/box/callback",
        "state": "s",
        "login": login,
        "decision": "allow",
    }
    consent = requests.get(
        f"{box.url}/api/oauth2/authorize?{urlencode(query)}", allow_redirects=False, timeout=10
    )
    code = parse_qs(urlsplit(consent.headers["Location"]).query)["code"][0]
    return BoxGateway(app, ConnectionAuth(IssuedTokenSource(app.exchange_code(code)), app))
