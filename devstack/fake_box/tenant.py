"""The fake tenant: one enterprise, its users, groups and content, as plain dataclasses.

Everything the server answers is read from here, and tests build the situations
they need with the ``add_*`` helpers (and change them with ``update_content``,
``set_shared_link``, ``change_shared_link``, ``move_file``, ``set_classification``,
``remove_collaboration``, ``delete_item``). Ids are numeric
strings from per-kind counters, so the same sequence of calls always yields the
same ids. Every read and write happens under ``lock``; the server holds it for a
whole API call, and the helpers take it too (it is re-entrant), so tests may call
them while the server runs.

Reads a folder listing needs are O(1) or O(depth) per item, so a page of 1,000
costs the same in a tenant of 100,000 files: folder children are kept per folder,
and collaborations are indexed by item and by collaborator (``Collaborations``,
kept current by every way of adding or removing one). Nothing derived is cached.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping, Sequence, ValuesView
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Protocol

from .eventlog import Event, EventLog, EventOptions, SyntheticEvents, event_id_for

Role = Literal["admin", "coadmin", "user"]
UserStatus = Literal["active", "inactive"]
Access = Literal["open", "company", "collaborators"]
CollaborationRole = Literal[
    "editor",
    "viewer",
    "previewer",
    "uploader",
    "previewer uploader",
    "viewer uploader",
    "co-owner",
]
CollaborationStatus = Literal["accepted", "pending", "rejected"]
GroupRole = Literal["member", "admin"]
TextState = Literal["success", "pending", "none"]  # the representation states the fake gives

ROOT_FOLDER_NAME = "All Files"
ANONYMOUS_USER_ID = "2"  # Box's id for someone not logged in, e.g. behind an open shared link
# Box ids are numeric strings; a distinct range per kind keeps them easy to tell apart in logs.
_ID_STARTS = {
    "user": 20_000_001,
    "folder": 300_000_001,
    "file": 4_000_000_001,
    "file_version": 5_000_000_001,
    "web_link": 600_000_001,
    "collaboration": 70_000_000_001,
    "webhook": 800_001,
    "group": 90_001,
    "group_membership": 9_000_001,
}


@dataclass(frozen=True)
class Enterprise:
    id: str
    name: str
    domain: str  # e-mail domain of its users: anything else is external
    subdomain: str  # shared links live under https://<subdomain>.app.box.com

    def mini(self) -> dict[str, Any]:
        return {"id": self.id, "type": "enterprise", "name": self.name}


@dataclass
class User:
    id: str
    name: str
    login: str
    role: Role
    status: UserStatus
    enterprise_id: str | None  # None: a Box user outside the enterprise (external collaborator)
    created_at: datetime
    root_id: str
    can_manage_users: bool  # co-admin "Manage users": needed for /users and As-User
    can_read_admin_logs: bool  # co-admin "Run reports": needed for admin_logs
    job_title: str = ""
    can_edit_settings: bool = False  # co-admin "Edit settings for your company": suppresses notifications
    can_manage_groups: bool = False  # co-admin "Manage groups": needed for other users' memberships

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    def mini(self) -> dict[str, Any]:
        if not self.login:
            # Box's anonymous user: "not all attributes are populated" (the spec); the fake omits login.
            return {"type": "user", "id": self.id, "name": self.name}
        return {"type": "user", "id": self.id, "name": self.name, "login": self.login}


@dataclass
class SharedLink:
    access: Access
    token: str
    effective_access: Access | None = None  # None: same as access; enterprise settings can narrow it
    can_download: bool = True
    can_edit: bool = False
    is_password_enabled: bool = False
    download_count: int = 0
    preview_count: int = 0


@dataclass(kw_only=True)
class _Item:
    id: str
    name: str
    owner_id: str
    parent_id: str | None
    created_by_id: str
    created_at: datetime
    modified_at: datetime
    etag: str = "0"
    sequence_id: str = "0"
    description: str = ""
    shared_link: SharedLink | None = None
    classification: str | None = None  # a key of Tenant.classifications
    classification_version: int = 0  # the classification metadata instance's $version


@dataclass(kw_only=True)
class Folder(_Item):
    type: ClassVar[Literal["folder"]] = "folder"

    @property
    def is_root(self) -> bool:
        return self.parent_id is None

    def mini(self) -> dict[str, Any]:
        if self.is_root:
            # Every user sees their own root as folder "0", which has no etag or sequence.
            return {"type": "folder", "id": "0", "sequence_id": None, "etag": None, "name": ROOT_FOLDER_NAME}
        return {
            "type": "folder",
            "id": self.id,
            "sequence_id": self.sequence_id,
            "etag": self.etag,
            "name": self.name,
        }


@dataclass(kw_only=True)
class File(_Item):
    type: ClassVar[Literal["file"]] = "file"
    content: bytes = b""
    version_id: str
    # Box's text of the current version (its ``extracted_text`` representation); None: Box has
    # none, and the state says whether it is coming (``pending``) or would be made on request.
    extracted_text: str | None = None
    extracted_text_pending: bool = False

    @property
    def extracted_text_state(self) -> TextState:
        if self.extracted_text is not None:
            return "success"
        return "pending" if self.extracted_text_pending else "none"

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.content, usedforsecurity=False).hexdigest()

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(kw_only=True)
class WebLink(_Item):
    type: ClassVar[Literal["web_link"]] = "web_link"
    url: str


Item = Folder | File | WebLink


@dataclass
class Collaboration:
    id: str
    item_type: Literal["file", "folder"]
    item_id: str
    user_id: str  # the collaborator (accessible_by); "" for an invite by mail (``invite_email``)
    role: CollaborationRole
    status: CollaborationStatus
    created_by_id: str
    created_at: datetime
    invite_email: str | None = None  # an invite to an address with no Box account (always pending)


class Collaborations(MutableMapping[str, Collaboration]):
    """The tenant's collaborations by id (a dict, in insertion order), indexed by item and by user.

    Every change through the mapping keeps the indexes current. A collaboration's item
    and collaborator (``item_type``, ``item_id``, ``user_id``) are fixed once it is added;
    its role and status may change in place.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, Collaboration] = {}
        self._by_item: dict[tuple[str, str], dict[str, Collaboration]] = {}
        self._by_user: dict[str, dict[str, Collaboration]] = {}

    def __getitem__(self, collaboration_id: str) -> Collaboration:
        return self._by_id[collaboration_id]

    def __setitem__(self, collaboration_id: str, collaboration: Collaboration) -> None:
        if collaboration_id in self._by_id:
            del self[collaboration_id]
        self._by_id[collaboration_id] = collaboration
        key = (collaboration.item_type, collaboration.item_id)
        self._by_item.setdefault(key, {})[collaboration_id] = collaboration
        if collaboration.user_id:
            self._by_user.setdefault(collaboration.user_id, {})[collaboration_id] = collaboration

    def __delitem__(self, collaboration_id: str) -> None:
        collaboration = self._by_id.pop(collaboration_id)
        _unindex(self._by_item, (collaboration.item_type, collaboration.item_id), collaboration_id)
        if collaboration.user_id:
            _unindex(self._by_user, collaboration.user_id, collaboration_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __repr__(self) -> str:
        return f"Collaborations({self._by_id!r})"

    def values(self) -> ValuesView[Collaboration]:
        return self._by_id.values()

    def on_item(self, item_type: str, item_id: str) -> list[Collaboration]:
        """The collaborations on that item itself (not on folders above it), oldest first."""
        entries = self._by_item.get((item_type, item_id))
        return list(entries.values()) if entries else []

    def of_user(self, user_id: str) -> list[Collaboration]:
        """The user's collaborations (as the collaborator), oldest first."""
        entries = self._by_user.get(user_id)
        return list(entries.values()) if entries else []


def _unindex[K](index: dict[K, dict[str, Collaboration]], key: K, collaboration_id: str) -> None:
    entries = index[key]
    del entries[collaboration_id]
    if not entries:
        del index[key]


def _bump(item: Folder | File | WebLink) -> None:
    """A change to the item: its etag and sequence_id (decimal counters here) move on."""
    item.etag = str(int(item.etag) + 1)
    item.sequence_id = str(int(item.sequence_id) + 1)


@functools.cache
def _session_id(user_id: str) -> str:
    return hashlib.sha256(f"session:{user_id}".encode()).hexdigest()[:20]


# The actor of events done without logging in; not a member of any tenant.
ANONYMOUS_USER = User(
    id=ANONYMOUS_USER_ID,
    name="Anonymous User",
    login="",
    role="user",
    status="active",
    enterprise_id=None,
    created_at=datetime(2005, 1, 1, tzinfo=UTC),
    root_id="",
    can_manage_users=False,
    can_read_admin_logs=False,
)


@dataclass
class Webhook:
    id: str
    target_type: Literal["file", "folder"]
    target_id: str
    address: str
    triggers: list[str]
    created_by_id: str
    created_at: datetime
    client_id: str  # webhooks belong to the app that created them


@dataclass
class Group:
    """A managed group of the enterprise (Box's ``managed_group``; the all-users group is not modelled)."""

    id: str
    name: str
    created_at: datetime
    description: str = ""

    def mini(self) -> dict[str, Any]:
        return {"type": "group", "id": self.id, "name": self.name, "group_type": "managed_group"}


@dataclass
class GroupMembership:
    id: str
    group_id: str
    user_id: str
    role: GroupRole
    created_at: datetime


@dataclass(frozen=True)
class Notification:
    """What Box would tell people about a write made through the API, and whether it was kept quiet.

    ``recipients`` are user ids (or invited addresses). ``suppressed``: the caller asked for
    silence (``Box-Notifications: off``, or ``notify=false`` on an invite) and was allowed it; a
    suppressed write also sends no webhook deliveries.
    """

    kind: str
    item_type: str
    item_id: str
    actor_id: str
    recipients: tuple[str, ...]
    asked_quiet: bool
    suppressed: bool


class TenantListener(Protocol):
    """Told about changes as they happen, with the tenant lock held: must not block."""

    def event_recorded(self, tenant: Tenant, event: Event) -> None: ...

    def items_deleting(self, tenant: Tenant, items: Sequence[Item], by: User | None) -> None: ...


class Tenant:
    """One enterprise's users, content, collaborations, events and webhooks.

    ``listeners`` hear of every event recorded one at a time (``add_event``,
    ``add_event_like``, ``add_late_event``; not synthetic blocks) and of deletions
    (``delete_item``); a FakeBox registers the one that sends webhook deliveries.
    """

    def __init__(
        self,
        enterprise: Enterprise,
        *,
        clock: Callable[[], float] = time.time,
        event_options: EventOptions | None = None,
    ) -> None:
        self.enterprise = enterprise
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.folders: dict[str, Folder] = {}
        self.files: dict[str, File] = {}
        self.web_links: dict[str, WebLink] = {}
        self.collaborations = Collaborations()
        # Every event in stream (recording) order: a Sequence[Event], indexed for both feeds.
        self.events = EventLog()
        self.event_options = event_options or EventOptions()
        self.webhooks: dict[str, Webhook] = {}
        self.groups: dict[str, Group] = {}
        self.group_memberships: dict[str, GroupMembership] = {}
        # Box classification labels: name -> (definition, color).
        self.classifications: dict[str, tuple[str, str]] = {}
        self.listeners: list[TenantListener] = []
        # Box support enables "Can suppress email notifications from API calls" per app. Off here,
        # Box-Notifications: off changes nothing: the notifications go out (Box does not document
        # its answer; refusing the call would be the other reading).
        self.notification_suppression_enabled = True
        self.notifications: list[Notification] = []
        self._clock = clock
        self._children: dict[str, list[Item]] = {}
        self._ids = {kind: itertools.count(start) for kind, start in _ID_STARTS.items()}

    # ----- building -------------------------------------------------------

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def add_user(
        self,
        login: str,
        name: str | None = None,
        *,
        role: Role = "user",
        status: UserStatus = "active",
        external: bool = False,
        created_at: datetime | None = None,
        can_manage_users: bool | None = None,
        can_read_admin_logs: bool | None = None,
        job_title: str = "",
        can_edit_settings: bool | None = None,
        can_manage_groups: bool | None = None,
    ) -> User:
        """Add a user with an empty root folder; admins and co-admins get every privilege by default."""
        with self.lock:
            if any(user.login == login for user in self.users.values()):
                raise ValueError(f"a user with login {login!r} exists")
            privileged = role in ("admin", "coadmin")
            created = created_at or self.now()
            user_id = self._next_id("user")
            root = Folder(
                id=self._next_id("folder"),
                name=ROOT_FOLDER_NAME,
                owner_id=user_id,
                parent_id=None,
                created_by_id=user_id,
                created_at=created,
                modified_at=created,
            )
            self.folders[root.id] = root
            self._children[root.id] = []
            user = User(
                id=user_id,
                name=name or login.partition("@")[0].capitalize(),
                login=login,
                role=role,
                status=status,
                enterprise_id=None if external else self.enterprise.id,
                created_at=created,
                root_id=root.id,
                can_manage_users=privileged if can_manage_users is None else can_manage_users,
                can_read_admin_logs=privileged if can_read_admin_logs is None else can_read_admin_logs,
                job_title=job_title,
                can_edit_settings=privileged if can_edit_settings is None else can_edit_settings,
                can_manage_groups=privileged if can_manage_groups is None else can_manage_groups,
            )
            self.users[user.id] = user
            return user

    def add_folder(
        self,
        parent: Folder,
        name: str,
        *,
        created_at: datetime | None = None,
        shared_link: Access | None = None,
    ) -> Folder:
        with self.lock:
            created = created_at or self.now()
            folder = Folder(
                id=self._next_id("folder"),
                name=name,
                owner_id=parent.owner_id,
                parent_id=parent.id,
                created_by_id=parent.owner_id,
                created_at=created,
                modified_at=created,
            )
            self.folders[folder.id] = folder
            self._children[folder.id] = []
            self._children[parent.id].append(folder)
            if shared_link is not None:
                self.share(folder, shared_link)
            return folder

    def add_file(
        self,
        parent: Folder,
        name: str,
        content: bytes | str = b"",
        *,
        created_at: datetime | None = None,
        modified_at: datetime | None = None,
        shared_link: Access | None = None,
        classification: str | None = None,
        extracted_text: str | None = None,
    ) -> File:
        """``extracted_text``: Box's text of the file (its representation), None for none."""
        with self.lock:
            if classification is not None and classification not in self.classifications:
                raise ValueError(f"unknown classification {classification!r}")
            created = created_at or self.now()
            file = File(
                id=self._next_id("file"),
                name=name,
                owner_id=parent.owner_id,
                parent_id=parent.id,
                created_by_id=parent.owner_id,
                created_at=created,
                modified_at=modified_at or created,
                content=content.encode() if isinstance(content, str) else content,
                version_id=self._next_id("file_version"),
                classification=classification,
                extracted_text=extracted_text,
            )
            self.files[file.id] = file
            self._children[parent.id].append(file)
            if shared_link is not None:
                self.share(file, shared_link)
            return file

    def add_web_link(
        self, parent: Folder, name: str, url: str, *, created_at: datetime | None = None
    ) -> WebLink:
        with self.lock:
            created = created_at or self.now()
            link = WebLink(
                id=self._next_id("web_link"),
                name=name,
                url=url,
                owner_id=parent.owner_id,
                parent_id=parent.id,
                created_by_id=parent.owner_id,
                created_at=created,
                modified_at=created,
            )
            self.web_links[link.id] = link
            self._children[parent.id].append(link)
            return link

    def share(self, item: Item, access: Access, *, effective_access: Access | None = None) -> SharedLink:
        """Create or replace the item's shared link (the token is derived from the item, so stable).

        A builder: the item's etag and sequence_id stay (see ``set_shared_link`` for a change).
        """
        with self.lock:
            token = hashlib.sha256(f"{item.type}:{item.id}".encode()).hexdigest()[:32]
            item.shared_link = SharedLink(access=access, token=token, effective_access=effective_access)
            return item.shared_link

    def set_shared_link(
        self, item: Item, access: Access | None, *, effective_access: Access | None = None
    ) -> SharedLink | None:
        """Change the item's shared link as a user does (``None`` removes it): etag and sequence_id move on.

        No event is recorded (add a ``SHARE``, ``ITEM_SHARED_UPDATE`` or ``UNSHARE`` for that).
        """
        with self.lock:
            if access is None:
                item.shared_link = None
            else:
                self.share(item, access, effective_access=effective_access)
            _bump(item)
            return item.shared_link

    def change_shared_link(
        self,
        item: Item,
        access: Access | None,
        *,
        can_download: bool | None = None,
        can_edit: bool | None = None,
        password_enabled: bool | None = None,
    ) -> SharedLink | None:
        """Box's ``PUT`` of ``shared_link``: ``None`` removes the link; a change keeps its URL and
        counts (``None`` arguments keep what the link had); the enterprise's narrowing
        (``effective_access``) no longer applies. Etag and sequence_id move on.
        """
        with self.lock:
            if access is None:
                item.shared_link = None
            else:
                link = item.shared_link
                if link is None:
                    link = self.share(item, access)
                else:
                    link.access, link.effective_access = access, None
                if can_download is not None:
                    link.can_download = can_download
                if can_edit is not None:
                    link.can_edit = can_edit
                if password_enabled is not None:
                    link.is_password_enabled = password_enabled
            _bump(item)
            return item.shared_link

    def move_file(self, file: File, parent: Folder) -> None:
        """Move the file into ``parent``. Box gives an item the owner of the folder it is in, so a
        file moved into someone else's folder becomes theirs. Etag and sequence_id move on."""
        with self.lock:
            if file.parent_id == parent.id:
                return
            if file.parent_id is not None:
                siblings = self._children[file.parent_id]
                siblings[:] = [child for child in siblings if child is not file]
            self._children[parent.id].append(file)
            file.parent_id = parent.id
            file.owner_id = parent.owner_id
            _bump(file)

    def set_classification(self, item: Item, name: str) -> None:
        """Apply a classification label (Box's securityClassification metadata instance)."""
        with self.lock:
            if name not in self.classifications:
                raise ValueError(f"unknown classification {name!r}")
            if item.classification is not None:
                item.classification_version += 1
            item.classification = name

    def update_content(
        self,
        file: File,
        content: bytes | str,
        *,
        modified_at: datetime | None = None,
        extracted_text: str | None = None,
    ) -> File:
        """Upload a new version of the file, as an edit does.

        New content (so sha1 and size), a new ``file_version`` id, etag and sequence_id
        move on, ``modified_at`` is now (or as given). Box's text is the new version's
        (``extracted_text``; None: none yet). No event is recorded (add an ``EDIT`` or
        ``UPLOAD`` for that).
        """
        with self.lock:
            file.content = content.encode() if isinstance(content, str) else content
            file.extracted_text = extracted_text
            file.extracted_text_pending = False
            file.version_id = self._next_id("file_version")
            file.modified_at = modified_at or self.now()
            _bump(file)
            return file

    def add_collaboration(
        self,
        item: File | Folder,
        user: User,
        *,
        role: CollaborationRole = "editor",
        status: CollaborationStatus = "accepted",
        created_by: User | None = None,
        created_at: datetime | None = None,
    ) -> Collaboration:
        with self.lock:
            collaboration = Collaboration(
                id=self._next_id("collaboration"),
                item_type=item.type,
                item_id=item.id,
                user_id=user.id,
                role=role,
                status=status,
                created_by_id=(created_by.id if created_by else item.owner_id),
                created_at=created_at or self.now(),
            )
            self.collaborations[collaboration.id] = collaboration
            return collaboration

    def invite_by_email(
        self,
        item: File | Folder,
        email: str,
        *,
        role: CollaborationRole = "viewer",
        created_by: User | None = None,
        created_at: datetime | None = None,
    ) -> Collaboration:
        """An invite to an address with no Box account: pending until someone signs up with it."""
        with self.lock:
            collaboration = Collaboration(
                id=self._next_id("collaboration"),
                item_type=item.type,
                item_id=item.id,
                user_id="",
                role=role,
                status="pending",
                created_by_id=(created_by.id if created_by else item.owner_id),
                created_at=created_at or self.now(),
                invite_email=email,
            )
            self.collaborations[collaboration.id] = collaboration
            return collaboration

    def remove_collaboration(self, collaboration: Collaboration) -> None:
        """End a collaboration (no event is recorded: add a ``COLLABORATION_REMOVE`` for that)."""
        with self.lock:
            del self.collaborations[collaboration.id]

    def add_event(
        self,
        event_type: str,
        actor: User,
        *,
        source: User | File | Folder | None = None,
        created_at: datetime | None = None,
        arrived_at: datetime | None = None,
        ip_address: str = "203.0.113.10",
        additional_details: dict[str, Any] | None = None,
        accessible_by: User | None = None,
        notify: bool = True,
    ) -> Event:
        """Record an enterprise event; it is appended to the stream in call order.

        ``created_at`` defaults to now and ``arrived_at`` (when Box had it) to ``created_at``.
        ``notify=False`` records it without telling the listeners (no webhook deliveries), as
        for a write made with notifications suppressed.
        """
        with self.lock:
            template = self.event_template(
                event_type,
                actor,
                source=source,
                ip_address=ip_address,
                additional_details=additional_details,
                accessible_by=accessible_by,
            )
            return self.add_event_like(
                template, created_at=created_at or self.now(), arrived_at=arrived_at, notify=notify
            )

    def add_event_like(
        self,
        template: Event,
        *,
        created_at: datetime,
        arrived_at: datetime | None = None,
        notify: bool = True,
    ) -> Event:
        """Record an event with ``template``'s body (see ``event_template``) and its own seq, id and times."""
        arrived = arrived_at or created_at
        if arrived < created_at:
            raise ValueError("an event cannot arrive before it happened")
        if arrived > self.now():
            # The stream is in arrival order: what has not arrived yet is not recorded yet.
            raise ValueError("an event cannot arrive in the future; add it when the clock gets there")
        with self.lock:
            seq = self.events.allocate_seq()
            event = Event(
                seq=seq,
                event_id=event_id_for(seq),
                event_type=template.event_type,
                created_at=created_at,
                arrived_at=arrived,
                created_by=template.created_by,
                source=template.source,
                ip_address=template.ip_address,
                session_id=template.session_id,
                additional_details=template.additional_details,
                extra=template.extra,
            )
            self.events.record(event)
            for listener in list(self.listeners) if notify else ():
                listener.event_recorded(self, event)
            return event

    def add_late_event(
        self,
        event_type: str,
        actor: User,
        *,
        created_at: datetime,
        source: User | File | Folder | None = None,
        ip_address: str = "203.0.113.10",
        additional_details: dict[str, Any] | None = None,
        accessible_by: User | None = None,
    ) -> Event:
        """An event that happened at ``created_at`` (in the past) and reaches Box only now.

        The stream gets it at its end, after events created later; admin_logs sorts it
        back in time, so a window already read past it never sees it.
        """
        with self.lock:
            now = self.now()
            if created_at >= now:
                raise ValueError("a late event happened in the past")
            return self.add_event(
                event_type,
                actor,
                source=source,
                created_at=created_at,
                arrived_at=now,
                ip_address=ip_address,
                additional_details=additional_details,
                accessible_by=accessible_by,
            )

    def add_synthetic_events(
        self, count: int, start: datetime, end: datetime, *, seed: int = 0
    ) -> SyntheticEvents:
        """Append ``count`` generated events, created (and arrived) in ``[start, end)``, rising with seq.

        They are stored as a formula, not as objects: a million cost a few hundred bytes
        plus their templates (built now from the tenant's users and items, so later
        changes to the tenant do not show), and reading a page costs O(log N + limit).
        """
        from .history import event_templates

        if end <= start or end > self.now():
            raise ValueError("synthetic events need start < end <= now")
        with self.lock:
            return self.events.add_block(count, start, end, seed, event_templates(self, seed))

    def event_template(
        self,
        event_type: str,
        actor: User,
        *,
        source: User | File | Folder | None = None,
        ip_address: str = "203.0.113.10",
        additional_details: dict[str, Any] | None = None,
        accessible_by: User | None = None,
    ) -> Event:
        """An unrecorded event body: seq 0, no id, epoch times (what synthetic blocks copy from)."""
        epoch = datetime.fromtimestamp(0, UTC)
        return Event(
            seq=0,
            event_id="",
            event_type=event_type,
            created_at=epoch,
            arrived_at=epoch,
            created_by=actor.mini(),
            source=self._event_source(source),
            ip_address=ip_address,
            session_id=_session_id(actor.id),
            additional_details=dict(additional_details or {}),
            extra={"accessible_by": accessible_by.mini()} if accessible_by else {},
        )

    def add_webhook(
        self,
        target: File | Folder,
        address: str,
        triggers: list[str],
        *,
        created_by: User,
        client_id: str,
    ) -> Webhook:
        with self.lock:
            webhook = Webhook(
                id=self._next_id("webhook"),
                target_type=target.type,
                target_id=target.id,
                address=address,
                triggers=list(triggers),
                created_by_id=created_by.id,
                created_at=self.now(),
                client_id=client_id,
            )
            self.webhooks[webhook.id] = webhook
            return webhook

    def add_group(self, name: str, *, description: str = "", created_at: datetime | None = None) -> Group:
        """A managed group; names are unique in the enterprise (Box refuses a second with 409)."""
        with self.lock:
            if any(group.name == name for group in self.groups.values()):
                raise ValueError(f"a group named {name!r} exists")
            group = Group(
                id=self._next_id("group"),
                name=name,
                created_at=created_at or self.now(),
                description=description,
            )
            self.groups[group.id] = group
            return group

    def add_membership(
        self, group: Group, user: User, role: GroupRole = "member", *, created_at: datetime | None = None
    ) -> GroupMembership:
        """Put a user in a group, once; only the enterprise's own users can be members."""
        with self.lock:
            if user.enterprise_id != self.enterprise.id:
                raise ValueError(f"{user.login} is not a user of the enterprise")
            if any(m.group_id == group.id for m in self.memberships_of(user)):
                raise ValueError(f"{user.login} is already a member of {group.name!r}")
            membership = GroupMembership(
                id=self._next_id("group_membership"),
                group_id=group.id,
                user_id=user.id,
                role=role,
                created_at=created_at or self.now(),
            )
            self.group_memberships[membership.id] = membership
            return membership

    def delete_item(self, item: Item, *, by: User | None = None) -> list[Item]:
        """Remove the item and everything beneath it, with their collaborations; returns what went.

        Nothing is recorded in the event log (add a ``TRASH`` or ``DELETE`` event for that).
        Listeners hear of it first, while the items still exist: webhooks on them are
        deleted (``WEBHOOK.DELETED``).
        """
        with self.lock:
            if isinstance(item, Folder) and item.is_root:
                raise ValueError("a user's root folder cannot be deleted")
            doomed: list[Item] = [item]
            if isinstance(item, Folder):
                doomed.extend(self._below(item))
            for listener in list(self.listeners):
                listener.items_deleting(self, doomed, by)
            if item.parent_id is not None:
                siblings = self._children[item.parent_id]
                siblings[:] = [child for child in siblings if child is not item]
            for entry in doomed:
                if isinstance(entry, Folder):
                    del self.folders[entry.id]
                    del self._children[entry.id]
                elif isinstance(entry, File):
                    del self.files[entry.id]
                else:
                    del self.web_links[entry.id]
                for collaboration in self.collaborations.on_item(entry.type, entry.id):
                    del self.collaborations[collaboration.id]
            return doomed

    # ----- reading --------------------------------------------------------

    def user_by_login(self, login: str) -> User:
        with self.lock:
            for user in self.users.values():
                if user.login == login:
                    return user
        raise KeyError(login)

    def root_of(self, user: User) -> Folder:
        return self.folders[user.root_id]

    def memberships_of(self, user: User) -> list[GroupMembership]:
        """The user's group memberships, oldest first (a scan: tenants hold few memberships)."""
        return [m for m in self.group_memberships.values() if m.user_id == user.id]

    def find_item(self, kind: str, item_id: str) -> Item | None:
        if kind == "folder":
            return self.folders.get(item_id)
        if kind == "file":
            return self.files.get(item_id)
        if kind == "web_link":
            return self.web_links.get(item_id)
        return None

    def collaboration_item(self, collaboration: Collaboration) -> File | Folder:
        if collaboration.item_type == "file":
            return self.files[collaboration.item_id]
        return self.folders[collaboration.item_id]

    def children(self, folder: Folder) -> list[Item]:
        return list(self._children[folder.id])

    def ancestors(self, item: Item) -> list[Folder]:
        """The folders above the item, its owner's root first."""
        chain: list[Folder] = []
        parent_id = item.parent_id
        while parent_id is not None:
            parent = self.folders[parent_id]
            chain.append(parent)
            parent_id = parent.parent_id
        chain.reverse()
        return chain

    def collaborations_on(self, item: Item) -> list[Collaboration]:
        """The collaborations on the item itself (not on folders above it), oldest first."""
        return self.collaborations.on_item(item.type, item.id)

    def access_role(self, user: User, item: Item) -> str | None:
        """'owner', the collaboration role that reaches the item (on it or a folder above), or None."""
        if item.owner_id == user.id:
            return "owner"
        for candidate in (item, *reversed(self.ancestors(item))):
            role = self._collaboration_role(user, candidate)
            if role is not None:
                return role
        return None

    def can_see(self, user: User, item: Item) -> bool:
        return self.access_role(user, item) is not None

    def listing(self, viewer: User, folder: Folder) -> list[Item]:
        """What the viewer finds in the folder; their root also shows what others shared with them."""
        items = self.children(folder)
        if folder.id == viewer.root_id:
            items.extend(self._shared_with(viewer))
        return items

    def path_for(self, viewer: User, item: Item) -> list[Folder]:
        """The item's path_collection as the viewer sees it.

        Box starts every path at the viewer's own root; folders above a shared
        item that the viewer cannot see are left out.
        """
        # A folder is visible if the viewer owns it or collaborates on it or on one above it.
        visible: list[Folder] = []
        reached = False
        for folder in self.ancestors(item):
            reached = reached or self._collaboration_role(viewer, folder) is not None
            if reached or folder.owner_id == viewer.id:
                visible.append(folder)
        if not visible or visible[0].id != viewer.root_id:
            visible.insert(0, self.folders[viewer.root_id])
        return visible

    def folder_size(self, folder: Folder) -> int:
        return sum(file.size for file in self._files_below(folder))

    def space_used(self, user: User) -> int:
        # A file belongs to the owner of its folder, so everything the user owns is beneath their root.
        return self.folder_size(self.root_of(user))

    # ----- internals ------------------------------------------------------

    def _next_id(self, kind: str) -> str:
        return str(next(self._ids[kind]))

    def _collaboration_role(self, user: User, item: Item) -> str | None:
        """The role of the user's accepted collaboration on the item itself, if any."""
        for collaboration in self.collaborations.on_item(item.type, item.id):
            if collaboration.user_id == user.id and collaboration.status == "accepted":
                return collaboration.role
        return None

    def _shared_with(self, viewer: User) -> Iterator[Item]:
        for collaboration in self.collaborations.of_user(viewer.id):
            if collaboration.status == "accepted":
                item = self.collaboration_item(collaboration)
                if item.owner_id != viewer.id:
                    yield item

    def _below(self, folder: Folder) -> Iterator[Item]:
        for child in self._children[folder.id]:
            yield child
            if isinstance(child, Folder):
                yield from self._below(child)

    def _files_below(self, folder: Folder) -> Iterator[File]:
        for child in self._children[folder.id]:
            if isinstance(child, File):
                yield child
            elif isinstance(child, Folder):
                yield from self._files_below(child)

    def _event_source(self, source: User | File | Folder | None) -> dict[str, Any] | None:
        if source is None:
            return None
        if isinstance(source, User):
            return source.mini()
        parent = self.folders[source.parent_id] if source.parent_id else None
        return {
            "item_type": source.type,
            "item_id": source.id,
            "item_name": source.name,
            "parent": parent.mini() if parent else None,
            "owned_by": self.users[source.owner_id].mini(),
        }
