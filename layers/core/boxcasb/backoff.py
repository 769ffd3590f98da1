"""When Box keeps failing: put the work back on its queue, later each time, instead of failing it.

A failed SQS record waits out the queue's whole visibility timeout (30 to 90 minutes here,
sized for the longest invocation) before it is tried again. A message put back with a short,
growing, jittered delay rides out a Box outage of minutes without that wait, and without a herd:
full jitter spreads the workers that met the same outage. After MAX_UNAVAILABLE puts-back the
record fails instead, so SQS's receive count and the DLQ still bound a long outage.
"""

from __future__ import annotations

import math
import random

MAX_UNAVAILABLE = 6  # puts-back in a row (about 10 minutes in all) before SQS's own retries


def unavailable_delay(attempt: int) -> int:
    """Seconds to delay the put-back after `attempt` earlier ones: full jitter, growing to 5 minutes."""
    return math.ceil(random.uniform(1, min(300, 5 * 2**attempt)))  # noqa: S311 - jitter, not secrets
