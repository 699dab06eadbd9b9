"""Notion webhooks: the one-time verification handshake and signed event deliveries.

Notion first POSTs ``{"verification_token": …}`` unsigned; the operator pastes that token
into the integration's webhook settings, and from then on every delivery carries
``X-Notion-Signature: sha256=<hex>`` — HMAC-SHA256 of the raw body keyed by that token.

Because the handshake is unsigned, anyone can send one: a token is therefore accepted only
while none is configured or saved, and never replaced by a request (the operator resets it
with ``batchcook notion webhook-reset``). Otherwise an attacker could install their own key,
sign ``#modify`` events that spend money, and lock out Notion's genuine deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
from datetime import datetime
from pathlib import Path

from batchcook.config import Settings

log = logging.getLogger(__name__)
TOKEN_FILE = "notion_verification_token"
MODIFY_TAG = "#modify"
# Notion's tokens look like ``secret_<43 letters and digits>``; anything unlike a token (long,
# with spaces or control characters that could forge a log line) is refused unread.
_TOKEN_SHAPE = re.compile(r"[\x21-\x7e]{16,200}")
MAX_HANDSHAKE_BYTES = 1024
# How far ahead of our clock an event's timestamp may be (clock skew), in seconds.
MAX_CLOCK_SKEW = 300


class HandshakeRefused(Exception):
    """An unsigned verification request that must not be taken; ``status`` says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def token_path(settings: Settings) -> Path:
    return settings.data_dir / TOKEN_FILE


def verification_token(settings: Settings) -> str | None:
    """``NOTION_VERIFICATION_TOKEN`` when set, else the token saved by the handshake."""
    if settings.notion_verification_token is not None:
        return settings.notion_verification_token.get_secret_value()
    path = token_path(settings)
    return path.read_text().strip() if path.exists() else None


def check_handshake(settings: Settings, raw: bytes) -> str:
    """The token of a genuine-looking handshake that may be taken now, or HandshakeRefused."""
    if len(raw) > MAX_HANDSHAKE_BYTES:
        raise HandshakeRefused(401, "bad or missing X-Notion-Signature")
    try:
        body = json.loads(raw)
    except ValueError:
        raise HandshakeRefused(401, "bad or missing X-Notion-Signature") from None
    token = body.get("verification_token") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise HandshakeRefused(401, "bad or missing X-Notion-Signature")
    if not _TOKEN_SHAPE.fullmatch(token):
        raise HandshakeRefused(400, "the verification token is not shaped like Notion's")
    if verification_token(settings) is not None:
        raise HandshakeRefused(409, ALREADY_SET)
    return token


ALREADY_SET = (
    "a webhook verification token is already set and is never replaced by a request; "
    "to verify a new subscription, run `batchcook notion webhook-reset` on the server "
    "(or change NOTION_VERIFICATION_TOKEN), then resend the verification from Notion"
)


def save_verification_token(settings: Settings, token: str) -> Path:
    """Saves the first token only (O_EXCL): two racing handshakes cannot both win."""
    path = token_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise HandshakeRefused(409, ALREADY_SET) from None
    with os.fdopen(fd, "w") as f:
        f.write(token)
    # The operator must paste this token into Notion to activate the subscription; it is
    # shown once here and otherwise only kept in a file readable by this user. Its shape was
    # checked (printable, no spaces), so it cannot forge a log line.
    log.warning(
        "Notion webhook verification request received. To finish setup, open the "
        "integration's Webhooks tab in Notion, click Verify and paste this token: %s "
        "(saved to %s; or set NOTION_VERIFICATION_TOKEN on every server)",
        token,
        path,
    )
    return path


def reset_verification_token(settings: Settings) -> str:
    """Forget the saved token so the next handshake is taken; says what was done."""
    path = token_path(settings)
    removed = path.exists()
    path.unlink(missing_ok=True)
    done = f"removed {path}" if removed else f"no saved token at {path}"
    if settings.notion_verification_token is not None:
        return (
            f"{done}; NOTION_VERIFICATION_TOKEN is still set and still used: unset or change "
            "it in the environment of every server"
        )
    return f"{done}; resend the verification request from Notion's Webhooks tab now"


def event_too_old(timestamp: object, now: float, max_age: float) -> str | None:
    """Why an event's ``timestamp`` is outside the accepted window, or None when inside.

    A signed event stays valid forever, so a captured one could be replayed to start a paid
    job again; the window (BATCHCOOK_WEBHOOK_MAX_AGE) bounds that, and the job id made from
    the comment id stops a replay inside it."""
    if not isinstance(timestamp, str):
        return "the event has no timestamp"
    try:
        at = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return f"the event timestamp {timestamp[:40]!r} is not ISO 8601"
    if at < now - max_age:
        return f"the event is older than {max_age:,.0f} s (BATCHCOOK_WEBHOOK_MAX_AGE)"
    if at > now + MAX_CLOCK_SKEW:
        return "the event is dated in the future"
    return None


def signature_valid(token: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def sign(token: str, body: bytes) -> str:
    """The header value Notion would send (for tests and for replaying events)."""
    return "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def modify_request(text: str) -> str | None:
    """The change asked for in a comment, if it starts with ``#modify``."""
    stripped = text.strip()
    if not stripped.lower().startswith(MODIFY_TAG):
        return None
    return stripped[len(MODIFY_TAG) :].strip(" :-\n") or None
