"""A large generated tenant, for benchmarks and scale tests of content scanning.

``synthetic_tenant()`` builds, from ``random.Random(seed)`` alone (times are relative
to ``clock`` at build time), one enterprise (``seed.ENTERPRISE``, domain
``acme.example``) with:

- an admin, ``admin@acme.example`` (role ``admin``: connect as that login, as with the
  seeded tenant), and ``users - 1`` plain users ``user00001@acme.example``...; the last
  ``inactive_users`` of them are suspended (``inactive``), so As-User refuses them;
- ``external_users`` Box users outside the enterprise (``external01@partner.example``...,
  no enterprise, no content), collaborators only;
- ``files`` files spread over every managed user (the admin included; each user's
  share varies from half to one and a half times the mean), in nested folders: each
  user has about ``own files / mean_folder_files`` folders, 2 to 5 of them at the top
  level, the first top-level folder with a chain down to ``depth`` levels, the rest
  under random parents above that depth; folders get files unevenly (exponential
  weights, so some hold several times the mean), and about 1% of a user's files sit in
  their root. Names are unique per folder; contents are 30 to 80 bytes, all different
  (so are their sha1s);
- shared links: ``shared_fraction`` of the files and of the folders per access level
  (``open``, ``company``, ``collaborators``);
- collaborations: ``collaborated_fraction`` of the files have one (a fifth of them two)
  on the file itself, ``folder_collaborated_fraction`` of the folders one on the
  folder; a quarter of collaborators are external, the rest other managed users; 90%
  accepted, the rest pending or rejected;
- ``classified_fraction`` of the files classified (the seed's three labels), and
  ``sensitive_fraction`` with a card number or an AWS example key in their content.

No events (the feeds answer empty pages). With the defaults (100,000 files, 200 users)
it builds in a few seconds. ``stats()`` counts what a tenant holds; ``touch_files()``
and ``relink_files()`` change files the way users do, for incremental scans.
Use it with ``FakeBox(tenant_factory=lambda: synthetic_tenant(clock=clock))`` (kept
across ``reset()``), or ``box.tenant = synthetic_tenant()`` (until the next ``reset()``).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from .eventlog import EventOptions
from .seed import CLASSIFICATIONS, ENTERPRISE
from .tenant import (
    Access,
    CollaborationRole,
    CollaborationStatus,
    File,
    Folder,
    Item,
    Tenant,
    User,
    UserStatus,
)

ADMIN_LOGIN = "admin@acme.example"
ACCESS_LEVELS: tuple[Access, ...] = ("open", "company", "collaborators")
# The share of a user's files kept directly in their root.
ROOT_FILES_FRACTION = 0.01

_FIRST_NAMES = (
    "Ana", "Ben", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemal", "Lena",
    "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Victor", "Wen", "Yara",
)  # fmt: skip
_LAST_NAMES = (
    "Alvarez", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
    "Kowalski", "Laurent", "Moreau", "Novak", "Okafor", "Patel", "Rossi", "Schmidt", "Tanaka", "Weber",
)  # fmt: skip
_FOLDER_WORDS = (
    "Projects", "Clients", "Reports", "Finance", "Marketing", "Archive", "Drafts", "Legal", "HR", "Designs",
    "Sales", "Research", "Meetings", "Invoices", "Contracts", "Templates", "Photos", "Planning",
)  # fmt: skip
_FILE_STEMS = (
    "report", "invoice", "notes", "contract", "budget", "plan", "minutes", "draft", "scan", "summary",
    "forecast", "proposal", "memo", "agenda", "export", "photo",
)  # fmt: skip
_EXTENSIONS = ("txt", "csv", "docx", "pdf", "xlsx", "md", "pptx", "png", "json", "log")
_SENSITIVE_LINES = (
    "card 4111 1111 1111 1111\n",
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
)
_ROLES: tuple[CollaborationRole, ...] = ("editor", "viewer", "previewer", "viewer uploader", "co-owner")
_ROLE_WEIGHTS = (40, 40, 10, 5, 5)
_STATUSES: tuple[CollaborationStatus, ...] = ("accepted", "pending", "rejected")
_STATUS_WEIGHTS = (90, 7, 3)
_DAY = 86_400
_HISTORY_DAYS = 365


@dataclass(frozen=True)
class TenantStats:
    """What a tenant holds; ``as_dict()`` for a benchmark's report."""

    users: int  # managed: members of the enterprise
    active_users: int  # managed and active
    external_users: int
    folders: int  # not counting the users' roots
    files: int
    bytes: int
    max_depth: int  # folder levels below a root (a top-level folder is level 1)
    largest_folder: int  # the most items directly in one folder (a root included)
    shared_files: dict[str, int]  # by shared link access level
    shared_folders: dict[str, int]
    collaborated_files: int  # files with a collaboration on the file itself
    collaborated_folders: int
    collaborations: int
    external_collaborations: int  # whose collaborator is outside the enterprise
    classified_files: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def synthetic_tenant(
    *,
    files: int = 100_000,
    users: int = 200,
    mean_folder_files: int = 125,
    depth: int = 4,
    seed: int = 1,
    clock: Callable[[], float] = time.time,
    external_users: int = 5,
    inactive_users: int = 0,
    shared_fraction: float = 0.01,
    collaborated_fraction: float = 0.01,
    folder_collaborated_fraction: float = 0.02,
    classified_fraction: float = 0.05,
    sensitive_fraction: float = 0.001,
    event_options: EventOptions | None = None,
) -> Tenant:
    """A tenant as the module docstring describes; the same arguments (and clock) give the same tenant."""
    if users < 1 or files < 0 or mean_folder_files < 1 or depth < 1:
        raise ValueError("need users >= 1, files >= 0, mean_folder_files >= 1 and depth >= 1")
    if not 0 <= inactive_users < users:
        raise ValueError("the admin stays active: 0 <= inactive_users < users")
    rng = random.Random(seed)
    tenant = Tenant(ENTERPRISE, clock=clock, event_options=event_options)
    tenant.classifications.update(CLASSIFICATIONS)
    builder = _Builder(tenant, rng, tenant.now())
    managed = builder.users(users, inactive_users)
    outsiders = builder.externals(external_users)
    weights = [rng.uniform(0.5, 1.5) for _ in managed]
    counts = Counter(rng.choices(range(len(managed)), weights=weights, k=files))
    for index, owner in enumerate(managed):
        builder.tree(owner, counts[index], mean_folder_files, depth)
    builder.dress(
        managed,
        outsiders,
        shared_fraction=shared_fraction,
        collaborated_fraction=collaborated_fraction,
        folder_collaborated_fraction=folder_collaborated_fraction,
        classified_fraction=classified_fraction,
        sensitive_fraction=sensitive_fraction,
    )
    return tenant


