"""`boxcasb activities` and the Activity block of `boxcasb status`, against the local stack.

One admin connection per module: connecting backfills the fake Box's seeded events. The
queries use a fixed range that ends 3 hours before the connection: every event in it reached
Box before the connection (late arrivals are at most 2 hours late), so the backfill stored all
of them and the stream poller, which runs every minute, can't add any while the tests run.
"""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from boxcasb.cli import main as cli
from boxcasb.cli.api_client import AdminApi
from boxcasb.cli.main import main as boxcasb
from boxcasb.cli.render import activity_line
from devstack.browser import consent
from tests.support.flows import admin_api, get_connection, start_connection

ADMIN = "admin@acme.example"
PLUS_TWO = timezone(timedelta(hours=2))
# created_at, event type, actor, item (may hold spaces), ip address
LINE = re.compile(r"^(\S+)  (\S+) +(\S+) +(.+?) +(\S+)$")


@pytest.fixture(scope="module")
def connection(stack: Any) -> dict[str, Any]:
    api = admin_api(stack.api_url)
    started = start_connection(api)
    page = consent(started["authorize_url"], ADMIN)
    assert page.status == 200, page.message
    stack.wait_for_async(timeout=60)
    connection = get_connection(api, started["connection_id"])
    assert connection["activity"]["backfill"]["status"] == "finished"
    return connection


@pytest.fixture(scope="module")
def span(connection: dict[str, Any]) -> tuple[str, str]:
    """Two days ending 3 hours before the connection, as ISO 8601 in another zone than UTC."""
    connected = datetime.fromisoformat(connection["connected_at"])
    until = (connected - timedelta(hours=3)).astimezone(UTC).replace(microsecond=0)
    since = until - timedelta(days=2)
    # "+02:00" must reach the API as %2B: a bare "+" would arrive as a space, and fail.
    return since.astimezone(PLUS_TWO).isoformat(), until.astimezone(PLUS_TWO).isoformat()


