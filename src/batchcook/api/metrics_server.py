"""``/metrics`` on a port of its own, for worker processes (they serve no API).

Beside the API because it is an HTTP surface with the API's key rule; it serves the
process's own counters from ``batchcook.instrument``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import make_server

from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler, make_wsgi_app

from batchcook.api import keys
from batchcook.config import Settings
from batchcook.instrument import REGISTRY

log = logging.getLogger(__name__)

_served: dict[tuple[str, int], Any] = {}


def serve_in_thread(settings: Settings) -> int | None:
    """With ``BATCHCOOK_METRICS_PORT``, serve this process's metrics on that port (0: any
    free port) from a daemon thread, and return the port. For workers: they make the
    OpenAI and Notion calls but serve no API. Same key rule as ``GET /metrics``. The
    ``batchcook_jobs*`` gauges are left to the API processes. A port already in use is
    logged, not fatal (a CLI run beside a worker on the same machine)."""
    if settings.metrics_port is None:
        return None
    app = make_wsgi_app(REGISTRY)

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        query = parse_qs(str(environ.get("QUERY_STRING", "")))
        given = keys.presented(
            str(environ.get("HTTP_AUTHORIZATION", "")), (query.get("key") or [""])[0]
        )
        if not keys.accepts(settings, given):
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [f"{keys.REFUSED}\n".encode()]
        return app(environ, start_response)

    where = (settings.metrics_host, settings.metrics_port)
    if where in _served:
        return int(_served[where].server_port)
    try:
        server = make_server(*where, guarded, ThreadingWSGIServer, handler_class=_SilentHandler)
    except OSError as err:
        log.warning("metrics: cannot listen on %s:%s: %s", *where, err)
        return None
    _served[where] = server
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics on http://%s:%s/metrics", settings.metrics_host, server.server_port)
    return int(server.server_port)