class _Builder:
    def __init__(self, tenant: Tenant, rng: random.Random, now: datetime) -> None:
        self.tenant = tenant
        self.rng = rng
        self.now = now
        self.joined = now - timedelta(days=_HISTORY_DAYS + 35)
        self.serial = 0  # file names carry a tenant-wide number: unique, and easy to find

    def users(self, count: int, inactive: int) -> list[User]:
        tenant, rng = self.tenant, self.rng
        admin = tenant.add_user(ADMIN_LOGIN, "Ada Admin", role="admin", created_at=self.joined)
        managed = [admin]
        for number in range(1, count):
            name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
            status: UserStatus = "inactive" if number >= count - inactive else "active"
            login = f"user{number:05d}@{tenant.enterprise.domain}"
            managed.append(tenant.add_user(login, name, status=status, created_at=self.joined))
        return managed

    def externals(self, count: int) -> list[User]:
        return [
            self.tenant.add_user(
                f"external{number:02d}@partner.example",
                f"External {number:02d}",
                external=True,
                created_at=self.joined,
            )
            for number in range(1, count + 1)
        ]

    def moment(self) -> datetime:
        return self.now - timedelta(seconds=self.rng.randint(_DAY, _HISTORY_DAYS * _DAY))

    def tree(self, owner: User, files: int, mean_folder_files: int, depth: int) -> None:
        """The owner's folders, then their files spread over them (and a few in the root)."""
        tenant, rng = self.tenant, self.rng
        root = tenant.root_of(owner)
        wanted = max(1, round(files / mean_folder_files)) if files else rng.randint(0, 2)
        levels: list[tuple[Folder, int]] = []  # every folder made, with its level

        def make(parent: Folder, level: int) -> Folder:
            name = f"{rng.choice(_FOLDER_WORDS)} {len(levels) + 1}"
            folder = tenant.add_folder(parent, name, created_at=self.moment())
            levels.append((folder, level))
            return folder

        for _ in range(min(wanted, rng.randint(2, 5))):
            make(root, 1)
        if levels:
            chain = levels[0][0]
            for level in range(2, depth + 1):
                if len(levels) >= wanted:
                    break
                chain = make(chain, level)
        open_parents = [(folder, level) for folder, level in levels if level < depth]
        while len(levels) < wanted:
            parent, level = rng.choice(open_parents) if open_parents else (root, 0)
            child = make(parent, level + 1)
            if level + 1 < depth:
                open_parents.append((child, level + 1))
        if not files:
            return
        targets: list[Folder] = [root, *(folder for folder, _ in levels)]
        weights = [ROOT_FILES_FRACTION * len(levels) or 1.0] + [rng.expovariate(1.0) for _ in levels]
        for parent in rng.choices(targets, weights=weights, k=files):
            self.serial += 1
            extension = rng.choice(_EXTENSIONS)
            name = f"{rng.choice(_FILE_STEMS)}-{self.serial:06d}.{extension}"
            content = f"{name} {rng.getrandbits(64):016x}\n"
            created = self.moment()
            modified = created + (self.now - created) * rng.random() ** 3
            tenant.add_file(parent, name, content, created_at=created, modified_at=modified)

    def dress(
        self,
        managed: Sequence[User],
        outsiders: Sequence[User],
        *,
        shared_fraction: float,
        collaborated_fraction: float,
        folder_collaborated_fraction: float,
        classified_fraction: float,
        sensitive_fraction: float,
    ) -> None:
        """Links, collaborations, classifications and secrets, over everything built."""
        tenant, rng = self.tenant, self.rng
        labels = sorted(tenant.classifications)
        folders = [folder for folder in tenant.folders.values() if not folder.is_root]
        for folder in folders:
            self.maybe_share(folder, shared_fraction)
            if rng.random() < folder_collaborated_fraction:
                self.collaborate(folder, managed, outsiders)
        for file in list(tenant.files.values()):
            self.maybe_share(file, shared_fraction)
            if rng.random() < collaborated_fraction:
                for _ in range(2 if rng.random() < 0.2 else 1):
                    self.collaborate(file, managed, outsiders)
            if rng.random() < classified_fraction:
                file.classification = rng.choice(labels)
            if rng.random() < sensitive_fraction:
                file.content += rng.choice(_SENSITIVE_LINES).encode()

    def maybe_share(self, item: Item, fraction: float) -> None:
        draw = self.rng.random()
        if draw < fraction * len(ACCESS_LEVELS):
            self.tenant.share(item, ACCESS_LEVELS[int(draw / fraction)])

    def collaborate(self, item: File | Folder, managed: Sequence[User], outsiders: Sequence[User]) -> None:
        rng = self.rng
        if outsiders and rng.random() < 0.25:
            collaborator = rng.choice(outsiders)
        else:
            collaborator = rng.choice(managed)
            if collaborator.id == item.owner_id:
                if len(managed) < 2:
                    return
                collaborator = managed[(managed.index(collaborator) + 1) % len(managed)]
        if any(c.user_id == collaborator.id for c in self.tenant.collaborations_on(item)):
            return  # one collaboration per person and item, as on Box
        [role] = rng.choices(_ROLES, weights=_ROLE_WEIGHTS)
        [status] = rng.choices(_STATUSES, weights=_STATUS_WEIGHTS)
        created = item.created_at + (self.now - item.created_at) * rng.random()
        self.tenant.add_collaboration(item, collaborator, role=role, status=status, created_at=created)


