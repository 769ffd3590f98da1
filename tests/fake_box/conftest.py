"""Fixtures: a fresh fake Box per test (so clocks, faults and tokens never leak), and clients for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from devstack.fake_box import FakeBox
from tests.fake_box import spec
from tests.fake_box.helpers import CLIENT_ID, CLIENT_SECRET, BoxHttp, FakeClock, Tokens


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def box(clock: FakeClock) -> Iterator[FakeBox]:
    with FakeBox(CLIENT_ID, CLIENT_SECRET, port=0, clock=clock) as fake:
        yield fake


@pytest.fixture
def http(box: FakeBox) -> Iterator[BoxHttp]:
    with requests.Session() as session:
        yield BoxHttp(box, session)


@pytest.fixture
def admin(http: BoxHttp) -> Tokens:
    return http.connect("admin@acme.example")


@pytest.fixture
def alice(http: BoxHttp) -> Tokens:
    return http.connect("alice@acme.example")


@pytest.fixture(scope="session")
def openapi() -> None:
    """Fails (not skips) when the spec is missing: conformance is the point of these tests."""
    if spec.spec_path() is None:
        pytest.fail("box-openapi.json not found: expected in ../shared/reference/, or set BOX_OPENAPI_SPEC")
