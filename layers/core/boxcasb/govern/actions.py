"""Governance actions on one file: read its state, leave it if it is already as wanted, else write
and read it back. Every action is idempotent; a dry run stops after the read.

The writes act as the file's owner (As-User): Box lets them change their own file's link,
collaborations and classification, and a co-admin's As-User refusal (admins' files) ends the
action as `failed` with the reason instead of a surprise later. Box errors never escape
`apply` or `dry_run`: they become outcomes (`failed` with a reason, or `retry` when Box was
busy or down after the gateway's retries).

Quarantine moves the file into a folder of its own, `Quarantine/<file id>`, under the connected
admin's root. Box moves a file only for a user with rights on both ends, and an item takes the
owner of the folder it lands in. So the admin (acting as itself) creates the per-file folder,
lets the owner in as editor, the owner (As-User) moves the file there, which makes it the
admin's, and the admin removes the owner's collaboration again: the owner loses access to the
file and never sees other quarantined files. A folder per file also keeps same-named files
apart and makes restoring exact. Restore is the same dance backwards into the original
folder, then deletes the emptied per-file folder. The file's own collaborations and shared
link travel with it (Box keeps them on a move): a policy that quarantines removes those first.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Literal, Protocol

from boxcasb.clock import Clock, utc_now
from boxcasb.errors import (
    BoxAccessDenied,
    BoxCasbError,
    BoxRateLimited,
    BoxRequestFailed,
    BoxUnavailable,
    ReconnectRequired,
)
from boxcasb.govern.model import (
    ActionKind,
    ActionOutcome,
    ActionRequest,
    AuditRecord,
    Collaboration,
    FileState,
    Result,
    Snapshot,
)
from boxcasb.scan.model import LinkAccess

QUARANTINE_FOLDER = "Quarantine"
ROOT = "0"
_LINK_WIDTH = {LinkAccess.OPEN: 3, LinkAccess.COMPANY: 2, LinkAccess.COLLABORATORS: 1}


class BoxWrites(Protocol):
    """The Box reads and writes the actions need. `as_user` None acts as the connected admin.

    Box's failures raise the domain's typed errors (`boxcasb.errors`).
    """

    def read_file(self, file_id: str, as_user: str | None) -> FileState: ...

    def set_shared_link(self, file_id: str, as_user: str | None, access: LinkAccess | None) -> None: ...

    def collaborations(
        self, item_type: Literal["file", "folder"], item_id: str, as_user: str | None
    ) -> list[Collaboration]: ...

    def remove_collaboration(self, collaboration_id: str, as_user: str | None) -> bool:
        """False: Box no longer has it (gone is what was wanted)."""
        ...

    def invite(self, folder_id: str, user_id: str, role: str, as_user: str | None) -> str:
        """The new collaboration's id."""
        ...

    def set_classification(self, file_id: str, as_user: str | None, label: str, *, replace: bool) -> None: ...

    def ensure_folder(self, parent_id: str, name: str, as_user: str | None) -> str:
        """The id of the folder `name` in `parent_id`, created if it is not there."""
        ...

    def move_file(self, file_id: str, parent_id: str, as_user: str | None) -> None: ...

    def delete_empty_folder(self, folder_id: str, as_user: str | None) -> bool:
        """False: not empty, or gone already (nothing deleted)."""
        ...


class _Stop(Exception):
    """The action cannot reach its target state; the reason goes into the outcome."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Run:
    """One action under way: what it has seen so far, and the step it is at (for reasons)."""

    request: ActionRequest
    dry_run: bool
    step: str = "start"
    before: Snapshot = field(default_factory=dict)
    after: Snapshot = field(default_factory=dict)

    def outcome(
        self, result: Result, reason: str | None = None, retry_after_seconds: float | None = None
    ) -> ActionOutcome:
        return ActionOutcome(
            request=self.request,
            result=result,
            acting_user_id=self.request.owner_id,
            before=self.before,
            after=self.after,
            reason=reason,
            retry_after_seconds=retry_after_seconds,
        )


def _link(state: FileState) -> Snapshot:
    return {"shared_link_access": state.link_access.value if state.link_access else None, "etag": state.etag}


def _place(state: FileState) -> Snapshot:
    """Where the file is: its folder's id, and its path as the reader sees it (root left out)."""
    path = "/" + "/".join(folder.name for folder in state.path if folder.id != ROOT)
    return {"parent_id": state.parent_id, "owner_id": state.owner_id, "path": path}


