"""Batch API facts and the names we give batches, each defined once.

OpenAI's: a batch ends ``completed``, ``failed``, ``expired`` or ``cancelled``, and its
``completion_window`` can only be ``"24h"`` (Batch API reference, platform.openai.com/docs/
api-reference/batch). Ours: the metadata every batch we make carries, so that a sweep, a
webhook or a step run again after a crash can tell whose batch it is and what it holds.
"""

from __future__ import annotations

from typing import Final, Literal

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
COMPLETION_WINDOW: Final[Literal["24h"]] = "24h"
WINDOW_SECONDS = 24 * 3600

JOB_METADATA = "batchcook_job"  # the workflow that follows the batch (a job or a round)
ATTEMPT_METADATA = "batchcook_attempt"  # which retry of a job's parts
GROUP_METADATA = "batchcook_group"  # which slice of a round's parts the batch holds
INSTALL_METADATA = "batchcook_install"  # which installation made it: only it cleans up
