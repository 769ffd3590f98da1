"""Hostile input on the public OAuth callback: whatever the query, a clean HTML answer and no change."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BASE_EVENT = json.loads(
    (Path(__file__).resolve().parents[2] / "events/oauth_callback_allow.json").read_text()
)
KEYS = st.sampled_from(["state", "code", "error", "error_description", "scope", "x"])
VALUES = st.one_of(
    st.text(max_size=300),
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=30, max_size=140
    ),
    st.sampled_from(["access_denied", "<script>alert(1)</script>", "%00", "a,b", "'; DROP TABLE x;--"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(KEYS, VALUES, max_size=5))
def test_any_query_gets_an_html_answer_and_changes_nothing(
    stack: Any, table: Any, query: dict[str, str]
) -> None:
    event = copy.deepcopy(BASE_EVENT)
    event["queryStringParameters"] = query or None
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    before = table.scan(ConsistentRead=True)["Items"]
    answer = stack.invoke("OAuthCallbackFunction", event)
    assert answer["statusCode"] == 400
    assert answer["headers"]["content-type"] == "text/html; charset=utf-8"
    assert "<script>alert" not in answer["body"]
    assert table.scan(ConsistentRead=True)["Items"] == before
