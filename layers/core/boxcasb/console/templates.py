"""Jinja2 templates of the console: autoescaped HTML, strict about missing values, a few filters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from boxcasb.console.web import href

NAV = (
    ("connectors", "App connectors", "/"),
    ("scan", "Scan", "/scan"),
    ("files", "Files", "/files"),
    ("activity", "Activity", "/activity"),
    ("alerts", "Alerts", "/alerts"),
    ("policies", "Policies", "/policies"),
)


def parse_time(value: object) -> datetime | None:
    """An API timestamp (ISO 8601, any zone) in UTC; None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(value: object) -> str:
    moment = parse_time(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def size(value: object) -> str:
    if not isinstance(value, int | float):
        return "-"
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"


def actor(event: Mapping[str, Any]) -> str:
    """Who did a Box event: login, else name, else id."""
    who = event.get("created_by")
    who = who if isinstance(who, dict) else {}
    return str(who.get("login") or who.get("name") or who.get("id") or "-")


def item(event: Mapping[str, Any]) -> str:
    """A Box event's item: Box puts files and folders in item_*, users and groups in type/id/name."""
    source = event.get("source")
    if not isinstance(source, dict):
        return "-"
    kind = source.get("item_type") or source.get("type")
    name = source.get("item_name") or source.get("name")
    ident = source.get("item_id") or source.get("id")
    return " ".join(str(p) for p in (kind, name, f"({ident})" if ident else None) if p) or "-"


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("boxcasb.console", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["size"] = size
    env.filters["actor"] = actor
    env.filters["item"] = item
    env.globals["nav"] = NAV
    env.globals["href"] = href
    return env


def render(env: Environment, name: str, values: dict[str, Any]) -> bytes:
    return env.get_template(name).render(values).encode("utf-8")
