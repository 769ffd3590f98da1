"""Route selection: most specific route wins, path parameters decoded."""

from __future__ import annotations

import pytest

from devstack.routes import RouteTable
from devstack.template_model import Route


def route(method: str, path: str) -> Route:
    return Route("Fn", f"{method}{path}", "Api", method, path, "NONE")


TABLE = RouteTable(
    [
        route("GET", "/connections"),
        route("GET", "/connections/{connection_id}"),
        route("POST", "/connections/{connection_id}/test"),
        route("ANY", "/connections/special"),
        route("GET", "/connections/special"),
        route("GET", "/files/{path+}"),
        route("ANY", "$default"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "route_key", "parameters"),
    [
        ("GET", "/connections", "GET /connections", {}),
        ("GET", "/connections/abc", "GET /connections/{connection_id}", {"connection_id": "abc"}),
        ("GET", "/connections/a%20b", "GET /connections/{connection_id}", {"connection_id": "a b"}),
        ("POST", "/connections/abc/test", "POST /connections/{connection_id}/test", {"connection_id": "abc"}),
        (
            "GET",
            "/connections/special",
            "GET /connections/special",
            {},
        ),  # literal beats {param}, GET beats ANY
        ("DELETE", "/connections/special", "ANY /connections/special", {}),
        ("GET", "/files/a/b/c.txt", "GET /files/{path+}", {"path": "a/b/c.txt"}),
        ("POST", "/connections", "$default", {}),  # wrong method falls through to $default
        ("GET", "/nowhere", "$default", {}),
    ],
)
def test_most_specific_route_wins(method: str, path: str, route_key: str, parameters: dict[str, str]) -> None:
    match = TABLE.match(method, path)

    assert match is not None
    assert (match.route.route_key, match.path_parameters) == (route_key, parameters)


def test_no_route_no_match() -> None:
    table = RouteTable([route("GET", "/connections/{connection_id}")])

    assert table.match("GET", "/connections") is None
    assert table.match("GET", "/connections/a/b") is None
    assert table.match("POST", "/connections/a") is None
