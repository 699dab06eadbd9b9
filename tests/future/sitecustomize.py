"""Run every Python process of the test suite with its clock moved forward.

``make test-future`` puts this folder on ``PYTHONPATH`` and sets ``TEST_CLOCK_SHIFT_DAYS``,
so pytest and every process it starts (CLI children, workers, ``serve``) see the same
shifted wall clock: the suite must still pass the day a model in the shipped catalog
retires. ``time-machine`` moves only the wall clock (``time.time``, ``datetime.now``);
monotonic time and timed thread waits are untouched, so DBOS runs as usual, which
libfaketime does not allow (its timed waits never return).
"""

from __future__ import annotations

import os
import time

_days = os.environ.get("TEST_CLOCK_SHIFT_DAYS")
if _days:
    import time_machine

    # A constant offset from the real clock: processes started later agree with earlier ones.
    _traveller = time_machine.travel(time.time() + float(_days) * 86400, tick=True)
    _traveller.start()
