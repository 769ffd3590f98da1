"""The bulk scan worker: a generation's start, its folder jobs and its file batches.

Every job follows the same order, which is what makes crashes and redeliveries safe: do the
reads, register the children (counted as outstanding), send them, write effects, then finish
the job (counted once) and see whether that was the generation's last piece of work.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Protocol, cast

from boxcasb.backoff import MAX_UNAVAILABLE, unavailable_delay
from boxcasb.errors import (
    BoxAccessDenied,
    BoxRateLimited,
    BoxRequestFailed,
    BoxUnavailable,
    ReconnectRequired,
)
from boxcasb.models import BoxUser
from boxcasb.observability import logger, metrics
from boxcasb.scan.exposure import merge_collaborators, widest_link
from boxcasb.scan.file_scan import FileScanner
from boxcasb.scan.inventory import InventoryStore
from boxcasb.scan.ledger import ScanLedger
from boxcasb.scan.model import (
    BulkJob,
    BulkMessage,
    Collaborator,
    FileBatchJob,
    FileRecord,
    FileWork,
    FolderJob,
    GapKind,
    GenerationStatus,
    ListedFolder,
    ScanGap,
    ScanGeneration,
    StartJob,
)
from boxcasb.scan.plan import plan_folder
from boxcasb.scan.reads import FolderListing

BATCH_FILES = 100  # files per scan message: ~60 KB of metadata, well under SQS's 256 KB
# Bytes of content per message, so a batch whose files all need their text read fits the
# worker's timeout.
BATCH_BYTES = 256 * 1024 * 1024


def file_batches(
    files: Sequence[FileWork], max_files: int = BATCH_FILES, max_bytes: int = BATCH_BYTES
) -> list[list[FileWork]]:
    """In listing order, at most `max_files` and about `max_bytes` a batch (a single larger file is
    a batch of its own). The batches of a folder are the same on every delivery: their job ids
    (folder and index) must be."""
    batches: list[list[FileWork]] = []
    current: list[FileWork] = []
    size = 0
    for work in files:
        if current and (len(current) == max_files or size + work.file.size > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(work)
        size += work.file.size
    if current:
        batches.append(current)
    return batches


START_JOB = "START"
MAX_THROTTLED = 50  # puts-back after 429s before a job counts as failing


class ScanBox(Protocol):
    """The Box reads a bulk job makes (box_gateway.scan_reads.ScanReads over a bulk-lane gateway)."""

    def list_folder(self, folder_id: str, path: str, as_user: str | None, key: str) -> FolderListing: ...

    def collaborators(self, kind: str, item_id: str, as_user: str | None) -> list[Collaborator]: ...

    def download(self, file_id: str, as_user: str | None, into: IO[bytes], max_bytes: int) -> int: ...

    def extracted_text(self, file_id: str, as_user: str | None, into: IO[bytes], max_bytes: int) -> bool: ...


class UserDirectory(Protocol):
    def current_user(self) -> BoxUser: ...

    def managed_users(self) -> list[BoxUser]: ...


@dataclass(frozen=True)
class Walkers:
    """Whose trees a generation walks, and who it can't."""

    users: list[tuple[str, str | None]]  # (user id, As-User header: None for the connected admin)
    gaps: list[ScanGap]


def choose_walkers(me: BoxUser, users: Sequence[BoxUser]) -> Walkers:
    """Every active managed user we may act as; the others become gaps (never a failure)."""
    walkers: list[tuple[str, str | None]] = [(me.id, None)]
    gaps: list[ScanGap] = []
    for user in sorted(users, key=lambda u: u.id):
        who = user.login or user.id
        if user.id == me.id:
            continue
        if user.status not in (None, "active"):
            gaps.append(ScanGap(kind=GapKind.USER_INACTIVE, subject=who, reason=f"the user is {user.status}"))
        elif me.role == "coadmin" and user.role in ("admin", "coadmin"):
            gaps.append(
                ScanGap(
                    kind=GapKind.USER_NOT_ACTIONABLE,
                    subject=who,
                    reason=f"a co-admin connection can't act as an {user.role} (Box answers 403)",
                )
            )
        else:
            walkers.append((user.id, user.id))
    return Walkers(walkers, gaps)


