"""Every way generation can fail, each with a message that says what happened and what next.

The table in the generation issue, one class per row: creation fails, timeout, batch failed
or expired, partial failure, parse error — plus refusal, incomplete output and retired models.
Each keeps the identifiers a caller needs to resume or retry without paying twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from batchcook.errors import BatchcookError

if TYPE_CHECKING:  # the batch toolkit imports this module: a runtime import would be a cycle
    from batchcook.generation.batch.results import Failure


class GenerationError(BatchcookError):
    """Generation failed; ``str(err)`` is the message to show a user."""


class ModelRetiredError(GenerationError):
    def __init__(self, model: str, shutdown: str, replacement: str | None) -> None:
        self.model = model
        self.replacement = replacement
        hint = f"; use {replacement!r} instead" if replacement else ""
        super().__init__(
            f"model {model!r} was shut down on {shutdown}{hint} "
            "(set BATCHCOOK_TEXT_MODEL / BATCHCOOK_IMAGE_MODEL, or update the catalog)"
        )


class ModelUnsupportedError(GenerationError):
    pass


class BatchCreationError(GenerationError):
    """Uploading a file or creating a batch was refused; nothing is left running."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        self.cause = cause
        super().__init__(message)


class BatchTimeoutError(GenerationError):
    """The foreground wait ended; the batches go on. Their ids are here to resume from."""

    retryable = True

    def __init__(self, batch_ids: Sequence[str], statuses: dict[str, str], waited: float) -> None:
        self.batch_ids = list(batch_ids)
        self.statuses = statuses
        shown = ", ".join(f"{bid} ({statuses.get(bid, '?')})" for bid in self.batch_ids)
        super().__init__(
            f"batch timeout after {waited:.0f}s: {shown} still running; they keep going on "
            "OpenAI's side for up to 24 h — resume by polling these ids instead of resubmitting"
        )


class RequestFailedError(GenerationError):
    """A request we needed did not succeed (batch failed, expired, cancelled, or line error)."""

    def __init__(self, what: str, failure: Failure, partial: dict[str, Any] | None = None) -> None:
        self.what = what
        self.failure = failure
        self.partial = partial or {}  # the results that did succeed: keep them, don't re-pay
        self.retryable = failure.retryable
        retry = "a retry could help" if failure.retryable else "retrying as is will not help"
        super().__init__(f"{what} failed: {failure.describe()} ({retry})")


class BatchFailedError(RequestFailedError):
    """The whole input file was refused (``errors.data``)."""


class BatchExpiredError(RequestFailedError):
    """The 24 h window (or a cancel) ended the batch before this request ran."""


class PartialFailureError(RequestFailedError):
    """One of the two results came back and the other did not; both are needed."""


class InvalidResponseError(GenerationError):
    """The API answered 200 but the body is not what we asked for."""

    def __init__(self, custom_id: str, problem: str, excerpt: str) -> None:
        self.custom_id = custom_id
        self.excerpt = excerpt[:200]
        super().__init__(f"invalid response for {custom_id!r}: {problem}; starts {self.excerpt!r}")


class RefusalError(GenerationError):
    def __init__(self, custom_id: str, refusal: str) -> None:
        self.custom_id = custom_id
        self.refusal = refusal
        super().__init__(
            f"the model refused request {custom_id!r}: {refusal!r} — rephrase the prompt"
        )


class IncompleteResponseError(GenerationError):
    retryable = True

    def __init__(self, custom_id: str, reason: str | None) -> None:
        self.custom_id = custom_id
        self.reason = reason
        hint = (
            "; raise the output token budget (max_output_tokens)"
            if reason == "max_output_tokens"
            else ""
        )
        super().__init__(f"response {custom_id!r} is incomplete ({reason}){hint}")
