"""Keep secrets out of the access log.

A phone shortcut sends the API key as ``?key=…`` (a GET cannot always set a header), and
uvicorn logs every request line with its query string: without this filter, the key would
be written to the log on every such request.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

SECRET_PARAMETERS = frozenset({"key", "api_key", "apikey", "token", "access_token", "secret"})
REDACTED = "[redacted]"


def redact_url(target: str) -> str:
    """``target`` (a path with its query) with the values of secret parameters replaced."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    pairs = []
    for pair in query.split("&"):
        name, eq, _ = pair.partition("=")
        if eq and unquote_plus(name).strip().lower() in SECRET_PARAMETERS:
            pair = f"{name}={REDACTED}"
        pairs.append(pair)
    return f"{path}?{'&'.join(pairs)}"


class RedactQuery(logging.Filter):
    """Rewrites the request target of uvicorn's access records (its third argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_url(args[2]), *args[3:])
        return True


def redact_access_log() -> None:
    """Install the filter once; uvicorn's logging setup keeps a logger's filters."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQuery) for f in logger.filters):
        logger.addFilter(RedactQuery())