class BulkScanWorker:
    def __init__(
        self,
        ledger: ScanLedger,
        inventory: InventoryStore,
        send: Callable[[Sequence[BulkJob]], None],
        box_for: Callable[[str], ScanBox],
        users_for: Callable[[str], UserDirectory],
        scanner: FileScanner,
        requeue: Callable[[BulkMessage, int], None],
    ) -> None:
        self._ledger = ledger
        self._inventory = inventory
        self._send = send
        self._box_for = box_for
        self._users_for = users_for
        self._scanner = scanner
        self._requeue = requeue

    def handle_message(self, message: BulkMessage) -> None:
        """One message; a 429 puts it back with Box's delay instead of sleeping through it."""
        try:
            self.handle(message.job)
        except BoxRateLimited as exc:
            if message.throttled >= MAX_THROTTLED:
                raise  # to the DLQ, through SQS's own receive count
            delay = math.ceil(exc.retry_after_seconds)
            self._requeue(message.model_copy(update={"throttled": message.throttled + 1}), delay)
            logger.info("scan job put back after a 429", extra={"delay_seconds": delay})
            metrics.add_metric(name="BoxThrottled", unit="Count", value=1)
        except BoxUnavailable:
            if message.unavailable >= MAX_UNAVAILABLE:
                raise  # Box is down for long: SQS redelivers after the visibility timeout, then the DLQ
            delay = unavailable_delay(message.unavailable)
            self._requeue(message.model_copy(update={"unavailable": message.unavailable + 1}), delay)
            logger.warning("scan job put back after Box errors", extra={"delay_seconds": delay})

    def handle(self, job: BulkJob) -> None:
        generation = self._ledger.get(job.connection_id, job.generation)
        if generation is None or generation.status is not GenerationStatus.RUNNING:
            logger.info("scan job of a closed generation dropped", extra={"generation": job.generation})
            return
        try:
            if isinstance(job, StartJob):
                self._start(generation)
            elif isinstance(job, FolderJob):
                self._folder(generation, job)
            else:
                self._files(generation, job)
        except (ReconnectRequired, BoxAccessDenied) as exc:
            # Every later try would fail the same way (tokens refused, or an account that may not
            # list the enterprise's users): a gap, and the generation ends instead of the job
            # bouncing through its retries into the DLQ.
            self._ledger.add_gaps(job.connection_id, job.generation, [_gap_for(job, exc)])
            self._finish(generation, _job_id(job), {"errors": 1})

    # --- the three kinds of job -------------------------------------------------------

    def _start(self, generation: ScanGeneration) -> None:
        directory = self._users_for(generation.connection_id)
        walkers = choose_walkers(directory.current_user(), directory.managed_users())
        self._ledger.add_gaps(generation.connection_id, generation.number, walkers.gaps)
        # The walked users are written before any folder job runs: a root listing skips what
        # another walked user owns (that user's own walk scans it).
        walking = self._ledger.set_walked(generation, [user for user, _ in walkers.users])
        if walking is None:
            logger.info("scan generation closed before it started", extra={"generation": generation.number})
            return
        generation = walking
        roots = [_root_job(generation, user_id, as_user) for user_id, as_user in walkers.users]
        self._emit(generation, START_JOB, roots)
        self._finish(generation, START_JOB, {})

    def _folder(self, generation: ScanGeneration, job: FolderJob) -> None:
        box = self._box_for(job.connection_id)
        try:
            listing = box.list_folder(job.folder_id, job.path, job.as_user, job.inventory_folder)
        except (BoxAccessDenied, BoxRequestFailed) as exc:
            if isinstance(exc, BoxRequestFailed) and exc.status not in (403, 404):
                raise
            kind = GapKind.USER_NOT_ACTIONABLE if job.folder_id == "0" else GapKind.FOLDER_UNREADABLE
            subject = job.walker if job.folder_id == "0" else job.folder_id
            self._ledger.add_gaps(
                job.connection_id, job.generation, [ScanGap(kind=kind, subject=subject, reason=str(exc))]
            )
            self._finish(generation, job.job_id, {"errors": 1})
            return
        files, folders = listing.files, listing.folders
        if job.folder_id == "0":
            # A user's root also shows what others shared with them; their owners' walks cover it.
            walked = set(generation.walked_users)
            files = [f for f in files if not _walked_elsewhere(f.owner_id, job.walker, walked)]
            folders = [f for f in folders if not _walked_elsewhere(f.owner_id, job.walker, walked)]
        children: list[FolderJob | FileBatchJob] = [self._child(box, job, folder) for folder in folders]
        plan = plan_folder(
            files,
            self._inventory.folder_state(job.connection_id, job.inventory_folder),
            job.inherited,
            self._scanner.policy_version(job.connection_id),
            job.inherited_link,
        )
        for number, batch in enumerate(file_batches(plan.changed)):
            children.append(
                FileBatchJob(
                    connection_id=job.connection_id,
                    generation=job.generation,
                    folder_id=job.inventory_folder,
                    batch=number,
                    as_user=job.as_user,
                    inherited=job.inherited,
                    inherited_link=job.inherited_link,
                    files=batch,
                )
            )
        self._emit(generation, job.job_id, children)
        if plan.removed:
            self._inventory.remove(job.connection_id, job.inventory_folder, plan.removed)
        self._finish(
            generation,
            job.job_id,
            {
                "folders_listed": 1,
                "files_seen": len(files),
                "files_unchanged": plan.unchanged,
                "files_removed": len(plan.removed),
                "box_calls": listing.pages,
            },
        )

    def _child(self, box: ScanBox, job: FolderJob, folder: ListedFolder) -> FolderJob:
        inherited = job.inherited
        if folder.has_collaborations:
            inherited = merge_collaborators(inherited, box.collaborators("folders", folder.id, job.as_user))
        return FolderJob(
            connection_id=job.connection_id,
            generation=job.generation,
            folder_id=folder.id,
            as_user=job.as_user,
            walker=job.walker,
            path=f"{job.path.rstrip('/')}/{folder.name}",
            inherited=inherited,
            inherited_link=widest_link(job.inherited_link, folder.link_access),
        )

    def _files(self, generation: ScanGeneration, job: FileBatchJob) -> None:
        # An empty batch (a placeholder for work that vanished) has nothing to read from Box.
        box = self._box_for(job.connection_id) if job.files else cast(ScanBox, None)
        errors = 0
        records: list[FileRecord] = []
        gaps: list[ScanGap] = []
        known = [work.file.id for work in job.files if work.stored]
        previous = self._inventory.get_many(job.connection_id, job.folder_id, known) if known else {}
        for work in job.files:
            try:
                record = self._scanner.scan(
                    job.connection_id,
                    box,
                    job.as_user,
                    work.file,
                    job.inherited,
                    previous=previous.get(work.file.id),
                    generation=job.generation,
                    folder_link=job.inherited_link,
                )
            except (BoxAccessDenied, BoxRequestFailed) as exc:
                if isinstance(exc, BoxRequestFailed) and exc.status not in (403, 404):
                    raise
                errors += 1
                gaps.append(ScanGap(kind=GapKind.FILE_UNREADABLE, subject=work.file.id, reason=str(exc)))
                continue
            records.append(record)
        self._inventory.put_many(job.connection_id, records)
        scanned = len(records)
        if gaps:
            self._ledger.add_gaps(job.connection_id, job.generation, gaps)
        self._finish(generation, job.job_id, {"files_scanned": scanned, "errors": errors})
        metrics.add_metric(name="FilesScanned", unit="Count", value=scanned)

    # --- registering, finishing, completing ----------------------------------------------

    def _emit(
        self, generation: ScanGeneration, parent: str, children: Sequence[FolderJob | FileBatchJob]
    ) -> None:
        by_id = {child.job_id: child for child in children}
        mine = self._ledger.register(generation.connection_id, generation.number, parent, by_id)
        # A child this parent registered on an earlier attempt but no longer lists (moved or
        # deleted since) is sent empty, so it still finishes and the generation can complete.
        orphans = self._ledger.children(generation.connection_id, generation.number, parent) - by_id.keys()
        to_send: list[BulkJob] = [by_id[job_id] for job_id in sorted(mine) if job_id in by_id]
        to_send.extend(_placeholder(generation, job_id) for job_id in sorted(orphans))
        self._send(to_send)

    def _finish(self, generation: ScanGeneration, job_id: str, counts: dict[str, int]) -> None:
        # A redelivery of finished work is counted once (finish is conditional), but it still
        # checks completion: the attempt before may have died between the last finish and the
        # close, and then no one else would ever close the generation.
        self._ledger.finish(generation.connection_id, generation.number, job_id, counts)
        counters = self._ledger.counters(generation.connection_id, generation.number)
        if counters.jobs_finished == counters.jobs_registered:
            closed = self._ledger.close(generation, GenerationStatus.COMPLETE)
            if closed is not None:
                logger.info(
                    "scan generation complete",
                    extra={"generation": generation.number, "counters": closed.counters.model_dump()},
                )
                metrics.add_metric(name="ScanGenerationsCompleted", unit="Count", value=1)


