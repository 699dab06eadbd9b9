"""Notion webhooks: the one-time verification handshake and signed event deliveries.

Notion first POSTs ``{"verification_token": …}`` unsigned; the operator pastes that token
into the integration's webhook settings, and from then on every delivery carries
``X-Notion-Signature: sha256=<hex>`` — HMAC-SHA256 of the raw body keyed by that token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from pathlib import Path

from batchcook.config import Settings

log = logging.getLogger(__name__)
TOKEN_FILE = "notion_verification_token"
MODIFY_TAG = "#modify"


def token_path(settings: Settings) -> Path:
    return settings.data_dir / TOKEN_FILE


def verification_token(settings: Settings) -> str | None:
    """``NOTION_VERIFICATION_TOKEN`` when set, else the token saved by the handshake."""
    if settings.notion_verification_token is not None:
        return settings.notion_verification_token.get_secret_value()
    path = token_path(settings)
    return path.read_text().strip() if path.exists() else None


def save_verification_token(settings: Settings, token: str) -> Path:
    path = token_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    # The operator must paste this token into Notion to activate the subscription; it is
    # shown once here and otherwise only kept in a file readable by this user.
    log.warning(
        "Notion webhook verification request received. To finish setup, open the "
        "integration's Webhooks tab in Notion, click Verify and paste this token: %s "
        "(saved to %s; or set NOTION_VERIFICATION_TOKEN on every server)",
        token,
        path,
    )
    return path


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
