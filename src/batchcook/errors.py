"""Every error batchcook raises on purpose descends from ``BatchcookError``, so a caller can
catch ours apart from bugs, and ask any of them ``retryable`` without ``getattr``.

``str(err)`` is the message to show a person: what happened and what to do next.
``retryable`` says whether the same thing again, later, may work; it does not say whether
trying again costs money (resubmitting a generation does: the workflows decide that).

    BatchcookError
    ├── InputError            a request refused before anything is sent (API 422, CLI exit 2)
    ├── SettingsError         the environment holds values batchcook cannot use
    ├── BudgetExceeded        a job would pass a spending cap; nothing was sent (API 429)
    ├── NotRetryable          only a failed job can be retried (API 409)
    ├── the service layer's (service.py, with their statuses and exit codes):
    │   NotReady (422/503), NoSuchJob (404), AlreadyEnded (409), BadEvent (400),
    │   NeedsNotion (501)
    ├── UnknownModel          a model the catalog does not list
    ├── GenerationError       OpenAI did not give us what we asked for
    │   ├── ModelRetiredError, ModelUnsupportedError, BatchCreationError
    │   ├── BatchTimeoutError (retryable), InvalidResponseError, RefusalError
    │   ├── IncompleteResponseError (retryable)
    │   └── RequestFailedError → BatchFailedError, BatchExpiredError, PartialFailureError
    ├── StoreError            the recipe store (Notion or local) failed
    │   ├── RecipeNotFound, SetupError, SchemaMismatchError
    │   ├── NotionAPIError (retryable when Notion was busy, failing or silent)
    │   └── AmbiguousWriteError (retryable: writes find what an earlier try made)
    ├── MappingError          a page that does not read as a recipe
    └── the command line's: ServerError, NoSuchJobs, ExportError

Python's own bases stay where callers relied on them (an ``InputError`` is still a
``ValueError``, an ``UnknownModel`` a ``LookupError``). The API's own HTTP answers
(``HTTPProblem``, a too-large body, a refused handshake) are responses, not errors of ours.
"""

from __future__ import annotations


class BatchcookError(Exception):
    """The root of every error batchcook raises on purpose."""

    retryable: bool = False
