"""What a running helpdesk tells its operators: Prometheus metrics at ``GET /metrics``
and log lines (text or JSON) that carry a request id.

``registry`` defines the metrics the code counts (requests, ingest, job failures,
Socket.IO connections); ``collectors`` reads the figures every process shares when
scraped (queue lengths, failed jobs, mail poll lag); ``multiprocess`` adds up several
processes (``on_worker_exit`` for gunicorn's ``child_exit``); ``hooks`` times each
request and gives it its id; ``logs`` formats the lines; ``sockets`` counts connections;
``views`` serves ``/metrics``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Give every request its id and timing; serve /metrics unless HELPDESK_METRICS=0."""
    from helpdesk.metrics import hooks, views

    hooks.init_app(app)
    if app.config.get("METRICS", True):
        app.register_blueprint(views.bp)