def stats(tenant: Tenant) -> TenantStats:
    """Counts of what the tenant holds (any tenant: the seeded one too)."""
    with tenant.lock:
        enterprise_id = tenant.enterprise.id
        managed = [user for user in tenant.users.values() if user.enterprise_id == enterprise_id]
        levels: dict[str, int] = {}
        for folder in tenant.folders.values():
            levels[folder.id] = _level(tenant, folder, levels)
        shared_files = Counter(f.shared_link.access for f in tenant.files.values() if f.shared_link)
        shared_folders = Counter(f.shared_link.access for f in tenant.folders.values() if f.shared_link)
        collaborations = list(tenant.collaborations.values())
        items_with = Counter((c.item_type, c.item_id) for c in collaborations)
        return TenantStats(
            users=len(managed),
            active_users=sum(1 for user in managed if user.is_active),
            external_users=len(tenant.users) - len(managed),
            folders=sum(1 for folder in tenant.folders.values() if not folder.is_root),
            files=len(tenant.files),
            bytes=sum(file.size for file in tenant.files.values()),
            max_depth=max(levels.values(), default=0),
            largest_folder=max((len(tenant.children(f)) for f in tenant.folders.values()), default=0),
            shared_files={access: shared_files[access] for access in ACCESS_LEVELS},
            shared_folders={access: shared_folders[access] for access in ACCESS_LEVELS},
            collaborated_files=sum(1 for kind, _ in items_with if kind == "file"),
            collaborated_folders=sum(1 for kind, _ in items_with if kind == "folder"),
            collaborations=len(collaborations),
            external_collaborations=sum(
                1 for c in collaborations if tenant.users[c.user_id].enterprise_id != enterprise_id
            ),
            classified_files=sum(1 for file in tenant.files.values() if file.classification),
        )


