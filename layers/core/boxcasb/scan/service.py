"""Starting scan generations (after the first Test API, on a schedule, on demand) and showing them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from boxcasb.clock import Clock, utc_now
from boxcasb.errors import Conflict
from boxcasb.models import Connection, ConnectionStatus
from boxcasb.observability import logger
from boxcasb.scan.ledger import ScanLedger
from boxcasb.scan.model import (
    BulkJob,
    GapKind,
    GenerationStatus,
    ScanGap,
    ScanGeneration,
    ScanTrigger,
    StartJob,
)
from boxcasb.scan.walk import START_JOB

GENERATION_PARENT = "GENERATION"


class ScanService:
    def __init__(
        self,
        ledger: ScanLedger,
        connection: Callable[[str], Connection],
        connections: Callable[[], Sequence[Connection]],
        send: Callable[[Sequence[BulkJob]], None],
        policy_version: Callable[[str], str],
        stall_after: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._ledger = ledger
        self._connection = connection
        self._connections = connections
        self._send = send
        self._policy_version = policy_version
        self._stall_after = stall_after
        self._clock = clock

    def start(self, connection_id: str, trigger: ScanTrigger) -> ScanGeneration:
        """A new generation; Conflict if the connection can't be scanned or one is still running."""
        connection = self._connection(connection_id)
        if connection.status is not ConnectionStatus.CONNECTED:
            raise Conflict(f"connection {connection_id} is {connection.status.value}: connect Box first")
        latest = self._ledger.latest(connection_id)
        running = latest is not None and latest.status is GenerationStatus.RUNNING
        if latest is not None and running and not self._close_if_stalled(latest):
            raise Conflict(f"scan generation {latest.number} is still running")
        generation = ScanGeneration(
            connection_id=connection_id,
            number=(latest.number + 1) if latest else 1,
            trigger=trigger,
            status=GenerationStatus.RUNNING,
            policy_version=self._policy_version(connection_id),
            started_at=self._clock(),
        )
        if not self._ledger.create(generation):
            raise Conflict("another scan generation started at the same moment")
        # Registered before it is sent, like every job: the generation can't look complete early.
        self._ledger.register(connection_id, generation.number, GENERATION_PARENT, [START_JOB])
        self._send([StartJob(connection_id=connection_id, generation=generation.number)])
        logger.info("scan generation started", extra={"generation": generation.number, "trigger": trigger})
        return generation

    def start_first(self, connection_id: str) -> ScanGeneration | None:
        """After a passing Test API: the connection's first generation, unless it has one."""
        if self._ledger.latest(connection_id) is not None:
            return None
        try:
            return self.start(connection_id, "api_test")
        except Conflict as exc:
            logger.info("first scan not started", extra={"reason": str(exc)})
            return None

    def start_scheduled(self) -> dict[str, str]:
        """Every connected connection gets a generation; one still running is left to finish."""
        outcomes: dict[str, str] = {}
        for connection in self._connections():
            if connection.status is not ConnectionStatus.CONNECTED:
                continue
            try:
                outcomes[connection.connection_id] = (
                    f"started {self.start(connection.connection_id, 'schedule').number}"
                )
            except Conflict as exc:
                outcomes[connection.connection_id] = f"skipped: {exc}"
        return outcomes

    def progress(self, connection_id: str, limit: int = 1) -> list[ScanGeneration]:
        """The newest generations, with live counters and gaps while they run."""
        shown = []
        for stored in self._ledger.history(connection_id, limit):
            generation = stored
            if stored.status is GenerationStatus.RUNNING:
                generation = stored.model_copy(
                    update={
                        "counters": self._ledger.counters(connection_id, generation.number),
                        "gaps": self._ledger.gaps(connection_id, generation.number),
                    }
                )
            shown.append(generation)
        return shown

    def _close_if_stalled(self, generation: ScanGeneration) -> bool:
        """Close a generation that made no progress for `stall_after` (its work died in the DLQ)."""
        last = (
            self._ledger.last_progress(generation.connection_id, generation.number) or generation.started_at
        )
        if self._clock() - last < self._stall_after:
            return False
        unfinished = self._ledger.unfinished_jobs(generation.connection_id, generation.number)
        self._ledger.add_gaps(
            generation.connection_id,
            generation.number,
            [
                ScanGap(
                    kind=GapKind.UNFINISHED,
                    subject=job_id,
                    reason=f"no progress since {last.isoformat()}; see the scan dead-letter queue",
                )
                for job_id in unfinished
            ],
        )
        self._ledger.close(generation, GenerationStatus.INCOMPLETE)
        logger.warning("stalled scan generation closed", extra={"generation": generation.number})
        return True  # closed now, or by someone else a moment ago: either way not running
