"""What a scan reads from Box, sends between workers, and keeps: pydantic at every edge."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

BoxId = Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Collaborator(_Model):
    """Someone a collaboration gives access to: a user (login known) or a group."""

    kind: Literal["user", "group"]
    id: str
    login: str | None = None
    name: str | None = None
    role: str | None = None

    @property
    def domain(self) -> str | None:
        if self.login is None or "@" not in self.login:
            return None
        return self.login.rpartition("@")[2].lower()


class LinkAccess(StrEnum):
    OPEN = "open"
    COMPANY = "company"
    COLLABORATORS = "collaborators"


class ListedFile(_Model):
    """A file as a folder listing (or GET /files/{id}) shows it, with the fields we ask for once."""

    id: BoxId
    name: str
    parent_id: str
    path: str  # "/Documents/Reports", as the owner sees it
    size: int = 0
    sha1: str | None = None
    etag: str | None = None
    sequence_id: str | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    owner_id: str | None = None
    owner_login: str | None = None
    link_access: LinkAccess | None = None
    link_effective_access: LinkAccess | None = None
    link_created: bool = False
    has_collaborations: bool = False
    externally_owned: bool = False
    classification: str | None = None
    extension: str = ""


class ListedFolder(_Model):
    id: str
    name: str
    owner_id: str | None = None
    has_collaborations: bool = False
    link_access: LinkAccess | None = None  # what the folder's shared link really allows (effective)


class Exposure(StrEnum):
    """How far a file reaches, most exposed first; a file is at its highest level."""

    PUBLIC = "public"  # an open shared link: anyone with the link
    EXTERNAL = "external"  # a collaborator outside the enterprise's domains, or an external owner
    COMPANY = "company"  # a link open to everyone in the company
    INTERNAL = "internal"  # collaborators, all inside the enterprise
    PRIVATE = "private"  # the owner only (a "collaborators" link adds no one)


class FileWork(_Model):
    """A new or changed file on its way to the scan worker."""

    file: ListedFile
    content_changed: bool  # sha1, the policy set or nothing stored: inspect the content again
    stored: bool = False  # the inventory has a record of it: the worker reads it (what it knew)


class ContentSummary(_Model):
    """What the detectors found in a file's text, kept so an exposure change is judged again
    without downloading the file: valid while the sha1 and the detector set are the same."""

    sha1: str | None
    detectors: str  # the detector set's version
    counts: dict[str, int] = {}
    samples: dict[str, list[str]] = {}  # masked snippets only: never a raw value
    chars: int = 0
    truncated: bool = False
    source: Literal["content", "extracted_text", "none"] = "content"
    error: str | None = None  # why the text could not be read ("too_large: ...", "zip_bomb: ...")


class FileRecord(_Model):
    """One file of the inventory: what it is, who can reach it, and its last scan."""

    file_id: str
    name: str
    folder_id: str
    path: str
    owner_id: str | None
    owner_login: str | None
    size: int
    sha1: str | None
    etag: str | None
    extension: str
    modified_at: datetime | None
    classification: str | None
    link_access: LinkAccess | None
    link_effective_access: LinkAccess | None
    folder_link_access: LinkAccess | None = None  # the widest link on a folder above: it reaches the file
    collaborators: list[Collaborator]
    external_collaborators: list[str]  # logins (or ids) of collaborators outside the enterprise
    exposure: Exposure
    fingerprint: str  # what decides "unchanged": see plan.fingerprint
    policy_version: str
    generation: int  # the last generation that scanned it (0: only priority scans so far)
    scanned_at: datetime
    result: str  # "clean", "matched" (matched_policies), or "error" (content.error says why)
    content_inspected: bool  # this scan read the file's text
    content: ContentSummary | None = None
    link_seen_at: datetime | None = None  # the first scan that saw its current shared link
    matched_policies: list[str] = []


class ScanJobKind(StrEnum):
    START = "start"
    FOLDER = "folder"
    FILES = "files"


class StartJob(_Model):
    kind: Literal[ScanJobKind.START] = ScanJobKind.START
    connection_id: str
    generation: int


class FolderJob(_Model):
    kind: Literal[ScanJobKind.FOLDER] = ScanJobKind.FOLDER
    connection_id: str
    generation: int
    folder_id: str
    as_user: str | None  # None: the connecting admin's own token (As-User can't name oneself)
    walker: str  # the user whose tree this is (the admin's id for as_user None)
    path: str
    inherited: list[Collaborator] = []  # collaborators of the folders above, who reach this folder too
    inherited_link: LinkAccess | None = None  # the widest shared link on this folder or one above

    @property
    def job_id(self) -> str:
        # Folder "0" is every user's own root; any other folder is one folder whoever lists it,
        # which is what makes a folder shared between users one job per generation.
        return f"F{self.walker}:0" if self.folder_id == "0" else f"F{self.folder_id}"

    @property
    def inventory_folder(self) -> str:
        return root_key(self.walker) if self.folder_id == "0" else self.folder_id


def root_key(user_id: str) -> str:
    """The inventory's name for a user's root ("0" is everyone's root, so it needs the owner)."""
    return f"0@{user_id}"


class FileBatchJob(_Model):
    kind: Literal[ScanJobKind.FILES] = ScanJobKind.FILES
    connection_id: str
    generation: int
    folder_id: str
    batch: int
    as_user: str | None
    inherited: list[Collaborator] = []
    inherited_link: LinkAccess | None = None
    files: list[FileWork]

    @property
    def job_id(self) -> str:
        return f"B{self.folder_id}:{self.batch}"


BulkJob = Annotated[StartJob | FolderJob | FileBatchJob, Field(discriminator="kind")]


class BulkMessage(_Model):
    job: BulkJob
    throttled: int = Field(default=0, ge=0)  # times put back after a 429; not an error, so not counted by SQS
    # times put back after Box kept failing (5xx, timeouts) through the call's retries
    unavailable: int = Field(default=0, ge=0)


class GapKind(StrEnum):
    USER_INACTIVE = "user_inactive"
    USER_NOT_ACTIONABLE = "user_not_actionable"  # a co-admin can't act as an admin (403)
    USERS_UNLISTED = "users_unlisted"  # the connected account may not list the enterprise's users (403)
    FOLDER_UNREADABLE = "folder_unreadable"
    FILE_UNREADABLE = "file_unreadable"
    EXTERNAL_OWNER = "external_owner"
    UNFINISHED = "unfinished"  # work that never finished (in the DLQ): the generation was closed


class ScanGap(_Model):
    kind: GapKind
    subject: str  # a user login or id, a folder or file id
    reason: str


ScanTrigger = Literal["api_test", "schedule", "on_demand"]


class GenerationStatus(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"  # closed after stalling; its gaps say what was missed


class ScanCounters(_Model):
    jobs_registered: int = 0
    jobs_finished: int = 0
    folders_listed: int = 0
    files_seen: int = 0
    files_scanned: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    errors: int = 0
    box_calls: int = 0


class ScanGeneration(_Model):
    connection_id: str
    number: int
    trigger: ScanTrigger
    status: GenerationStatus
    policy_version: str
    started_at: datetime
    finished_at: datetime | None = None
    walked_users: list[str] = []
    counters: ScanCounters = ScanCounters()
    gaps: list[ScanGap] = []