def _level(tenant: Tenant, folder: Folder, known: dict[str, int]) -> int:
    if folder.parent_id is None:
        return 0
    above = known.get(folder.parent_id)
    if above is None:
        above = _level(tenant, tenant.folders[folder.parent_id], known)
    return above + 1


def touch_files(tenant: Tenant, count: int, rng: random.Random, *, record_events: bool = False) -> list[File]:
    """Give ``count`` distinct random files new content, as an edit by their owner does.

    Each gets a new version (sha1, size, ``file_version``), its ``etag`` and ``sequence_id``
    move on and ``modified_at`` is now (``Tenant.update_content``). With ``record_events``
    an ``EDIT`` event by the owner is recorded for each (so webhooks fire too).
    """
    with tenant.lock:
        chosen = rng.sample(list(tenant.files.values()), count)
        for file in chosen:
            content = f"{file.name} edited {rng.getrandbits(64):016x}\n"
            tenant.update_content(file, content)
            if record_events:
                tenant.add_event("EDIT", tenant.users[file.owner_id], source=file)
        return chosen


def relink_files(
    tenant: Tenant, count: int, rng: random.Random, *, record_events: bool = False
) -> list[File]:
    """Change the shared link of ``count`` distinct random files: a new access level, or none.

    A file with a link loses it half the time, else gets another level; one without gets
    one (``Tenant.set_shared_link``: ``etag`` and ``sequence_id`` move on). With
    ``record_events``: a ``SHARE``, ``ITEM_SHARED_UPDATE`` or ``UNSHARE`` event by the owner.
    """
    with tenant.lock:
        chosen = rng.sample(list(tenant.files.values()), count)
        for file in chosen:
            before = file.shared_link.access if file.shared_link else None
            if before is not None and rng.random() < 0.5:
                access: Access | None = None
                event_type = "UNSHARE"
            else:
                access = rng.choice([level for level in ACCESS_LEVELS if level != before])
                event_type = "SHARE" if before is None else "ITEM_SHARED_UPDATE"
            tenant.set_shared_link(file, access)
            if record_events:
                details = {} if access is None else {"access": access}
                tenant.add_event(
                    event_type, tenant.users[file.owner_id], source=file, additional_details=details
                )
        return chosen
