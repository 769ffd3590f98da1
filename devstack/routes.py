"""HttpApi route selection: which route (and path parameters) a method and path reach.

API Gateway picks the most specific match: literal segments beat `{param}`, which
beats a greedy `{proxy+}`; an exact method beats ANY; `$default` catches the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from devstack.template_model import Route

_VARIABLE = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")
_LITERAL, _PARAMETER, _GREEDY = 0, 1, 2


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str] | None  # None for $default
    names: tuple[str, ...]
    specificity: tuple[int, ...]


class RouteTable:
    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = [_compile(route) for route in routes]

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        method = method.upper()
        candidates: list[tuple[tuple[int, tuple[int, ...], int], RouteMatch]] = []
        for compiled in self._routes:
            route = compiled.route
            if route.method not in (method, "ANY"):
                continue
            if compiled.pattern is None:
                candidates.append(((1, (), 1), RouteMatch(route, {})))
                continue
            found = compiled.pattern.fullmatch(raw_path)
            if found is None:
                continue
            parameters = {
                name: unquote(value) for name, value in zip(compiled.names, found.groups(), strict=True)
            }
            rank = (0, compiled.specificity, 0 if route.method == method else 1)
            candidates.append((rank, RouteMatch(route, parameters)))
        if not candidates:
            return None
        return min(candidates, key=lambda candidate: candidate[0])[1]


def _compile(route: Route) -> _CompiledRoute:
    if route.path == "$default":
        return _CompiledRoute(route, None, (), ())
    parts: list[str] = []
    names: list[str] = []
    specificity: list[int] = []
    segments = route.path.strip("/").split("/") if route.path != "/" else []
    for index, segment in enumerate(segments):
        variable = _VARIABLE.match(segment)
        if variable is None:
            parts.append(re.escape(segment))
            specificity.append(_LITERAL)
        elif variable.group(2):
            if index != len(segments) - 1:
                raise ValueError(f"{route.route_key}: a greedy path variable must be the last segment")
            parts.append("(.+)")
            names.append(variable.group(1))
            specificity.append(_GREEDY)
        else:
            parts.append("([^/]+)")
            names.append(variable.group(1))
            specificity.append(_PARAMETER)
    pattern = re.compile("/" + "/".join(parts))
    return _CompiledRoute(route, pattern, tuple(names), tuple(specificity))
