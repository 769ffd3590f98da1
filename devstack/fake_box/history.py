"""Generated enterprise events: the seed's 90-day history, and templates for synthetic blocks.

Both draw from one catalog of event types and one way of dressing an event
(actor, source, details) from the tenant's users and items, with a seeded RNG, so
the same tenant and seed always give the same events.

The seeded history (``add_history``) holds, relative to the tenant's ``now``:

- about 2,500 events at whole seconds spread over the 90 days, every type of
  ``EVENT_TYPES`` at least a few times, ``UNKNOWN_TYPES`` included;
- boundary instants, exactly: ``now - 90 days`` (the oldest event), ``now - 60 days``,
  ``now - 14 days`` (the stream's retention edge), every midnight UTC in between,
  and one second before each of the last 7 midnights (``boundary_instants``);
- late arrivals: about 1 in 20 events of the last 14 days reach Box 1 minute to
  2 hours after they happened, so the stream (arrival order) is out of time order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .eventlog import Event, to_us

if TYPE_CHECKING:
    from .tenant import File, Folder, Tenant, User

# Content or exposure changed: the connector rescans the item.
CONTENT_TYPES = (
    "UPLOAD", "EDIT", "ITEM_MODIFY", "COPY", "MOVE", "RENAME", "UNDELETE", "FILE_VERSION_RESTORE", "SHARE",
    "ITEM_SHARED_UPDATE", "UNSHARE", "SHARE_EXPIRATION", "UPDATE_SHARE_EXPIRATION", "COLLABORATION_INVITE",
    "COLLABORATION_ACCEPT", "COLLABORATION_ROLE_CHANGE", "COLLABORATION_REMOVE", "CHANGE_FOLDER_PERMISSION",
    "METADATA_INSTANCE_CREATE", "METADATA_INSTANCE_UPDATE", "METADATA_INSTANCE_DELETE",
)  # fmt: skip
VIEW_TYPES = ("PREVIEW", "DOWNLOAD", "ITEM_OPEN", "CONTENT_ACCESS", "FILE_WATERMARKED_DOWNLOAD")
OTHER_TYPES = (
    "LOGIN", "FAILED_LOGIN", "ADD_LOGIN_ACTIVITY_DEVICE", "ADMIN_LOGIN", "GROUP_ADD_USER", "DELETE", "TRASH",
)  # fmt: skip
# Types the connector does not know: a real one it ignores, and one Box has not invented yet.
UNKNOWN_TYPES = ("SHIELD_ALERT", "FAKEBOX_FUTURE_EVENT")
EVENT_TYPES = (*CONTENT_TYPES, *VIEW_TYPES, *OTHER_TYPES, *UNKNOWN_TYPES)

HISTORY_DAYS = 90
HISTORY_EVENTS = 2400  # random ones, on top of the boundary events and the seed's own
_LATE_SHARE = 0.05
_RETENTION = timedelta(days=14)
_COLLABORATION_TYPES = frozenset(t for t in CONTENT_TYPES if t.startswith("COLLABORATION_"))
_LOGIN_TYPES = frozenset({"LOGIN", "FAILED_LOGIN", "ADD_LOGIN_ACTIVITY_DEVICE"})
_FILE_ONLY = frozenset({"EDIT", "FILE_VERSION_RESTORE", "PREVIEW", "DOWNLOAD", "FILE_WATERMARKED_DOWNLOAD"})
# Relative weights: views and logins dominate, as in a real enterprise log.
_WEIGHTS = {
    **dict.fromkeys(CONTENT_TYPES, 3),
    "UPLOAD": 12,
    "EDIT": 8,
    "SHARE": 5,
    **dict.fromkeys(VIEW_TYPES, 6),
    "PREVIEW": 25,
    "DOWNLOAD": 15,
    **dict.fromkeys(OTHER_TYPES, 3),
    "LOGIN": 30,
    "FAILED_LOGIN": 5,
    **dict.fromkeys(UNKNOWN_TYPES, 1),
}
_ROLES = ("editor", "viewer", "previewer", "uploader", "co-owner")
_USUAL_IPS = {
    "admin@acme.example": "203.0.113.10",
    "alice@acme.example": "203.0.113.11",
    "carol@acme.example": "203.0.113.12",
    "coadmin@acme.example": "203.0.113.13",
    "bob@acme.example": "198.51.100.7",
    "eve@partner.example": "192.0.2.99",
}


def boundary_instants(now: datetime) -> list[datetime]:
    """The instants the seeded history has an event at exactly, oldest first."""
    oldest = now - timedelta(days=HISTORY_DAYS)
    midnight = datetime(oldest.year, oldest.month, oldest.day, tzinfo=UTC) + timedelta(days=1)
    midnights = []
    while midnight < now:
        midnights.append(midnight)
        midnight += timedelta(days=1)
    before_midnight = [m - timedelta(seconds=1) for m in midnights[-7:]]
    fixed = [oldest, now - timedelta(days=60), now - _RETENTION]
    return sorted({*fixed, *midnights, *before_midnight})


@dataclass(frozen=True)
class EventDraft:
    """An event before it has times and a seq."""

    event_type: str
    actor: User
    source: User | File | Folder | None
    ip_address: str
    details: dict[str, Any]
    accessible_by: User | None = None

    def record(self, tenant: Tenant, created_at: datetime, arrived_at: datetime | None = None) -> Event:
        return tenant.add_event(
            self.event_type,
            self.actor,
            source=self.source,
            created_at=created_at,
            arrived_at=arrived_at,
            ip_address=self.ip_address,
            additional_details=self.details,
            accessible_by=self.accessible_by,
        )

    def template(self, tenant: Tenant) -> Event:
        return tenant.event_template(
            self.event_type,
            self.actor,
            source=self.source,
            ip_address=self.ip_address,
            additional_details=self.details,
            accessible_by=self.accessible_by,
        )


class _Dresser:
    """Picks plausible actors, sources and details for an event type from the tenant."""

    def __init__(self, tenant: Tenant) -> None:
        from .tenant import ANONYMOUS_USER

        self.tenant = tenant
        users = list(tenant.users.values())
        self.staff = [u for u in users if u.enterprise_id and u.is_active]
        self.admins = [u for u in self.staff if u.role in ("admin", "coadmin")] or self.staff
        self.plain = [u for u in self.staff if u.role == "user"] or self.staff
        self.people = [u for u in users if u.is_active] or self.staff
        self.anonymous = ANONYMOUS_USER
        self.files = list(tenant.files.values())
        self.folders = [f for f in tenant.folders.values() if not f.is_root]
        self.items: list[File | Folder] = [*self.files, *self.folders]
        if not self.staff:
            raise ValueError("events need at least one active user in the enterprise")

    def draft(self, event_type: str, rng: random.Random) -> EventDraft:
        if event_type in _LOGIN_TYPES or event_type in ("ADMIN_LOGIN", "GROUP_ADD_USER", "SHIELD_ALERT"):
            return self._about_people(event_type, rng)
        candidates: Sequence[File | Folder] = self.files if event_type in _FILE_ONLY else self.items
        if event_type == "CHANGE_FOLDER_PERMISSION":
            candidates = self.folders
        if not candidates:
            actor = rng.choice(self.staff)
            return EventDraft(event_type, actor, None, self._ip(actor, rng), {}, None)
        item = rng.choice(candidates)
        owner = self.tenant.users[item.owner_id]
        details: dict[str, Any] = {"size": item.size} if item.type == "file" else {}
        accessible_by = None
        if event_type in VIEW_TYPES:
            actor = self._viewer(item, owner, rng)
        else:
            actor = owner if owner.is_active and rng.random() < 0.8 else rng.choice(self.staff)
        if event_type in ("SHARE", "ITEM_SHARED_UPDATE"):
            details["access"] = rng.choice(("open", "company", "collaborators"))
        elif event_type in ("SHARE_EXPIRATION", "UPDATE_SHARE_EXPIRATION"):
            details["unshared_at"] = "2031-01-01T00:00:00-08:00"
        elif event_type in _COLLABORATION_TYPES or event_type == "CHANGE_FOLDER_PERMISSION":
            details["role"] = rng.choice(_ROLES)
            accessible_by = rng.choice([u for u in self.people if u.id != owner.id] or self.people)
        elif event_type.startswith("METADATA_INSTANCE_"):
            details["metadata"] = {"scope": f"enterprise_{self.tenant.enterprise.id}", "template": "contract"}
        elif event_type == "FAKEBOX_FUTURE_EVENT":
            details["note"] = "an event type Box may add one day"
        return EventDraft(event_type, actor, item, self._ip(actor, rng), details, accessible_by)

    def _about_people(self, event_type: str, rng: random.Random) -> EventDraft:
        actor = rng.choice(self.people)
        source: User | None = actor
        details: dict[str, Any] = {}
        if event_type == "FAILED_LOGIN":
            source = None
            details["reason"] = "invalid_password"
        elif event_type == "ADMIN_LOGIN":
            actor, source = rng.choice(self.admins), rng.choice(self.plain)
        elif event_type == "GROUP_ADD_USER":
            actor, source = rng.choice(self.admins), rng.choice(self.plain)
            details["group"] = {"id": "90001", "name": rng.choice(("Sales", "Finance", "Design"))}
        elif event_type == "SHIELD_ALERT":
            source = None
            details["shield_alert"] = {
                "rule_category": rng.choice(
                    ("Suspicious Locations", "Anomalous Download", "Suspicious Sessions")
                ),
                "risk_score": rng.randint(40, 99),
                "user": {"id": actor.id, "name": actor.name},
            }
        return EventDraft(event_type, actor, source, self._ip(actor, rng), details, None)

    def _viewer(self, item: File | Folder, owner: User, rng: random.Random) -> User:
        link = item.shared_link
        if link is not None and link.access == "open" and rng.random() < 0.3:
            return self.anonymous
        collaborators = [
            self.tenant.users[c.user_id]
            for c in self.tenant.collaborations_on(item)
            if c.status == "accepted"
        ]
        pool = [u for u in (owner, *collaborators) if u.is_active] or self.staff
        return rng.choice(pool) if rng.random() < 0.9 else rng.choice(self.staff)

    @staticmethod
    def _ip(actor: User, rng: random.Random) -> str:
        usual = _USUAL_IPS.get(actor.login)
        if usual is not None and rng.random() < 0.9:
            return usual
        return f"198.51.100.{rng.randint(1, 254)}"


def _type_table() -> list[str]:
    return [event_type for event_type in EVENT_TYPES for _ in range(_WEIGHTS[event_type])]


@dataclass(frozen=True)
class _Plan:
    """The clock-free part of a history: what happens, and when relative to the seeding second."""

    randoms: list[tuple[int, int, Event]]  # (microseconds before now, arrival delay, body)
    boundary: list[Event]  # bodies for the boundary instants, in order


# Seeding happens for every FakeBox, so the RNG-driven part is computed once per tenant content.
# Entries are only read, never changed; a race between threads at worst computes one twice.
_CACHE_SIZE = 16
_PLANS: dict[tuple[int, tuple[Any, ...]], _Plan] = {}
_MAX_BOUNDARY_EVENTS = 2 * HISTORY_DAYS
_SECOND_US = 1_000_000


def add_history(tenant: Tenant, seeded: list[tuple[datetime, EventDraft]], *, seed: int = 90) -> None:
    """Record the 90-day history together with the seed's own events, all in arrival order.

    They are stored packed (``PackedEvents``): two integer arrays and shared bodies, so a
    seeded tenant costs a few milliseconds and little memory.
    """
    now = tenant.now()
    key = (seed, _fingerprint(tenant))
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= _CACHE_SIZE:
            _PLANS.clear()
        plan = _PLANS[key] = _make_plan(tenant, seed)
    now_us = to_us(now)
    whole_now_us = now_us - now_us % _SECOND_US
    planned: list[tuple[int, int, int, Event]] = []  # (arrived, created, order, body)
    for created, draft in seeded:
        created_us = to_us(created)
        planned.append((created_us, created_us, len(planned), draft.template(tenant)))
    for ago_us, delay_us, body in plan.randoms:
        created_us = whole_now_us - ago_us
        planned.append((created_us + delay_us, created_us, len(planned), body))
    for instant, body in zip(boundary_instants(now), plan.boundary, strict=False):
        instant_us = to_us(instant)
        planned.append((instant_us, instant_us, len(planned), body))
    planned.sort()
    with tenant.lock:
        tenant.events.add_packed([p[1] for p in planned], [p[0] for p in planned], [p[3] for p in planned])


def _make_plan(tenant: Tenant, seed: int) -> _Plan:
    rng = random.Random(seed)
    dresser = _Dresser(tenant)
    table = _type_table()
    span = HISTORY_DAYS * 86_400
    retention, recent = int(_RETENTION.total_seconds()), 3 * 3600
    randoms: list[tuple[int, int, Event]] = []
    # Every type a few times, then the weighted mix.
    mixed = (rng.choice(table) for _ in range(HISTORY_EVENTS - 2 * len(EVENT_TYPES)))
    for event_type in (*EVENT_TYPES, *EVENT_TYPES, *mixed):
        seconds_ago = rng.randint(60, span - 60)
        delay = 0
        if recent < seconds_ago < retention and rng.random() < _LATE_SHARE:
            delay = rng.randint(60, 7200)
        body = dresser.draft(event_type, rng).template(tenant)
        randoms.append((seconds_ago * _SECOND_US, delay * _SECOND_US, body))
    boundary = [
        dresser.draft(EVENT_TYPES[number % len(EVENT_TYPES)], rng).template(tenant)
        for number in range(_MAX_BOUNDARY_EVENTS)
    ]
    return _Plan(randoms, boundary)


def _fingerprint(tenant: Tenant) -> tuple[Any, ...]:
    """What generated events depend on: users, items (as sources snapshot them), links, collaborations."""
    users = tuple((u.id, u.login, u.name, u.role, u.status, u.enterprise_id) for u in tenant.users.values())
    items = tuple(
        (i.type, i.id, i.name, i.owner_id, i.parent_id, i.shared_link and i.shared_link.access, i.size)
        for i in tenant.files.values()
    ) + tuple(
        (
            i.type,
            i.id,
            i.name,
            i.owner_id,
            i.parent_id,
            i.shared_link and i.shared_link.access,
            i.etag,
            i.sequence_id,
        )
        for i in tenant.folders.values()
    )
    collaborations = tuple(
        (c.item_type, c.item_id, c.user_id, c.status) for c in tenant.collaborations.values()
    )
    return (tenant.enterprise, users, items, collaborations)


def event_templates(tenant: Tenant, seed: int, count: int = 2048) -> list[Event]:
    """Event bodies for a synthetic block: the history's mix of types, actors and sources."""
    key = (seed, count, _fingerprint(tenant))
    templates = _TEMPLATES.get(key)
    if templates is None:
        if len(_TEMPLATES) >= _CACHE_SIZE:
            _TEMPLATES.clear()
        templates = _TEMPLATES[key] = _make_templates(tenant, seed, count)
    return templates


# Keyed like _PLANS: per seed and tenant content.
_TEMPLATES: dict[tuple[int, int, tuple[Any, ...]], list[Event]] = {}


def _make_templates(tenant: Tenant, seed: int, count: int) -> list[Event]:
    rng = random.Random(seed)
    dresser = _Dresser(tenant)
    table = _type_table()
    drafts = [dresser.draft(event_type, rng) for event_type in EVENT_TYPES]
    drafts += [dresser.draft(rng.choice(table), rng) for _ in range(count - len(drafts))]
    return [draft.template(tenant) for draft in drafts]
