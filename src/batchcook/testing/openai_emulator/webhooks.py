"""Batch webhooks from the emulator, signed as OpenAI signs them (the Standard Webhooks
scheme the SDK's ``webhooks.unwrap`` verifies): ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from typing import Any

import httpx

log = logging.getLogger(__name__)
EVENT_TYPES = {
    "completed": "batch.completed",
    "failed": "batch.failed",
    "expired": "batch.expired",
    "cancelled": "batch.cancelled",
}


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
    signed = f"{webhook_id}.{timestamp}.{body.decode()}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_request(secret: str, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    webhook_id, timestamp = f"wh_{uuid.uuid4().hex}", int(time.time())
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
        "content-type": "application/json",
    }
    return body, headers


def batch_event(batch_id: str, status: str, created_at: int) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": EVENT_TYPES[status],
        "created_at": created_at,
        "data": {"id": batch_id},
    }


def deliver(url: str, secret: str, event: dict[str, Any]) -> None:
    """POST one event in a background thread (the receiver may call the emulator back)."""

    def post() -> None:
        body, headers = signed_request(secret, event)
        try:
            httpx.post(url, content=body, headers=headers, timeout=10)
        except httpx.HTTPError as err:
            log.warning("webhook delivery to %s failed: %s", url, err)

    threading.Thread(target=post, name="emulator-webhook", daemon=True).start()
