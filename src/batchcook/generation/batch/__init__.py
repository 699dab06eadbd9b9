"""The generic Batch toolkit: many requests in, one result per ``custom_id`` out.

It knows nothing about recipes. Requests are grouped per endpoint and model, split to the
Batch API's limits, uploaded as JSONL, created concurrently, polled, and their output *and*
error files streamed back and matched by ``custom_id``.
"""

from batchcook.generation.batch.jsonl import BatchRequest, Chunk, plan_chunks
from batchcook.generation.batch.results import Failure, Result, Success
from batchcook.generation.batch.runner import BatchRunner, Recorder, SubmittedBatch

__all__ = [
    "BatchRequest",
    "BatchRunner",
    "Chunk",
    "Failure",
    "Recorder",
    "Result",
    "SubmittedBatch",
    "Success",
    "plan_chunks",
]
