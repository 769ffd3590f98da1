"""Events per day by type, as the geometry of a stacked bar chart (drawn as SVG by the template).

Pure: events in, numbers out. The template draws bars with CSS classes for colours, so the page
needs no inline style or script (the console's CSP allows neither).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from boxcasb.console.templates import parse_time

WIDTH = 720
HEIGHT = 240
LEFT = 40  # room for the count axis
BOTTOM = 24  # room for the day labels
TOP = 8
SERIES = 6  # the most frequent types get their own colour; the rest are "other"
OTHER = "other"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int  # colour index; SERIES for "other"
    label: str  # "2026-11-01: UPLOAD 12", the bar's tooltip and accessible name


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class DayLabel:
    x: float
    label: str


@dataclass(frozen=True)
class DailyChart:
    days: tuple[date, ...]
    types: tuple[str, ...]  # legend order: the most frequent first, OTHER last if any
    counts: Mapping[tuple[date, str], int]  # (day, legend type) -> events
    total: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    day_labels: tuple[DayLabel, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: float = HEIGHT - BOTTOM

    @property
    def legend(self) -> tuple[tuple[str, int], ...]:
        """(type, colour index) in legend order."""
        return tuple((kind, SERIES if kind == OTHER else index) for index, kind in enumerate(self.types))

    def count(self, day: date, kind: str) -> int:
        return self.counts.get((day, kind), 0)

    def day_total(self, day: date) -> int:
        return sum(self.count(day, kind) for kind in self.types)


def events_per_day(events: Iterable[Mapping[str, Any]], since: datetime, until: datetime) -> DailyChart:
    first, last = since.date(), until.date()
    days = tuple(first + timedelta(days=n) for n in range((last - first).days + 1))
    raw: Counter[tuple[date, str]] = Counter()
    for event in events:
        moment = parse_time(event.get("created_at"))
        if moment is None or not first <= moment.date() <= last:
            continue
        raw[(moment.date(), str(event.get("event_type") or OTHER))] += 1
    by_type: Counter[str] = Counter()
    for (_, kind), n in raw.items():
        by_type[kind] += n
    ranked = [kind for kind, _ in by_type.most_common()]
    named = [kind for kind in ranked if kind != OTHER][:SERIES]
    types = tuple(named + ([OTHER] if len(ranked) > len(named) else []))
    counts: Counter[tuple[date, str]] = Counter()
    for (day, kind), n in raw.items():
        counts[(day, kind if kind in named else OTHER)] += n
    return _layout(days, types, counts)


def _layout(days: tuple[date, ...], types: tuple[str, ...], counts: Counter[tuple[date, str]]) -> DailyChart:
    baseline = HEIGHT - BOTTOM
    peak = max((sum(counts[(day, kind)] for kind in types) for day in days), default=0)
    scale_top = _nice_ceiling(peak)
    slot = (WIDTH - LEFT) / max(1, len(days))
    bar_width = max(1.0, slot * 0.8)
    bars: list[Bar] = []
    for index, day in enumerate(days):
        y = float(baseline)
        for series, kind in enumerate(types):
            n = counts[(day, kind)]
            if not n:
                continue
            height = (baseline - TOP) * n / scale_top
            y -= height
            bars.append(
                Bar(
                    x=round(LEFT + index * slot + (slot - bar_width) / 2, 2),
                    y=round(y, 2),
                    width=round(bar_width, 2),
                    height=round(height, 2),
                    series=SERIES if kind == OTHER else series,
                    label=f"{day.isoformat()}: {kind} {n}",
                )
            )
    ticks = tuple(
        Tick(y=round(baseline - (baseline - TOP) * part / 4, 2), label=str(scale_top * part // 4))
        for part in range(5)
    )
    every = max(1, len(days) // 8)  # at most about eight day labels, so they don't overlap
    labels = tuple(
        DayLabel(x=round(LEFT + index * slot + slot / 2, 2), label=day.strftime("%m-%d"))
        for index, day in enumerate(days)
        if index % every == 0
    )
    return DailyChart(
        days=days,
        types=types,
        counts=dict(counts),
        total=sum(counts.values()),
        bars=tuple(bars),
        ticks=ticks,
        day_labels=labels,
    )


def _nice_ceiling(peak: int) -> int:
    """The axis top: a multiple of 4 (so the quarter ticks are whole numbers), at least 4."""
    return max(4, -(-peak // 4) * 4)
