"""The emulator's state: files and batches, and the batch lifecycle on the emulator's clock.

A batch moves through its statuses lazily: whenever it is read, it is advanced to where the
clock says it should be. So a test controls time with ``ManualClock.advance`` and never
sleeps, and a demo on the system clock sees batches progress in real seconds.
"""

from __future__ import annotations

import json
import math
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from batchcook.generation.catalog import Catalog
from batchcook.testing.openai_emulator import content, validation
from batchcook.testing.openai_emulator.clock import Clock
from batchcook.testing.openai_emulator.errors import APIError, bad_request, not_found, server_error
from batchcook.testing.openai_emulator.faults import BatchPlan, FaultPlan
from batchcook.testing.openai_emulator.fixtures import Fixtures
from batchcook.testing.openai_emulator.webhooks import batch_event, deliver

BATCH_ENDPOINTS_SERVED = ("/v1/responses", "/v1/images/generations")
DAY = 24 * 3600
THIRTY_DAYS = 30 * DAY
TERMINAL = {"completed", "failed", "expired", "cancelled"}


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int
    expires_at: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }


@dataclass
class LineResult:
    custom_id: str
    finish_at: float
    status_code: int
    body: dict[str, Any]


@dataclass
class BatchRecord:
    id: str
    endpoint: str
    input_file_id: str
    metadata: dict[str, str] | None
    created_at: float
    plan: BatchPlan
    output_expires_after: int | None = None
    status: str = "validating"
    model: str | None = None
    times: dict[str, float] = field(default_factory=dict)
    errors: list[dict[str, Any]] | None = None
    results: list[LineResult] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(
        default_factory=lambda: {"total": 0, "completed": 0, "failed": 0}
    )
    usage: dict[str, int] = field(default_factory=dict)

    @property
    def expires_at(self) -> float:
        return self.created_at + DAY

    def to_json(self) -> dict[str, Any]:
        def ts(name: str) -> int | None:
            value = self.times.get(name)
            return None if value is None else int(value)

        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "model": self.model,
            "errors": None if self.errors is None else {"object": "list", "data": self.errors},
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": int(self.created_at),
            "in_progress_at": ts("in_progress_at"),
            "expires_at": int(self.expires_at),
            "finalizing_at": ts("finalizing_at"),
            "completed_at": ts("completed_at"),
            "failed_at": ts("failed_at"),
            "expired_at": ts("expired_at"),
            "cancelling_at": ts("cancelling_at"),
            "cancelled_at": ts("cancelled_at"),
            "request_counts": dict(self.counts),
            "usage": {
                "input_tokens": self.usage.get("input_tokens", 0),
                "input_tokens_details": {"cached_tokens": self.usage.get("cached_tokens", 0)},
                "output_tokens": self.usage.get("output_tokens", 0),
                "output_tokens_details": {
                    "reasoning_tokens": self.usage.get("reasoning_tokens", 0)
                },
                "total_tokens": self.usage.get("input_tokens", 0)
                + self.usage.get("output_tokens", 0),
            },
            "metadata": self.metadata,
        }


def _batch_error(
    code: str, message: str, line: int | None, param: str | None = None
) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