def _walked_elsewhere(owner_id: str | None, walker: str, walked: set[str]) -> bool:
    return owner_id is not None and owner_id != walker and owner_id in walked


def _gap_for(job: BulkJob, exc: ReconnectRequired | BoxAccessDenied) -> ScanGap:
    if not isinstance(job, StartJob):
        return ScanGap(kind=GapKind.FOLDER_UNREADABLE, subject=job.folder_id, reason=str(exc))
    kind = GapKind.USERS_UNLISTED if isinstance(exc, BoxAccessDenied) else GapKind.FOLDER_UNREADABLE
    return ScanGap(kind=kind, subject="connection", reason=str(exc))


def _job_id(job: BulkJob) -> str:
    return START_JOB if isinstance(job, StartJob) else job.job_id


def _root_job(generation: ScanGeneration, user_id: str, as_user: str | None) -> FolderJob:
    """A user's root folder ("0", as that user: As-User, or None for the connected admin)."""
    return FolderJob(
        connection_id=generation.connection_id,
        generation=generation.number,
        folder_id="0",
        as_user=as_user,
        walker=user_id,
        path="/",
    )


def _placeholder(generation: ScanGeneration, job_id: str) -> FolderJob | FileBatchJob:
    kind, rest = job_id[:1], job_id[1:]
    if kind == "B":
        folder_id, _, batch = rest.rpartition(":")
        return FileBatchJob(
            connection_id=generation.connection_id,
            generation=generation.number,
            folder_id=folder_id,
            batch=int(batch),
            as_user=None,
            files=[],
        )
    if rest.endswith(":0"):  # a user's root: the user left the enterprise since the start listed them
        user_id = rest.removesuffix(":0")
        return _root_job(generation, user_id, user_id)
    # A folder no longer listed where it was: listed again (as the admin) it scans or 404s into a gap.
    return FolderJob(
        connection_id=generation.connection_id,
        generation=generation.number,
        folder_id=rest,
        as_user=None,
        walker=generation.walked_users[0] if generation.walked_users else "",
        path="",
    )
