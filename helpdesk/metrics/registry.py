"""The helpdesk's own Prometheus metrics, defined once per process.

Counters and histograms live in this process; with ``PROMETHEUS_MULTIPROC_DIR`` set
before ``prometheus_client`` is first imported (``multiprocess.py`` says how), each
process writes them to its own files there and ``/metrics`` adds them up, whichever
process is scraped. What is the same for every process (queue lengths, mail poll lag)
is not counted here but read when scraped (``collectors.py``).

This module imports nothing of the helpdesk, so the core (ingest, jobs, realtime) may
count without depending on anything above it.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Methods we label by name; anything else (a client can send any word) is "other", so
# a stranger cannot make new time series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"

REQUESTS = Counter(
    "helpdesk_http_requests",
    "HTTP requests answered, by method, route (the URL rule, never the raw path) and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "helpdesk_http_request_duration_seconds",
    "Time from the start of the request to its response, by method and route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
INGESTED = Counter(
    "helpdesk_messages_ingested",
    "Inbound messages stored (counted after their commit; a provider's retry is not).",
    ["channel"],
)
JOB_FAILURES = Counter(
    "helpdesk_job_failures",
    "Failed job runs, by queue (a retried job counts each failure; `inline`: run "
    "in-process without Redis).",
    ["queue"],
)
SOCKETS = Gauge(
    "helpdesk_socketio_connections",
    "Open Socket.IO connections, by namespace (summed over the live processes).",
    ["namespace"],
    multiprocess_mode="livesum",
)


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    """Count one answered request and its duration."""
    method = method if method in METHODS else "other"
    route = route or UNMATCHED
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def count_ingested(channel: str) -> None:
    """Count one stored inbound message on ``channel`` (email, sms, chat, voice, ...)."""
    INGESTED.labels(channel).inc()


def count_job_failure(queue: str) -> None:
    """Count one failed run of a job from ``queue``."""
    JOB_FAILURES.labels(queue).inc()


def socket_opened(namespace: str) -> None:
    """One more open Socket.IO connection on ``namespace``."""
    SOCKETS.labels(namespace).inc()


def socket_closed(namespace: str) -> None:
    """One Socket.IO connection on ``namespace`` closed."""
    SOCKETS.labels(namespace).dec()