def run(stack: Any, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = boxcasb(["--api-url", stack.api_url, "--region", "us-east-1", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def lines_of(out: str) -> list[re.Match[str]]:
    lines = [LINE.match(line) for line in out.splitlines()]
    assert all(lines), out
    return [m for m in lines if m is not None]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def all_events(stack: Any, capsys: pytest.CaptureFixture[str], cid: str, span: tuple[str, str]) -> Any:
    code, out, err = run(
        stack, capsys, "--json", "activities", cid, "--since", span[0], "--until", span[1], "--limit", "500"
    )
    assert code == 0, err
    assert "--cursor" not in err  # one page holds them all
    return json.loads(out)


def test_lists_events_newest_first_within_the_range(
    stack: Any, connection: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(stack, capsys, "activities", connection["connection_id"], "--since", "2d")
    assert code == 0, err
    lines = lines_of(out)
    assert len(lines) > 10
    times = [utc(m.group(1)) for m in lines]
    assert times == sorted(times, reverse=True)
    assert times[-1] >= datetime.now(UTC) - timedelta(days=2, minutes=5)
    assert any(m.group(3) == ADMIN for m in lines)
    assert any(m.group(4).startswith("file ") for m in lines)  # source.item_type/item_id/item_name


def test_json_is_the_events_as_box_sent_them_and_the_lines_render_them(
    stack: Any, connection: dict[str, Any], span: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    cid = connection["connection_id"]
    events = all_events(stack, capsys, cid, span)
    assert len(events) > 20
    assert all({"event_id", "event_type", "created_at", "created_by"} <= e.keys() for e in events)
    assert all(utc(span[0]) <= utc(e["created_at"]) <= utc(span[1]) for e in events)
    code, out, _ = run(
        stack, capsys, "activities", cid, "--since", span[0], "--until", span[1], "--limit", "500"
    )
    assert code == 0
    assert out.splitlines() == [activity_line(e) for e in events]


def test_event_type_filters(
    stack: Any, connection: dict[str, Any], span: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    cid = connection["connection_id"]
    events = all_events(stack, capsys, cid, span)
    event_type, count = Counter(e["event_type"] for e in events).most_common(1)[0]
    assert count < len(events)
    code, out, err = run(
        stack,
        capsys,
        "activities",
        cid,
        "--since",
        span[0],
        "--until",
        span[1],
        "--event-type",
        event_type.lower(),
    )
    assert code == 0, err
    lines = lines_of(out)
    assert {m.group(2) for m in lines} == {event_type}
    assert len(lines) == count


def test_user_filters_by_box_user_id(
    stack: Any,
    fake_box: Any,
    connection: dict[str, Any],
    span: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    cid = connection["connection_id"]
    admin_id = fake_box.tenant.user_by_login(ADMIN).id
    events = all_events(stack, capsys, cid, span)
    expected = [e["event_id"] for e in events if e["created_by"].get("id") == admin_id]
    assert 0 < len(expected) < len(events)
    code, out, err = run(
        stack, capsys, "--json", "activities", cid, "--since", span[0], "--until", span[1], "--user", admin_id
    )
    assert code == 0, err
    found = json.loads(out)
    assert [e["event_id"] for e in found] == expected
    assert {e["created_by"]["login"] for e in found} == {ADMIN}


def test_limit_gives_a_page_and_the_cursor_hint_gives_the_next(
    stack: Any, connection: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    cid = connection["connection_id"]
    code, out, err = run(stack, capsys, "activities", cid, "--since", "2d", "--limit", "5")
    assert code == 0, err
    first = out.splitlines()
    assert len(lines_of(out)) == 5
    assert "--cursor" in err
    hint = shlex.split(err.strip().splitlines()[-1])
    assert hint[:3] == ["boxcasb", "activities", cid]
    assert any(a.startswith("--cursor=") for a in hint)

    code, out, err = run(stack, capsys, *hint[1:])
    assert code == 0, err
    second = out.splitlines()
    assert len(lines_of(out)) == 5
    assert not set(first) & set(second)
    assert utc(LINE.match(second[0]).group(1)) <= utc(LINE.match(first[-1]).group(1))  # type: ignore[union-attr]

    # The two pages are the first ten events of the pinned range, in order.
    since = next(a for a in hint if a.startswith("--since=")).removeprefix("--since=")
    until = next(a for a in hint if a.startswith("--until=")).removeprefix("--until=")
    code, out, _ = run(
        stack, capsys, "--json", "activities", cid, "--since", since, "--until", until, "--limit", "10"
    )
    assert code == 0
    assert first + second == [activity_line(e) for e in json.loads(out)]


def test_all_follows_the_cursors_to_the_same_events_as_one_big_page(
    stack: Any, connection: dict[str, Any], span: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    cid = connection["connection_id"]
    events = all_events(stack, capsys, cid, span)
    assert len(events) > 3 * 7  # so --limit 7 takes several pages
    code, out, err = run(
        stack,
        capsys,
        "--json",
        "activities",
        cid,
        "--since",
        span[0],
        "--until",
        span[1],
        "--limit",
        "7",
        "--all",
    )
    assert code == 0, err
    assert "--cursor" not in err
    assert [e["event_id"] for e in json.loads(out)] == [e["event_id"] for e in events]


def test_all_stops_after_the_page_bound_and_says_how_to_go_on(
    stack: Any,
    connection: dict[str, Any],
    span: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cid = connection["connection_id"]
    events = all_events(stack, capsys, cid, span)
    monkeypatch.setattr(cli, "MAX_PAGES", 2)
    code, out, err = run(
        stack, capsys, "activities", cid, "--since", span[0], "--until", span[1], "--limit", "5", "--all"
    )
    assert code == 0
    assert out.splitlines() == [activity_line(e) for e in events[:10]]
    assert "Stopped after 2 pages (10 events)" in err
    hint = shlex.split(err.strip().splitlines()[-1])
    assert "--all" in hint
    assert any(a.startswith("--cursor=") for a in hint)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "is not a time"),
        (["--since", "2d ago"], "is not a time"),
        (["--since", "2024-05-01T00:00:00"], "has no time zone"),
        (["--until", "12x"], "is not a time"),
        (["--user", "admin@acme.example"], "is not a Box id"),
        (["--limit", "501"], "is not a page size"),
        (["--event-type", "UP LOAD"], "is not a Box event type"),
    ],
)
def test_malformed_values_exit_2_before_any_request(
    stack: Any,
    connection: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    requests: list[str] = []
    monkeypatch.setattr(AdminApi, "request", lambda self, method, path, body=None: requests.append(path))
    with pytest.raises(SystemExit) as exit_:
        boxcasb(["--api-url", stack.api_url, "activities", connection["connection_id"], *args])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert requests == []


def test_since_after_until_exits_2_before_any_request(
    stack: Any,
    connection: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    requests: list[str] = []
    monkeypatch.setattr(AdminApi, "request", lambda self, method, path, body=None: requests.append(path))
    code, _, err = run(
        stack, capsys, "activities", connection["connection_id"], "--since", "1d", "--until", "2d"
    )
    assert code == 2
    assert "--since must be before --until" in err
    assert requests == []


def test_status_shows_the_activity_block(
    stack: Any, connection: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    cid = connection["connection_id"]
    code, out, _ = run(stack, capsys, "--json", "status", cid)
    assert code == 0
    backfill = json.loads(out)["activity"]["backfill"]
    assert backfill["events_stored"] > 0
    assert backfill["windows_done"] == backfill["windows_total"] > 1
    code, out, _ = run(stack, capsys, "status", cid)
    assert code == 0
    assert "\nActivity\n" in out
    assert (
        f"  Backfill   finished: {backfill['windows_done']}/{backfill['windows_total']} windows, "
        f"{backfill['events_stored']} events stored" in out
    )
    assert f"oldest {backfill['oldest_event']}, newest {backfill['newest_event']}" in out
    assert re.search(r"^  Stream     running: last poll \S+, \d+ events received$", out, re.M)
    assert "reason:" not in out


def test_status_shows_why_a_backfill_stopped(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # A plain user can't read the enterprise event log: the backfill stops before its first window.
    api = admin_api(stack.api_url)
    started = start_connection(api)
    consent(started["authorize_url"], "alice@acme.example")
    stack.wait_for_async(timeout=60)
    backfill = get_connection(api, started["connection_id"])["activity"]["backfill"]
    assert backfill["status"] == "stopped"
    assert backfill["windows_done"] == backfill["windows_total"] == 0  # stopped before any window was planned
    code, out, _ = run(stack, capsys, "status", started["connection_id"])
    assert code == 0
    assert (
        f"  Backfill   stopped: {backfill['windows_done']}/{backfill['windows_total']} windows, "
        f"{backfill['events_stored']} events stored" in out
    )
    assert f"             reason: {backfill['reason']}" in out
