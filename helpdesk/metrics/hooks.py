"""Every HTTP request: its id (taken or made, echoed in ``X-Request-ID``, on every log
line it causes) and, when metrics are on, its count and duration by route."""

from __future__ import annotations

import time

from flask import Flask, Response, appcontext_popped, g, request

from helpdesk.metrics import logs, registry

HEADER = "X-Request-ID"


def init_app(app: Flask) -> None:
    """Hook the request's start (first of all: every later hook logs with its id) and
    its end (last of all: the status the client gets)."""
    counting = bool(app.config.get("METRICS", True))

    def start() -> None:
        """Note the start time and the request id."""
        g.request_started = time.perf_counter()
        g.request_id = logs.accept(request.headers.get(HEADER))
        logs.request_id.set(g.request_id)

    def finish(response: Response) -> Response:
        """Echo the id; count the request under its URL rule, never its raw path."""
        request_id = g.get("request_id")
        if request_id:
            response.headers[HEADER] = request_id
        started = g.get("request_started")
        if counting and started is not None:
            rule = request.url_rule.rule if request.url_rule is not None else None
            registry.observe_request(
                request.method, rule, response.status_code, time.perf_counter() - started
            )
        return response

    app.before_request_funcs.setdefault(None, []).insert(0, start)
    app.after_request_funcs.setdefault(None, []).append(finish)
    # after_request functions run last-registered first: appended early, this runs late.
    appcontext_popped.connect(_forget, app)


def _forget(sender: Flask, **kwargs: object) -> None:
    """The request is over (after-commit work included): later lines in this thread
    (a Socket.IO event, the next request's first hooks) do not carry its id."""
    logs.request_id.set(None)