class Governor:
    """Applies (or dry-runs) governance actions for one connection, over a `BoxWrites` port."""

    def __init__(
        self,
        box: BoxWrites,
        *,
        connection_id: str,
        admin_user_id: str,
        clock: Clock = utc_now,
        quarantine_folder: str = QUARANTINE_FOLDER,
    ) -> None:
        """`admin_user_id`: the connected Box account (Box refuses an As-User naming it)."""
        self._box = box
        self._connection_id = connection_id
        self._admin = admin_user_id
        self._clock = clock
        self._quarantine = quarantine_folder
        self._actions: dict[ActionKind, Callable[[_Run], Result]] = {
            ActionKind.REMOVE_SHARED_LINK: self._remove_shared_link,
            ActionKind.NARROW_SHARED_LINK: self._narrow_shared_link,
            ActionKind.REMOVE_EXTERNAL_COLLABORATORS: self._remove_external_collaborators,
            ActionKind.APPLY_CLASSIFICATION: self._apply_classification,
            ActionKind.QUARANTINE: self._quarantine_file,
            ActionKind.RESTORE: self._restore_file,
        }

    def apply(self, request: ActionRequest) -> ActionOutcome:
        return self._run(_Run(request, dry_run=False))

    def dry_run(self, request: ActionRequest) -> ActionOutcome:
        """The outcome the action would have (`would_apply` with the planned `after`, or `already`),
        from reads only: no write reaches Box."""
        return self._run(_Run(request, dry_run=True))

    def audit(self, outcome: ActionOutcome) -> AuditRecord:
        """The audit record of an outcome, stamped now: call it as the action returns."""
        return AuditRecord.of(
            outcome, connection_id=self._connection_id, admin_user_id=self._admin, at=self._clock()
        )

    def _run(self, run: _Run) -> ActionOutcome:
        try:
            result = self._actions[run.request.kind](run)
        except _Stop as stop:
            return run.outcome("failed", stop.reason)
        except BoxAccessDenied as exc:
            return run.outcome("failed", f"insufficient_permissions: {run.step}: {exc}")
        except BoxRateLimited as exc:
            return run.outcome("retry", f"rate_limited: {run.step}: {exc}", exc.retry_after_seconds)
        except BoxUnavailable as exc:
            return run.outcome("retry", f"unavailable: {run.step}: {exc}")
        except BoxRequestFailed as exc:
            kind = "not_found" if exc.status == 404 else "rejected"
            return run.outcome("failed", f"{kind}: {run.step}: {exc}")
        except ReconnectRequired as exc:
            return run.outcome("failed", f"reconnect_required: {exc}")
        except BoxCasbError as exc:
            return run.outcome("failed", f"error: {run.step}: {exc}")
        return run.outcome(result)

    # ----- the actions ------------------------------------------------------------------------

    def _remove_shared_link(self, run: _Run) -> Result:
        file_id, owner = run.request.file_id, self._as(run.request.owner_id)
        state = self._read(run, file_id, owner)
        run.before = _link(state)
        if state.link_access is None:
            return "already"
        return self._set_link(run, None)

    def _narrow_shared_link(self, run: _Run) -> Result:
        file_id, owner = run.request.file_id, self._as(run.request.owner_id)
        target = LinkAccess(str(run.request.access))
        state = self._read(run, file_id, owner)
        run.before = _link(state)
        if state.link_access is None or _LINK_WIDTH[state.link_access] <= _LINK_WIDTH[target]:
            return "already"
        return self._set_link(run, target)

    def _set_link(self, run: _Run, access: LinkAccess | None) -> Result:
        file_id, owner = run.request.file_id, self._as(run.request.owner_id)
        if run.dry_run:
            run.after = {"shared_link_access": access.value if access else None}
            return "would_apply"
        wanted = access.value if access else "none"
        run.step = f"set the shared link of file {file_id} to {wanted} {self._who(owner)}"
        self._box.set_shared_link(file_id, owner, access)
        final = self._read(run, file_id, owner)
        run.after = _link(final)
        if final.link_access is not access:
            raise _Stop(f"not_applied: Box still shows the link as {run.after['shared_link_access']}")
        return "applied"

    def _remove_external_collaborators(self, run: _Run) -> Result:
        file_id, owner = run.request.file_id, self._as(run.request.owner_id)
        outside = self._external(run, file_id, owner)
        run.before = {"external_collaborations": [c.snapshot() for c in outside]}
        if not outside:
            return "already"
        if run.dry_run:
            run.after = {"external_collaborations": []}
            return "would_apply"
        remaining = list(outside)
        for collaboration in outside:
            run.step = f"remove collaboration {collaboration.id} from file {file_id} {self._who(owner)}"
            self._box.remove_collaboration(collaboration.id, owner)
            # As far as it got: a failure further on leaves the audit what was removed.
            remaining.remove(collaboration)
            run.after = {"external_collaborations": [c.snapshot() for c in remaining]}
        left = self._external(run, file_id, owner)
        run.after = {"external_collaborations": [c.snapshot() for c in left]}
        if left:
            raise _Stop(f"not_applied: {len(left)} external collaboration(s) still on the file")
        return "applied"

    def _external(self, run: _Run, file_id: str, owner: str | None) -> list[Collaboration]:
        run.step = f"list the collaborations on file {file_id} {self._who(owner)}"
        domains = run.request.internal_domains
        return [c for c in self._box.collaborations("file", file_id, owner) if c.external(domains)]

    def _apply_classification(self, run: _Run) -> Result:
        file_id, owner = run.request.file_id, self._as(run.request.owner_id)
        label = str(run.request.classification)
        state = self._read(run, file_id, owner)
        run.before = {"classification": state.classification}
        if state.classification == label:
            return "already"
        if run.dry_run:
            run.after = {"classification": label}
            return "would_apply"
        run.step = f"classify file {file_id} as {label!r} {self._who(owner)}"
        self._box.set_classification(file_id, owner, label, replace=state.classification is not None)
        final = self._read(run, file_id, owner)
        run.after = {"classification": final.classification}
        if final.classification != label:
            raise _Stop(f"not_applied: Box shows the classification as {final.classification!r}")
        return "applied"

    def _quarantine_file(self, run: _Run) -> Result:
        file_id, owner_id = run.request.file_id, run.request.owner_id
        owner = self._as(owner_id)
        state, reader = self._read_either(run, file_id, owner, None)
        if reader is not None and state.owner_id == self._admin:
            # The owner still sees a file the admin owns now (a run that stopped midway left them
            # in its quarantine folder): where it is shows in the admin's own view.
            state, reader = self._read(run, file_id, None), None
        if reader is None and self._quarantined(state):
            run.before = _place(state)
            return self._finish_quarantine(run, state.parent_id)
        if state.owner_id != owner_id:
            raise _Stop(f"owner_changed: file {file_id} is owned by user {state.owner_id}, not {owner_id}")
        run.before = _place(state)
        if run.dry_run:
            run.after = {"owner_id": self._admin, "path": f"/{self._quarantine}/{file_id}"}
            return "would_apply"
        run.step = f"find or create the folder /{self._quarantine}/{file_id} as the admin"
        holder = self._box.ensure_folder(self._box.ensure_folder(ROOT, self._quarantine, None), file_id, None)
        self._move(run, holder, holder)
        final = self._read(run, file_id, None)
        run.after = _place(final)
        if final.parent_id != holder:
            raise _Stop(f"not_applied: the file is in folder {final.parent_id}, not {holder}")
        return "applied"

    def _finish_quarantine(self, run: _Run, holder: str) -> Result:
        """Quarantined: done, unless a run that stopped midway left someone let into its folder."""
        run.step = f"list the collaborations on quarantine folder {holder} as the admin"
        lingering = self._box.collaborations("folder", holder, None)
        if not lingering:
            return "already"
        run.before = {**run.before, "quarantine_folder_collaborations": [c.snapshot() for c in lingering]}
        if run.dry_run:
            run.after = {**run.before, "quarantine_folder_collaborations": []}
            return "would_apply"
        for collaboration in lingering:
            run.step = f"remove collaboration {collaboration.id} from quarantine folder {holder} as the admin"
            self._box.remove_collaboration(collaboration.id, None)
        run.after = {**run.before, "quarantine_folder_collaborations": []}
        return "applied"

    def _restore_file(self, run: _Run) -> Result:
        file_id, owner_id = run.request.file_id, run.request.owner_id
        original = str(run.request.original_parent_id)
        owner = self._as(owner_id)
        state, reader = self._read_either(run, file_id, None, owner)
        run.before = _place(state)
        if not (reader is None and self._quarantined(state)):
            if state.parent_id == original:
                run.after = run.before
                return "already"
            raise _Stop(f"not_quarantined: file {file_id} is in folder {state.parent_id}")
        if run.dry_run:
            run.after = {"parent_id": original, "owner_id": owner_id}
            return "would_apply"
        holder = state.parent_id
        self._move(run, original, holder)
        run.step = f"delete the emptied quarantine folder {holder} as the admin"
        self._box.delete_empty_folder(holder, None)
        final = self._read(run, file_id, owner)
        run.after = _place(final)
        if final.parent_id != original:
            raise _Stop(f"not_applied: the file is in folder {final.parent_id}, not {original}")
        return "applied"

    def _move(self, run: _Run, destination: str, holder: str) -> None:
        """Move the file as its owner, who is let into the quarantine folder `holder` meanwhile."""
        file_id, owner = run.request.file_id, self._as(run.request.owner_id)
        if owner is None:
            run.step = f"move file {file_id} into folder {destination} as the admin"
            self._box.move_file(file_id, destination, None)
            return
        run.step = f"let user {owner} into quarantine folder {holder} as the admin"
        grant = next(
            (c.id for c in self._box.collaborations("folder", holder, None) if c.user_id == owner), None
        ) or self._box.invite(holder, owner, "editor", None)
        run.step = f"move file {file_id} into folder {destination} as user {owner}"
        try:
            self._box.move_file(file_id, destination, owner)
        except BoxCasbError:
            # The move's error is the outcome; a collaboration left behind is removed by the next run.
            with suppress(BoxCasbError):
                self._box.remove_collaboration(grant, None)
            raise
        run.step = f"remove user {owner} from quarantine folder {holder} as the admin"
        self._box.remove_collaboration(grant, None)

    # ----- reads ------------------------------------------------------------------------------

    def _read(self, run: _Run, file_id: str, as_user: str | None) -> FileState:
        run.step = f"read file {file_id} {self._who(as_user)}"
        return self._box.read_file(file_id, as_user)

    def _read_either(
        self, run: _Run, file_id: str, first: str | None, then: str | None
    ) -> tuple[FileState, str | None]:
        """The file as `first` sees it, or else (Box's 404) as `then`; and who read it."""
        try:
            return self._read(run, file_id, first), first
        except BoxRequestFailed as exc:
            if exc.status != 404 or first == then:
                raise
        return self._read(run, file_id, then), then

    def _quarantined(self, state: FileState) -> bool:
        """Read as the admin: in a folder named after it, directly in the admin's quarantine folder."""
        path = state.path
        return (
            len(path) == 3
            and path[0].id == ROOT
            and path[1].name.casefold() == self._quarantine.casefold()
            and path[2].name == state.id
        )

    def _as(self, user_id: str) -> str | None:
        return None if user_id == self._admin else user_id

    @staticmethod
    def _who(as_user: str | None) -> str:
        return "as the admin" if as_user is None else f"as user {as_user}"
