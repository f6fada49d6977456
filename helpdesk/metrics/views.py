"""GET /metrics: Prometheus' text format, for a scraper inside the network.

Not for the public: the proxy in front must not pass ``/metrics`` on (docs/monitoring.md).
With ``HELPDESK_METRICS_TOKEN`` set, a scrape must also send
``Authorization: Bearer TOKEN``. With ``HELPDESK_METRICS=0`` the route does not exist.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST

from helpdesk.errors import error_response
from helpdesk.metrics import collectors, multiprocess

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    """Every process's counters and histograms, and the queue and mailbox figures of now."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            refused = error_response(401, "unauthorized", "a metrics token is required")
            refused.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return refused
    body = multiprocess.exposition([collectors.HelpdeskCollector()])
    return Response(body, content_type=CONTENT_TYPE_LATEST)
