"""What the toolkit hands back for each ``custom_id``: a body, or a failure that says why."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

FailureKind = Literal[
    "batch_failed",  # the whole file was refused (errors.data); nothing ran
    "expired",  # the 24 h window closed first
    "cancelled",  # the batch was cancelled first
    "http_error",  # the request ran and the API answered an error status
    "malformed",  # the output line could not be parsed
    "missing",  # the batch ended but no line came back for this custom_id
]

# Codes where the same request, sent again later, can succeed.
RETRYABLE_CODES = {
    "token_limit_exceeded",
    "rate_limit_exceeded",
    "server_error",
    "batch_expired",
    "batch_cancelled",
}


@dataclass(frozen=True)
class Success:
    custom_id: str
    body: dict[str, Any]
    batch_id: str
    ok: Literal[True] = True


@dataclass(frozen=True)
class Failure:
    """A request that produced no usable body, with the API's own code and message."""

    custom_id: str
    kind: FailureKind
    code: str | None
    message: str
    batch_id: str | None = None
    status_code: int | None = None
    ok: Literal[False] = False

    @property
    def retryable(self) -> bool:
        """Whether sending the same request again could help (429/5xx, expiry, queue limits)."""
        if self.kind in ("expired", "cancelled", "malformed", "missing"):
            return True
        if self.status_code is not None and (self.status_code == 429 or self.status_code >= 500):
            return True
        return self.code in RETRYABLE_CODES

    def describe(self) -> str:
        where = f" in batch {self.batch_id}" if self.batch_id else ""
        status = f"HTTP {self.status_code} " if self.status_code else ""
        code = f"{self.code}: " if self.code else ""
        return (
            f"request {self.custom_id!r}{where} failed ({self.kind}): {status}{code}{self.message}"
        )


Result = Success | Failure


def encode(result: Result, tier: str = "batch") -> dict[str, Any]:
    """A result as plain data: what a workflow step checkpoints and the service stores."""
    data = dataclasses.asdict(result)
    data["tier"] = tier
    if isinstance(result, Failure):
        data["retryable"] = result.retryable
    return data


def decode(data: dict[str, Any]) -> Result:
    if data["ok"]:
        return Success(data["custom_id"], data["body"], data["batch_id"])
    return Failure(
        data["custom_id"],
        data["kind"],
        data["code"],
        data["message"],
        data["batch_id"],
        data["status_code"],
    )
