"""Deliveries from Notion (``#modify`` comments) and OpenAI (batch ended).

Both check the sender's signature on the raw bytes before anything is parsed, and answer
200 to what they deliberately ignore: both senders re-send anything else.
"""

from __future__ import annotations

import time

import openai
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from batchcook import service
from batchcook.api.deps import app_state
from batchcook.api.problems import HTTPProblem, SafeJSONResponse, parse_json_object
from batchcook.api.routes.answers import accepted
from batchcook.stores.notion import webhook

router = APIRouter()
# Signatures are checked with the SDK's own code; this client never sends a request.
_verifier = openai.AsyncOpenAI(api_key="unused-for-webhook-verification")


def ignored(reason: str) -> JSONResponse:
    return SafeJSONResponse({"message": f"ignored: {reason}"})


@router.post("/api/recipes/modify")
@router.post("/recipes/modify", include_in_schema=False)
async def notion_webhook(request: Request) -> JSONResponse:
    # An unsigned body is read only as far as a bounded, one-time handshake.
    settings = app_state(request).settings
    raw = await request.body()
    signature = request.headers.get("x-notion-signature")
    if signature is None:
        try:
            offered = webhook.check_handshake(settings, raw)
            webhook.save_verification_token(settings, offered)
        except webhook.HandshakeRefused as refused:
            raise HTTPProblem(refused.status, refused.message) from None
        return SafeJSONResponse({"message": "verification token received; finish setup in Notion"})
    token = webhook.verification_token(settings)
    if token is None:
        raise HTTPProblem(
            401,
            "no webhook verification token yet: re-send the verification request from "
            "Notion or set NOTION_VERIFICATION_TOKEN",
        )
    if not webhook.signature_valid(token, raw, signature):
        raise HTTPProblem(401, "bad or missing X-Notion-Signature")
    event = parse_json_object(raw, "the webhook body")
    outcome = await service.modify_from_comment(settings, event, now=time.time())
    if isinstance(outcome, str):
        return ignored(outcome)
    return accepted(request, outcome.id, "Recipe modification in progress")


@router.post("/api/openai/webhook")
async def openai_webhook(request: Request) -> JSONResponse:
    """Wakes the round following a batch that just ended; polling stays the safety net."""
    settings = app_state(request).settings
    if settings.openai_webhook_secret is None:
        raise HTTPProblem(404, "OpenAI webhooks are off: set OPENAI_WEBHOOK_SECRET")
    raw = await request.body()
    try:
        event = _verifier.webhooks.unwrap(
            raw, dict(request.headers), secret=settings.openai_webhook_secret.get_secret_value()
        )
    except (openai.InvalidWebhookSignatureError, ValueError) as err:
        raise HTTPProblem(401, f"bad OpenAI webhook signature: {err}") from None
    if not event.type.startswith("batch."):
        return ignored(f"event type {event.type!r}")
    batch_id = str(getattr(event.data, "id", ""))
    delivery = request.headers.get("webhook-id", "")[:200]
    return SafeJSONResponse({"message": await service.wake_for_batch(settings, batch_id, delivery)})