class EmulatorState:
    """Everything the emulated account holds; all access goes through one lock."""

    def __init__(
        self,
        catalog: Catalog,
        clock: Clock,
        faults: FaultPlan,
        *,
        max_batch_file_bytes: int = 200 * 1024 * 1024,
        max_batch_lines: int = 50_000,
        refusal_triggers: tuple[str, ...] = ("poison", "weapon"),
        fixtures: Fixtures | None = None,
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self.faults = faults
        self.max_batch_file_bytes = max_batch_file_bytes
        self.max_batch_lines = max_batch_lines
        self.refusal_triggers = refusal_triggers
        self.fixtures = fixtures  # canned answers by prompt; None: schema filler only
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, BatchRecord] = {}
        self.lock = threading.RLock()
        self.calls: dict[str, int] = {}
        self.answered: list[tuple[str, Any]] = []  # (endpoint, body) of every request run
        self.webhook: tuple[str, str] | None = None  # (url, secret) for batch events
        self._notified: set[str] = set()

    def today(self) -> Any:
        return datetime.fromtimestamp(self.clock.now(), UTC).date()

    # --- sync endpoints (also what a batch line runs) ---------------------------------------

    def run_request(self, endpoint: str, body: Any) -> dict[str, Any]:
        """Validate and answer one request as the sync endpoint would; raises ``APIError``."""
        self.answered.append((endpoint, body))
        if endpoint == "/v1/responses":
            info = validation.validate_responses_body(body, self.catalog, self.today())
            text = content._input_text(body).lower()
            refuse = any(word in text for word in self.refusal_triggers)
            return content.response_body(body, info, refuse=refuse, fixtures=self.fixtures)
        if endpoint == "/v1/images/generations":
            info = validation.validate_images_body(body, self.catalog, self.today())
            return content.image_body(body, info, self.fixtures)
        raise not_found(f"Invalid URL (POST {endpoint})")

    # --- files ------------------------------------------------------------------------------

    def add_file(
        self, filename: str, purpose: str, data: bytes, expires_after: int | None = None
    ) -> StoredFile:
        now = int(self.clock.now())
        if purpose == "batch":
            if not filename.endswith(".jsonl"):
                raise bad_request("Invalid file format for Batch API. Must be .jsonl")
            if len(data) > self.max_batch_file_bytes:
                raise bad_request("File is too large.")
            if expires_after is None:
                expires_after = THIRTY_DAYS
        stored = StoredFile(
            id=f"file-{uuid.uuid4().hex[:22]}",
            filename=filename,
            purpose=purpose,
            data=data,
            created_at=now,
            expires_at=None if expires_after is None else now + expires_after,
        )
        with self.lock:
            self.files[stored.id] = stored
        return stored

    def get_file(self, file_id: str) -> StoredFile:
        with self.lock:
            stored = self.files.get(file_id)
        if stored is None:
            raise not_found(f"No such File object: {file_id}", param="id")
        return stored

    def delete_file(self, file_id: str) -> None:
        with self.lock:
            self.get_file(file_id)
            del self.files[file_id]

    # --- batches ----------------------------------------------------------------------------

    def create_batch(self, body: Any) -> BatchRecord:
        validation.check_schema("CreateBatchRequest", body)
        metadata = body.get("metadata")
        if metadata is not None:
            _check_metadata(metadata)
        expires = body.get("output_expires_after")
        with self.lock:
            record = BatchRecord(
                id=f"batch_{uuid.uuid4().hex}",
                endpoint=body["endpoint"],
                input_file_id=body["input_file_id"],
                metadata=metadata,
                created_at=self.clock.now(),
                plan=self.faults.take_batch_plan(body["endpoint"]),
                output_expires_after=None if expires is None else int(expires["seconds"]),
            )
            self.batches[record.id] = record
        return record

    def get_batch(self, batch_id: str) -> BatchRecord:
        with self.lock:
            record = self.batches.get(batch_id)
            if record is None:
                raise not_found(f"No batch found with id '{batch_id}'.", param="batch_id")
            self._advance(record)
            return record

    def list_batches(self, after: str | None, limit: int) -> tuple[list[BatchRecord], bool]:
        with self.lock:
            ordered = sorted(self.batches.values(), key=lambda b: b.created_at, reverse=True)
            ids = [b.id for b in ordered]
            start = ids.index(after) + 1 if after in ids else 0
            page = ordered[start : start + limit]
            for record in page:
                self._advance(record)
            return page, start + limit < len(ordered)

    def cancel_batch(self, batch_id: str) -> BatchRecord:
        with self.lock:
            record = self.get_batch(batch_id)
            if record.status in ("completed", "failed", "expired"):
                raise APIError(409, f"Cannot cancel a batch with status '{record.status}'.")
            if record.status in ("validating", "in_progress", "finalizing"):
                record.status = "cancelling"
                record.times["cancelling_at"] = self.clock.now()
                self._advance(record)
            return record

    # --- lifecycle --------------------------------------------------------------------------

    def advance_all(self) -> None:
        """Move every batch to where the clock says (and send due webhooks)."""
        with self.lock:
            for record in self.batches.values():
                self._advance(record)

    def _notify(self, b: BatchRecord) -> None:
        if self.webhook is None or b.id in self._notified or b.status not in TERMINAL:
            return
        self._notified.add(b.id)
        url, secret = self.webhook
        deliver(url, secret, batch_event(b.id, b.status, int(self.clock.now())))

    def _advance(self, b: BatchRecord) -> None:
        self._step(b)
        self._notify(b)

    def _step(self, b: BatchRecord) -> None:
        now = self.clock.now()
        plan = b.plan
        while b.status not in TERMINAL:
            if b.status == "cancelling":
                at = b.times["cancelling_at"] + plan.cancelling
                if now < at:
                    return
                self._finish(b, "cancelled", at, stop=b.times["cancelling_at"])
                return
            at = self._next_transition(b)
            if at > b.expires_at and now >= b.expires_at and plan.force is None:
                # The 24 h window closed before this phase could end.
                self._finish(b, "expired", b.expires_at, stop=b.expires_at)
                return
            if now < at:
                if b.status == "in_progress":
                    b.counts = self._counts(b, stop=now)
                return
            if b.status == "validating":
                self._validate(b, at)
            elif b.status == "in_progress":
                if plan.force in ("expired", "cancelled"):
                    self._force_stop(b, at)
                    continue
                b.status = "finalizing"
                b.times["finalizing_at"] = at
            elif b.status == "finalizing":
                self._finish(b, "completed", at, stop=math.inf)

    def _next_transition(self, b: BatchRecord) -> float:
        if b.status == "validating":
            return b.created_at + b.plan.validating
        if b.status == "in_progress":
            return b.times["in_progress_at"] + b.plan.in_progress
        return b.times["finalizing_at"] + b.plan.finalizing

    def _validate(self, b: BatchRecord, at: float) -> None:
        if b.plan.force == "failed":
            b.errors = b.plan.errors or [
                _batch_error(
                    "token_limit_exceeded",
                    "Enqueued token limit reached for this model in organization org-emulator. "
                    "Limit: 2,000,000 enqueued tokens. Please try again once some in_progress "
                    "batches have been completed.",
                    None,
                )
            ]
        else:
            lines, b.errors = self._read_input(b)
        if b.errors:
            b.status = "failed"
            b.times["failed_at"] = at
            return
        b.status = "in_progress"
        b.times["in_progress_at"] = at
        n = len(lines)
        b.counts = {"total": n, "completed": 0, "failed": 0}
        for i, line in enumerate(lines):
            custom_id = line["custom_id"]
            if custom_id in b.plan.fail_lines:
                status, body = 500, server_error().body()
            else:
                try:
                    status, body = 200, self.run_request(b.endpoint, line["body"])
                except APIError as err:
                    status, body = err.status, err.body()
            finish = at + b.plan.in_progress * (i + 1) / n
            b.results.append(LineResult(custom_id, finish, status, body))

    def _read_input(self, b: BatchRecord) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Whole-file checks the real Batch API makes before running anything."""
        stored = self.files.get(b.input_file_id)
        if stored is None or stored.purpose != "batch":
            return [], [
                _batch_error(
                    "invalid_request", f"Cannot find file {b.input_file_id}.", None, "file_id"
                )
            ]
        errors: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        if not stored.data.strip():
            return [], [_batch_error("invalid_request", "The input file is empty.", None)]
        seen: set[str] = set()
        model: str | None = None
        raw_lines = [ln for ln in stored.data.decode("utf-8", "replace").splitlines() if ln.strip()]
        if len(raw_lines) > self.max_batch_lines:
            return [], [
                _batch_error(
                    "invalid_request",
                    f"The input file contains {len(raw_lines):,} requests; a batch may contain "
                    f"at most {self.max_batch_lines:,}.",
                    None,
                )
            ]
        for number, raw in enumerate(raw_lines, start=1):
            try:
                line = json.loads(raw)
                if not isinstance(line, dict):
                    raise ValueError
            except ValueError:
                errors.append(
                    _batch_error(
                        "invalid_json_line", "This line is not parseable as valid JSON.", number
                    )
                )
                continue
            missing = [k for k in ("custom_id", "method", "url", "body") if k not in line]
            if missing:
                errors.append(
                    _batch_error(
                        "missing_required_parameter",
                        f"Missing required parameter: '{missing[0]}'.",
                        number,
                        missing[0],
                    )
                )
                continue
            mine: list[dict[str, Any]] = []  # the first problem of a line is reported
            if line["method"] != "POST":
                mine.append(
                    _batch_error(
                        "invalid_value",
                        f"Invalid value: '{line['method']}'. Supported values are: 'POST'.",
                        number,
                        "method",
                    )
                )
            if line["url"] != b.endpoint:
                mine.append(
                    _batch_error(
                        "invalid_url",
                        "The URL provided for this request does not match the batch endpoint.",
                        number,
                        "url",
                    )
                )
            if line["custom_id"] in seen:
                mine.append(
                    _batch_error(
                        "duplicate_custom_id",
                        f"The custom_id '{line['custom_id']}' is not unique in this file.",
                        number,
                        "custom_id",
                    )
                )
            seen.add(line["custom_id"])
            body = line["body"] if isinstance(line["body"], dict) else {}
            if body.get("stream"):
                mine.append(
                    _batch_error(
                        "streaming_unsupported",
                        "Streaming is not supported in the Batch API.",
                        number,
                        "body.stream",
                    )
                )
            name = body.get("model")
            if name is None:
                mine.append(
                    _batch_error(
                        "invalid_request", "Model parameter is required.", number, "body.model"
                    )
                )
            else:
                info = self.catalog.find(name)
                if info is None or not info.batch or info.retired(self.today()):
                    mine.append(
                        _batch_error(
                            "model_not_found",
                            f"The provided model '{name}' is not supported by the Batch API.",
                            number,
                            "body.model",
                        )
                    )
                elif model is None:
                    model = name
                elif name != model:
                    mine.append(
                        _batch_error(
                            "invalid_request",
                            f"All requests in a batch must use the same model; line uses "
                            f"'{name}' but the file started with '{model}'.",
                            number,
                            "body.model",
                        )
                    )
            errors.extend(mine[:1])
            lines.append(line)
        b.model = model
        return lines, errors

    def _force_stop(self, b: BatchRecord, at: float) -> None:
        """A forced expiry or cancel: only the first ``plan.finished`` lines got done."""
        done = len(b.results) // 2 if b.plan.finished is None else b.plan.finished
        for i, result in enumerate(b.results):
            result.finish_at = at if i < done else math.inf
        if b.plan.force == "expired":
            self._finish(b, "expired", at, stop=at)
        else:
            b.status = "cancelling"
            b.times["cancelling_at"] = at

    def _counts(self, b: BatchRecord, stop: float) -> dict[str, int]:
        done = [r for r in b.results if r.finish_at <= stop]
        ok = sum(1 for r in done if r.status_code == 200)
        return {"total": len(b.results), "completed": ok, "failed": len(done) - ok}

    def _finish(self, b: BatchRecord, status: str, at: float, stop: float) -> None:
        rng = random.Random(b.id)
        outputs: list[str] = []
        errors: list[str] = []
        usage: dict[str, int] = {}
        for r in b.results:
            line_id = f"batch_req_{uuid.uuid4().hex}"
            if r.finish_at <= stop:
                line = {
                    "id": line_id,
                    "custom_id": r.custom_id,
                    "response": {
                        "status_code": r.status_code,
                        "request_id": f"req_{uuid.uuid4().hex}",
                        "body": r.body,
                    },
                    "error": None,
                }
                if r.status_code == 200:
                    outputs.append(json.dumps(line))
                    _add_usage(usage, r.body.get("usage") or {})
                else:
                    errors.append(json.dumps(line))
            else:
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                message = (
                    "This request could not be executed before the completion window expired."
                    if status == "expired"
                    else "This request was not executed because the batch was cancelled."
                )
                errors.append(
                    json.dumps(
                        {
                            "id": line_id,
                            "custom_id": r.custom_id,
                            "response": None,
                            "error": {"code": code, "message": message},
                        }
                    )
                )
        rng.shuffle(outputs)
        rng.shuffle(errors)
        if outputs and b.plan.malformed_line:
            outputs[0] = outputs[0][: len(outputs[0]) // 2]
        expires = b.output_expires_after or THIRTY_DAYS
        if outputs:
            b.output_file_id = self._result_file(b, "output", outputs, expires).id
        if errors:
            b.error_file_id = self._result_file(b, "error", errors, expires).id
        b.counts = {"total": len(b.results), "completed": len(outputs), "failed": len(errors)}
        b.usage = usage
        b.status = status
        b.times[f"{status}_at"] = at

    def _result_file(self, b: BatchRecord, kind: str, lines: list[str], expires: int) -> StoredFile:
        data = ("\n".join(lines) + "\n").encode()
        stored = StoredFile(
            id=f"file-{uuid.uuid4().hex[:22]}",
            filename=f"{b.id}_{kind}.jsonl",
            purpose="batch_output",
            data=data,
            created_at=int(self.clock.now()),
            expires_at=int(self.clock.now()) + expires,
        )
        self.files[stored.id] = stored
        return stored


def _add_usage(total: dict[str, int], usage: dict[str, Any]) -> None:
    total["input_tokens"] = total.get("input_tokens", 0) + int(usage.get("input_tokens", 0))
    total["output_tokens"] = total.get("output_tokens", 0) + int(usage.get("output_tokens", 0))
    cached = (usage.get("input_tokens_details") or {}).get("cached_tokens", 0)
    total["cached_tokens"] = total.get("cached_tokens", 0) + int(cached or 0)
    reasoning = (usage.get("output_tokens_details") or {}).get("reasoning_tokens", 0)
    total["reasoning_tokens"] = total.get("reasoning_tokens", 0) + int(reasoning or 0)


def _check_metadata(metadata: dict[str, Any]) -> None:
    """16 pairs, keys ≤ 64 characters, values ≤ 512 (the spec's prose, not its schema)."""
    if len(metadata) > 16:
        raise bad_request(
            "Invalid 'metadata': too many properties. Expected an object with at most 16 "
            f"properties, but got an object with {len(metadata)} properties instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, value in metadata.items():
        if len(key) > 64:
            raise bad_request(
                "Invalid 'metadata': string too long. Expected a string with maximum length "
                f"64, but got a string with length {len(key)} instead.",
                param="metadata",
                code="string_above_max_length",
            )
        if len(value) > 512:
            raise bad_request(
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum "
                f"length 512, but got a string with length {len(value)} instead.",
                param=f"metadata.{key}",
                code="string_above_max_length",
            )


Handler = Callable[..., Any]
