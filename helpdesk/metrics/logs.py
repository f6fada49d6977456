"""Log lines as text (the default) or as JSON (``HELPDESK_LOG_FORMAT=json``), each
carrying the id of the request it belongs to.

A request's id is its ``X-Request-ID`` when that is a sane token, else a new one
(``hooks.py`` takes it and echoes it in the response). Jobs enqueued during the request
carry it in their meta (``jobs.submit``) and the worker sets it while it runs them, so
the worker's lines name the request that caused them. It lives in a context variable:
one per thread or greenlet, as requests are served.

This module imports nothing of the helpdesk, so the core may read the current id.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO

from pythonjsonlogger.json import JsonFormatter

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_MARK = "helpdesk_handler"
# A proxy's or client's id is kept when it looks like one (a UUID, a trace id, ...):
# nothing that could break a log line or a header, nothing long.
_SANE = re.compile(r"[A-Za-z0-9._:=+/-]{1,128}")

request_id: ContextVar[str | None] = ContextVar("helpdesk_request_id", default=None)


def accept(header: str | None) -> str:
    """The request id for an incoming ``X-Request-ID`` value: itself when sane, else new."""
    if header and _SANE.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current() -> str | None:
    """The id of the request (or of the job's request) being served here, if any."""
    return request_id.get()


@contextmanager
def carrying(value: str | None) -> Iterator[None]:
    """Log with ``value`` as the request id inside the block (a worker running a job)."""
    token = request_id.set(value)
    try:
        yield
    finally:
        request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record a handler emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add ``record.request_id`` (None outside a request); never drops a record."""
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of ``log_format``: JSON lines of time (ISO 8601, UTC), level,
    logger, message and request_id (plus exc_info and any ``extra``), or plain text."""
    if log_format == "json":
        return JsonFormatter(
            ["levelname", "name", "message", "request_id"],
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )
    return logging.Formatter(TEXT_FORMAT)


def make_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler (stderr by default) writing ``log_format`` lines with request ids;
    also for a server's own loggers (gunicorn's error log) that should match ours."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(RequestIdFilter())
    return handler


def configure(log_format: str) -> None:
    """Send the root logger's records to stderr in ``log_format``, like
    ``logging.basicConfig``: only when nobody configured logging before (a test runner,
    an embedding program), and once per process (a later app changes the format)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, _HANDLER_MARK, False):
            handler.setFormatter(formatter(log_format))
            return
    if root.handlers:
        return
    handler = make_handler(log_format)
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
