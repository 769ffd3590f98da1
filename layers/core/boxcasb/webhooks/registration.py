"""The webhook sync: make this stack's Box webhooks match the folders a setting names.

Targets: by default each managed user's own top-level folders (Box allows no webhook on a
root folder, and a webhook on a folder covers everything beneath it); with `folder_ids`,
exactly those folders. A webhook is created as the folder's owner (As-User): Box counts
1000 webhooks per app per user, and lists an app's webhooks per user.

`plan_sync` (pure) compares the targets with what the state table records; the registrar
carries the plan out. Each webhook is recorded right after Box creates it, so a sync that
dies midway leaves at most one webhook unrecorded, and the next run adopts it (Box answers
409 on the target). Targets that could not be decided (a user whose root can't be listed, a
named folder nobody may read) keep their recorded webhooks untouched: not knowing is not a
reason to delete. What no webhook covers is reported, not raised; errors that no retry in
this run can heal (revoked tokens, a long 429, Box down for several calls in a row)
propagate, and the job reports them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Protocol

from boxcasb.clock import Clock, utc_now
from boxcasb.errors import BoxAccessDenied, BoxRequestFailed, BoxUnavailable, Conflict
from boxcasb.observability import logger
from boxcasb.webhooks.model import (
    REGISTERED_TRIGGERS,
    SyncOutcome,
    UncoveredTarget,
    WebhookRegistration,
    WebhookStatus,
    WebhookSyncReport,
)

if TYPE_CHECKING:
    from boxcasb.box_gateway.gateway import BoxWebhookInfo, ItemPage, ListedItem
    from boxcasb.models import BoxUser
    from boxcasb.state_store import StateStore

ROOT_FOLDER = "0"
ROOT_FILES = "files in the root folder: covered by the event poller only"
# Box down (5xx, timeouts, after the gateway's own retries) this many calls in a row: stop the
# run instead of spending four retries on every remaining folder. A single bad target is skipped.
MAX_UNAVAILABLE_IN_A_ROW = 3


@dataclass(frozen=True)
class Target:
    """A folder that should carry one of our webhooks, created as `owner_id`."""

    folder_id: str
    owner_id: str
    name: str | None = None
    owner_login: str | None = None


@dataclass
class SyncPlan:
    keep: list[tuple[WebhookRegistration, Target]] = field(default_factory=list)  # as wanted
    update: list[tuple[WebhookRegistration, Target]] = field(default_factory=list)  # address/triggers
    recreate: list[tuple[WebhookRegistration, Target]] = field(default_factory=list)
    create: list[Target] = field(default_factory=list)
    remove: list[WebhookRegistration] = field(default_factory=list)
    leave: list[WebhookRegistration] = field(default_factory=list)  # undecided: untouched
    over_limit: list[Target] = field(default_factory=list)  # the owner has `per_user_limit` already


def plan_sync(
    targets: Mapping[str, Target],
    recorded: Iterable[WebhookRegistration],
    *,
    address: str,
    triggers: Sequence[str] = REGISTERED_TRIGGERS,
    undecided_owners: Collection[str] = (),
    undecided_targets: Collection[str] = (),
    per_user_limit: int = 1000,
) -> SyncPlan:
    """What to do so that each target carries exactly one recorded webhook of ours, and nothing else does.

    `targets` are folders by id. A recorded webhook whose target is not wanted is removed,
    unless its owner (or its folder) is undecided. Creates are capped per owner so that
    the webhooks we keep, update, re-create or leave plus the new ones stay within the limit.
    """
    plan = SyncPlan()
    by_target: dict[tuple[str, str], list[WebhookRegistration]] = {}
    for registration in recorded:
        by_target.setdefault((registration.target_type, registration.target_id), []).append(registration)
    for (target_type, target_id), registrations in sorted(by_target.items()):
        target = targets.get(target_id) if target_type == "folder" else None
        if target is None:
            for registration in registrations:
                undecided = registration.owner_user_id in undecided_owners or target_id in undecided_targets
                (plan.leave if undecided else plan.remove).append(registration)
            continue
        best, *duplicates = sorted(registrations, key=partial(_preference, target=target), reverse=True)
        plan.remove.extend(duplicates)  # Box holds one webhook per target per app: the rest are stale
        if best.status is not WebhookStatus.ACTIVE or best.owner_user_id != target.owner_id:
            plan.recreate.append((best, target))
        elif best.address != address or set(best.triggers) != set(triggers):
            plan.update.append((best, target))
        else:
            plan.keep.append((best, target))
    used = Counter(
        [t.owner_id for _, t in plan.keep + plan.update + plan.recreate]
        + [r.owner_user_id for r in plan.leave if r.status is WebhookStatus.ACTIVE]
    )
    missing = (t for folder_id, t in targets.items() if ("folder", folder_id) not in by_target)
    for target in sorted(missing, key=lambda t: (t.owner_id, t.folder_id)):
        if used[target.owner_id] >= per_user_limit:
            plan.over_limit.append(target)
        else:
            used[target.owner_id] += 1
            plan.create.append(target)
    return plan


def _preference(registration: WebhookRegistration, *, target: Target) -> tuple[bool, bool, str]:
    active = registration.status is WebhookStatus.ACTIVE
    return (
        active and registration.owner_user_id == target.owner_id,
        active,
        registration.created_at.isoformat(),
    )


class WebhookBox(Protocol):
    """The Box calls a sync makes (BoxGateway). `user_id` None: as the connected account itself."""

    def current_user(self) -> BoxUser: ...

    def managed_users(self) -> list[BoxUser]: ...

    def list_folder_items_as(
        self, user_id: str | None, folder_id: str, marker: str | None = None
    ) -> ItemPage: ...

    def get_folder(self, folder_id: str, user_id: str | None = None) -> ListedItem: ...

    def create_webhook_as(
        self, user_id: str | None, folder_id: str, address: str, triggers: Sequence[str]
    ) -> str: ...

    def list_webhooks_as(self, user_id: str | None) -> list[BoxWebhookInfo]: ...

    def get_webhook_as(self, user_id: str | None, webhook_id: str) -> BoxWebhookInfo | None: ...

    def update_webhook_as(
        self, user_id: str | None, webhook_id: str, address: str, triggers: Sequence[str]
    ) -> bool: ...

    def delete_webhook_as(self, user_id: str | None, webhook_id: str) -> bool: ...


class WebhookRegistrar:
    def __init__(
        self,
        store: StateStore,
        gateway_for: Callable[[str], WebhookBox],
        address: str,
        folder_ids: Sequence[str] = (),
        clock: Clock = utc_now,
        per_user_limit: int = 1000,
    ) -> None:
        self._store = store
        self._gateway_for = gateway_for
        self._address = address
        self._folder_ids = tuple(dict.fromkeys(f.strip() for f in folder_ids if f.strip()))
        self._clock = clock
        self._per_user_limit = per_user_limit

    def sync(self, connection_id: str) -> WebhookSyncReport:
        started = self._clock()
        connection = self._store.get_connection(connection_id)
        box = self._gateway_for(connection_id)
        admin_id = connection.admin_user_id or box.current_user().id
        coadmin = connection.role == "coadmin"
        run = _Run(self._store, box, connection_id, admin_id, coadmin, self._address, self._clock)
        recorded = self._store.list_webhooks(connection_id)
        named = self._folder_ids
        found = run.named_folders(named, recorded) if named else run.top_level_folders()
        plan = plan_sync(
            found.targets,
            recorded,
            address=self._address,
            undecided_owners=found.undecided_owners,
            undecided_targets=found.undecided_targets,
            per_user_limit=self._per_user_limit,
        )
        run.carry_out(plan, self._per_user_limit)
        report = WebhookSyncReport(
            outcome=SyncOutcome.FINISHED,
            started_at=started,
            finished_at=self._clock(),
            uncovered=run.uncovered,
            **run.counts,
        )
        logger.info(
            "webhook sync finished",
            # prefixed: `created` is a LogRecord attribute, which logging refuses to overwrite
            extra={
                "connection_id": connection_id,
                **{f"webhooks_{name}": count for name, count in run.counts.items()},
                "webhooks_uncovered": len(run.uncovered),
            },
        )
        return report


@dataclass(frozen=True)
class WebhookRemoval:
    removed: int  # deleted in Box (or already gone there), and their records with them
    refused: list[str]  # why Box refused the others (their records stay)


def remove_recorded(
    store: StateStore, box: WebhookBox, connection_id: str, admin_id: str, clock: Clock = utc_now
) -> WebhookRemoval:
    """Delete every webhook recorded for a connection (a disconnect), each As-User its owner.

    The sync's own delete path: a refusal concerning one webhook is reported and the rest go on;
    Box down several calls in a row, a long 429 or a revoked token propagate.
    """
    run = _Run(store, box, connection_id, admin_id, False, "", clock)
    for registration in store.list_webhooks(connection_id):
        run.remove(registration)
    return WebhookRemoval(removed=run.counts["removed"], refused=[u.reason for u in run.uncovered])


@dataclass
class _Found:
    targets: dict[str, Target] = field(default_factory=dict)
    undecided_owners: set[str] = field(default_factory=set)
    undecided_targets: set[str] = field(default_factory=set)


class _Refused(Exception):
    """Box said no to one call that other targets may not share: reported, and the run goes on."""


class _Run:
    """One sync's state: the Box session, its counts, what it could not cover."""

    def __init__(
        self,
        store: StateStore,
        box: WebhookBox,
        connection_id: str,
        admin_id: str,
        as_coadmin: bool,
        address: str,
        clock: Clock,
    ) -> None:
        self.store = store
        self.box = box
        self.connection_id = connection_id
        self.admin_id = admin_id
        self.as_coadmin = as_coadmin  # Box: a co-admin can't act as admins or other co-admins
        self.address = address
        self.clock = clock
        self.counts = {"created": 0, "adopted": 0, "kept": 0, "recreated": 0, "removed": 0}
        self.uncovered: list[UncoveredTarget] = []
        self._listed: dict[str, list[BoxWebhookInfo]] = {}  # webhooks Box lists per owner, this run
        self._unavailable_in_a_row = 0
        self._users: list[BoxUser] | None = None

    def acting(self, user_id: str) -> str | None:
        """The As-User for `user_id`: none for the connected account (Box refuses As-User to oneself)."""
        return None if user_id == self.admin_id else user_id

    def guard[T](self, call: Callable[[], T]) -> T:
        """Run one Box call; a refusal that concerns this target only becomes `_Refused`."""
        try:
            result = call()
        except (BoxAccessDenied, BoxRequestFailed) as exc:
            raise _Refused(str(exc)) from exc
        except BoxUnavailable as exc:
            self._unavailable_in_a_row += 1
            if self._unavailable_in_a_row >= MAX_UNAVAILABLE_IN_A_ROW:
                raise
            raise _Refused(str(exc)) from exc
        self._unavailable_in_a_row = 0
        return result

    def users(self) -> list[BoxUser]:
        if self._users is None:
            self._users = sorted(self.box.managed_users(), key=lambda u: (len(u.id), u.id))
        return self._users

    # --- what should be covered -----------------------------------------------------------

    def top_level_folders(self) -> _Found:
        found = _Found()
        for user in self.users():
            items: list[ListedItem] = []
            reason = self._cannot_act_as(user)
            if reason is None:
                try:
                    items = self.guard(partial(self._whole_folder, user.id, ROOT_FOLDER))
                except _Refused as exc:
                    reason = f"the user's root folder can't be listed: {exc}"
            if reason is not None:
                found.undecided_owners.add(user.id)
                self.uncovered.append(UncoveredTarget(user_id=user.id, user_login=user.login, reason=reason))
                continue
            root_files = False
            for item in items:
                if item.owner_id not in (None, user.id):
                    continue  # shared with this user: its owner's pass covers it
                if item.type == "folder":
                    found.targets[item.id] = Target(item.id, user.id, item.name, user.login)
                else:
                    root_files = True
            if root_files:
                self.uncovered.append(
                    UncoveredTarget(
                        user_id=user.id,
                        user_login=user.login,
                        target_type="folder",
                        target_id=ROOT_FOLDER,
                        reason=ROOT_FILES,
                    )
                )
        return found

    def _cannot_act_as(self, user: BoxUser) -> str | None:
        if user.status not in (None, "active"):
            return f"the user is {user.status}: Box does not let an app act as them"
        if self.as_coadmin and user.id != self.admin_id and user.role in ("admin", "coadmin"):
            return "a co-admin can't act as an admin or another co-admin: connect Box as the admin"
        return None

    def _whole_folder(self, user_id: str, folder_id: str) -> list[ListedItem]:
        items: list[ListedItem] = []
        marker: str | None = None
        while True:
            page = self.box.list_folder_items_as(self.acting(user_id), folder_id, marker)
            items.extend(page.entries)
            marker = page.next_marker
            if marker is None:
                return items

    def named_folders(self, folder_ids: Sequence[str], recorded: Sequence[WebhookRegistration]) -> _Found:
        found = _Found()
        hints = {r.target_id: r.owner_user_id for r in recorded if r.target_type == "folder"}
        for folder_id in folder_ids:
            if folder_id == ROOT_FOLDER:
                reason = "Box allows no webhook on a root folder: name folders inside it"
                self.uncovered.append(
                    UncoveredTarget(target_type="folder", target_id=folder_id, reason=reason)
                )
                continue
            try:
                folder = self._find_folder(folder_id, hints.get(folder_id))
            except _Refused as exc:
                found.undecided_targets.add(folder_id)
                reason = f"the folder can't be read: {exc}"
                self.uncovered.append(
                    UncoveredTarget(target_type="folder", target_id=folder_id, reason=reason)
                )
                continue
            if folder is None or folder.owner_id is None:
                reason = "no managed user can see this folder: deleted, or owned outside the enterprise"
                self.uncovered.append(
                    UncoveredTarget(target_type="folder", target_id=folder_id, reason=reason)
                )
                continue
            login = next((u.login for u in self._users or [] if u.id == folder.owner_id), None)
            found.targets[folder_id] = Target(folder_id, folder.owner_id, folder.name, login)
        return found

    def _find_folder(self, folder_id: str, hint: str | None) -> ListedItem | None:
        """The folder and its owner, or None if nobody can see it (404 for everyone asked).

        An admin sees other users' folders only As-User (404 otherwise), so we ask, in turn:
        the owner we recorded, the connected account, then every managed user we may act as.
        """
        refusals: list[str] = []
        asked: set[str] = set()

        def candidates() -> Iterator[str]:
            if hint is not None:
                yield hint
            yield self.admin_id
            for user in self.guard(self.users):
                if self._cannot_act_as(user) is None:
                    yield user.id

        for user_id in candidates():
            if user_id in asked:
                continue
            asked.add(user_id)
            try:
                folder = self.guard(partial(self.box.get_folder, folder_id, self.acting(user_id)))
            except _Refused as exc:
                cause = exc.__cause__
                if not (isinstance(cause, BoxRequestFailed) and cause.status == 404):
                    refusals.append(str(exc))
                continue
            return folder
        if refusals:
            raise _Refused(refusals[0])
        return None

    # --- making Box match -----------------------------------------------------------------

    def carry_out(self, plan: SyncPlan, per_user_limit: int) -> None:
        for target in plan.over_limit:
            self._uncover(
                target, f"the owner has {per_user_limit} webhooks of this app (Box's limit per user)"
            )
        for registration in plan.remove:  # first: frees places under the per-user limit
            self.remove(registration)
        recreate = [(registration, target, True) for registration, target in plan.recreate]
        recreate += self._keep_and_update(plan)
        for registration, target, delete_first in recreate:
            if self._recreate(registration, target, delete_first=delete_first):
                self.counts["recreated"] += 1
        for target in plan.create:
            registered = self._register(target)
            if registered is not None:
                self.counts[registered[1]] += 1

    def _keep_and_update(self, plan: SyncPlan) -> list[tuple[WebhookRegistration, Target, bool]]:
        """Count what stays, fix addresses in place; what Box lost is returned, to be re-created."""
        in_box = self._present_in_box([r for r, _ in plan.keep + plan.update])
        recreate: list[tuple[WebhookRegistration, Target, bool]] = []
        for registration, target in plan.keep:
            if in_box(registration):
                self.counts["kept"] += 1
            else:
                recreate.append((registration, target, False))  # Box does not have it: no delete
        for registration, target in plan.update:
            if not in_box(registration):
                recreate.append((registration, target, False))
            elif self._update(registration, target):
                self.counts["kept"] += 1
            else:
                recreate.append((registration, target, False))
        self.counts["kept"] += sum(1 for r in plan.leave if r.status is WebhookStatus.ACTIVE)
        return recreate

    def _present_in_box(
        self, registrations: list[WebhookRegistration]
    ) -> Callable[[WebhookRegistration], bool]:
        """Check recorded webhooks against Box with one list per owner, not one GET per webhook.

        Box can drop a webhook without telling us (its cleanup after failed deliveries can't
        reach an intake that was failing): those are re-created. An owner whose list can't be
        read keeps its webhooks as recorded.
        """
        present: dict[str, set[str] | None] = {}
        for owner in sorted({r.owner_user_id for r in registrations}):
            try:
                present[owner] = {w.id for w in self._webhooks_of(owner, fresh=True)}
            except _Refused as exc:
                logger.warning(
                    "a user's webhooks could not be listed", extra={"user_id": owner, "error": str(exc)}
                )
                present[owner] = None

        def in_box(registration: WebhookRegistration) -> bool:
            ids = present[registration.owner_user_id]
            return ids is None or registration.webhook_id in ids

        return in_box

    def _webhooks_of(self, owner: str, *, fresh: bool) -> list[BoxWebhookInfo]:
        if fresh or owner not in self._listed:
            self._listed[owner] = self.guard(partial(self.box.list_webhooks_as, self.acting(owner)))
        return self._listed[owner]

    def remove(self, registration: WebhookRegistration) -> None:
        """Delete the webhook in Box as its owner (404: gone already), then its record."""
        owner = registration.owner_user_id
        try:
            self.guard(partial(self.box.delete_webhook_as, self.acting(owner), registration.webhook_id))
        except _Refused as exc:
            self.uncovered.append(
                UncoveredTarget(
                    user_id=owner,
                    target_type=registration.target_type,
                    target_id=registration.target_id,
                    reason=f"webhook {registration.webhook_id} is no longer wanted but Box refused to "
                    f"delete it ({exc}): kept on record, tried again next sync",
                )
            )
            return
        self.store.delete_webhook(self.connection_id, registration.webhook_id)
        self.counts["removed"] += 1

    def _update(self, registration: WebhookRegistration, target: Target) -> bool:
        """Point a recorded webhook at our address and triggers, keeping its id; False if Box lost it."""
        acting = self.acting(registration.owner_user_id)
        try:
            found = self.guard(
                partial(
                    self.box.update_webhook_as,
                    acting,
                    registration.webhook_id,
                    self.address,
                    REGISTERED_TRIGGERS,
                )
            )
        except _Refused as exc:
            self._uncover(target, f"Box refused to update webhook {registration.webhook_id}: {exc}")
            return True  # still there, still recorded: the next sync tries again
        if found:
            self.store.put_webhook(
                registration.model_copy(update={"address": self.address, "triggers": REGISTERED_TRIGGERS})
            )
        return found

    def _recreate(self, registration: WebhookRegistration, target: Target, *, delete_first: bool) -> bool:
        """Delete the old webhook (404 fine), create it again, record the new one, then drop the old record.

        The old record goes last: a crash in between leaves it marked, and the next run's
        create meets the new webhook (409) and adopts it.
        """
        acting = self.acting(registration.owner_user_id)
        try:
            # Gone already after WEBHOOK.DELETED (404); still there after NO_ACTIVE_SESSION.
            if delete_first:
                self.guard(partial(self.box.delete_webhook_as, acting, registration.webhook_id))
        except _Refused as exc:
            logger.warning(
                "an old webhook was not deleted before re-creating it",
                extra={"webhook_id": registration.webhook_id, "error": str(exc)},
            )
        registered = self._register(target)
        if registered is None:
            return False  # reported; the old record stays, so the next sync tries again
        if registered[0] != registration.webhook_id:
            self.store.delete_webhook(self.connection_id, registration.webhook_id)
        return True

    def _register(self, target: Target) -> tuple[str, str] | None:
        """Create the webhook on `target`, recorded at once: (id, 'created' or 'adopted'); None: reported."""
        acting = self.acting(target.owner_id)
        try:
            webhook_id = self.guard(
                partial(
                    self.box.create_webhook_as, acting, target.folder_id, self.address, REGISTERED_TRIGGERS
                )
            )
            outcome = "created"
        except Conflict:
            adopted = self._adopt(target)
            if adopted is None:
                return None
            webhook_id, outcome = adopted, "adopted"
        except _Refused as exc:
            self._uncover(target, f"Box refused the webhook: {exc}")
            return None
        self._record(target, webhook_id)
        return webhook_id, outcome

    def _adopt(self, target: Target) -> str | None:
        """Box has one of this app's webhooks on the target (409): find it, make it ours, record it.

        A different address is changed in place (PUT): the id, and so any delivery already on
        its way, stays valid, and there is no moment without a webhook as delete+create has.
        """
        acting = self.acting(target.owner_id)
        try:
            listed_before = target.owner_id in self._listed  # earlier in this run: may predate it
            hook = self._on_target(target, fresh=False)
            if hook is None and listed_before:
                hook = self._on_target(target, fresh=True)
            if hook is None:
                self._uncover(
                    target, "Box answered 409 (a webhook of this app is on the folder) but lists none"
                )
                return None
            current = self.guard(partial(self.box.get_webhook_as, acting, hook.id))
            if current is None:
                self._uncover(
                    target, f"webhook {hook.id} vanished while being adopted: tried again next sync"
                )
                return None
            if current.address != self.address or set(current.triggers) != set(REGISTERED_TRIGGERS):
                self.guard(
                    partial(self.box.update_webhook_as, acting, hook.id, self.address, REGISTERED_TRIGGERS)
                )
        except _Refused as exc:
            self._uncover(target, f"a webhook of this app is on the folder but can't be adopted: {exc}")
            return None
        return hook.id

    def _on_target(self, target: Target, *, fresh: bool) -> BoxWebhookInfo | None:
        for hook in self._webhooks_of(target.owner_id, fresh=fresh):
            if (hook.target_type, hook.target_id) == ("folder", target.folder_id):
                return hook
        return None

    def _record(self, target: Target, webhook_id: str) -> None:
        self.store.put_webhook(
            WebhookRegistration(
                webhook_id=webhook_id,
                connection_id=self.connection_id,
                owner_user_id=target.owner_id,
                target_type="folder",
                target_id=target.folder_id,
                target_name=target.name,
                triggers=REGISTERED_TRIGGERS,
                address=self.address,
                created_at=self.clock(),
            )
        )

    def _uncover(self, target: Target, reason: str) -> None:
        self.uncovered.append(
            UncoveredTarget(
                user_id=target.owner_id,
                user_login=target.owner_login,
                target_type="folder",
                target_id=target.folder_id,
                reason=reason,
            )
        )
