"""A page's independent AWS requests sent side by side: a page costs its slowest request, not their sum.

The event poller stores a page of 500 events in about 20 BatchWriteItems, 20 SendMessageBatches
and an UpdateItem per watched event. One after another that is ~2 ms an event in AWS, too slow
for a stream of 1,000 a second; side by side it is the slowest chain's time.

One bounded pool per container, kept between invocations. Work already running on the pool does
not fan out again (it runs its parts in turn), so no task waits on tasks queued behind it. A call
waits for all its tasks, failed or not, before it returns or raises: nothing runs on after an
invocation ends, when Lambda may freeze the container. Each task runs in a copy of the caller's
context (contextvars), as if it ran in the caller's thread.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait

WIDTH = 16  # requests in flight per invocation (aws_clients keeps as many connections per client)

# Threads start on first use, so building the pool at import costs nothing.
_POOL = ThreadPoolExecutor(max_workers=WIDTH, thread_name_prefix="boxcasb-fan-out")
_on_pool = threading.local()


def side_by_side[T](calls: Sequence[Callable[[], T]]) -> list[T]:
    """Each call's result, in order. The first failure is raised once every call has ended."""
    if len(calls) < 2 or getattr(_on_pool, "yes", False):
        return [call() for call in calls]
    futures: list[Future[T]] = [
        _POOL.submit(contextvars.copy_context().run, _on_pool_thread, call) for call in calls
    ]
    wait(futures)
    return [future.result() for future in futures]


def _on_pool_thread[T](call: Callable[[], T]) -> T:
    _on_pool.yes = True
    return call()
