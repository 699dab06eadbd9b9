"""The job record a user can query: what was asked, where it is, what it cost, what failed.

A job is one durable workflow; its id is the workflow id and the idempotency key. The record
is published by the workflow at each transition (as a DBOS event), so any process on the
same database can read it.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from batchcook.config import Mode

JobStatus = Literal[
    "queued", "submitted", "generating", "waiting", "writing", "succeeded", "failed"
]
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
JobKind = Literal["create", "modify"]
TERMINAL_STATUSES = ("succeeded", "failed")
_SAFE_ID = re.compile(r"[^A-Za-z0-9._:-]+")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_job_id(kind: JobKind, request_id: str | None = None) -> str:
    """A caller's request id makes the job id (same request, same job); else a fresh one."""
    if request_id:
        return f"{kind}-{_SAFE_ID.sub('-', request_id)[:100]}"
    return f"{kind}-{uuid.uuid4().hex}"


class BatchState(BaseModel):
    id: str
    endpoint: str
    attempt: int = 0
    status: str = "validating"
    completed: int = 0
    failed: int = 0
    total: int = 0


class Cost(BaseModel):
    custom_id: str
    model: str
    tier: str
    input_tokens: int
    output_tokens: int
    usd: float


class JobError(BaseModel):
    step: str
    message: str
    type: str
    retryable: bool = False
    # The cause passes with time (rate limit, 5xx, timeout, lock): what the job's batches
    # produced is kept (the sweep does not delete their files) for a later attempt.
    transient: bool = False


class Job(BaseModel):
    id: str
    kind: JobKind
    status: JobStatus = "queued"
    prompt: str
    mode: Mode = "batch"
    database_id: str | None = None
    page_id: str | None = None  # the recipe to modify; then the recipe written
    page_url: str | None = None
    batches: list[BatchState] = Field(default_factory=list)
    costs: list[Cost] = Field(default_factory=list)
    error: JobError | None = None
    created_at: str = Field(default_factory=now)
    updated_at: str = Field(default_factory=now)
    finished_at: str | None = None
    title: str | None = None
    retry_of: str | None = None  # the failed job this one retries, reusing what it paid for

    @property
    def cost_usd(self) -> float:
        return sum(c.usd for c in self.costs)

    def public(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["cost_usd"] = round(self.cost_usd, 6)
        return data
