"""Background jobs: RQ when REDIS_URL is set, in-process otherwise.

Jobs take ids, load fresh rows, commit, then act. They are always enqueued
after the commit that created their rows (see unit_of_work), so a fast worker
never looks for a row that is not there yet.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import current_app

from helpdesk import unit_of_work
from helpdesk.metrics import logs, registry

if TYPE_CHECKING:
    from redis import Redis
    from rq import Queue

log = logging.getLogger(__name__)
# In priority order: a worker takes campaign slices only when no reply, mail or webhook
# job waits.
QUEUES = ("default", "outbound", "mail", "webhooks", "campaigns")


def redis_connection() -> Redis | None:
    """Return the shared Redis connection, or None when REDIS_URL is unset."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    ext = current_app.extensions.setdefault("helpdesk_redis", {})
    if url not in ext:
        from redis import Redis

        ext[url] = Redis.from_url(url)
    connection: Redis = ext[url]
    return connection


def retries_left() -> int:
    """How many more times RQ will run the current job; 0 when run in-process."""
    from rq import get_current_job

    job = get_current_job()
    return (job.retries_left or 0) if job is not None else 0


def queue(name: str = "default") -> Queue:
    """Return the RQ queue ``name`` (requires REDIS_URL)."""
    from rq import Queue

    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_connection(), default_timeout=300)


def _resolve(path: str) -> Callable[..., Any]:
    """Import ``package.module:function``."""
    module, _, attr = path.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), attr)
    return function


def run_now(path: str, *args: Any, **kwargs: Any) -> None:
    """Run a job in this process, in its own transaction, logging failures."""
    try:
        _resolve(path)(*args, **kwargs)
    except Exception:
        log.exception("in-process job %s%r failed", path, args)
        registry.count_job_failure("inline")
        from helpdesk.extensions import db

        db.session.rollback()


def submit(
    path: str, *args: Any, queue_name: str = "default", retries: int = 0, **kwargs: Any
) -> None:
    """Hand a job to RQ now (or run it here without Redis); nothing to wait for."""
    if current_app.config.get("REDIS_URL"):
        from rq import Retry

        retry = Retry(max=retries, interval=[10, 60, 300][:retries]) if retries else None
        # The request (or job) that caused this one: the worker logs with its id.
        request_id = logs.current()
        meta = {"request_id": request_id} if request_id else None
        queue(queue_name).enqueue(_resolve(path), *args, retry=retry, meta=meta, **kwargs)
    else:
        run_now(path, *args, **kwargs)


def enqueue(
    path: str, *args: Any, queue_name: str = "default", retries: int = 0, **kwargs: Any
) -> None:
    """Enqueue ``path`` (``module:function``) once the current transaction commits."""
    _resolve(path)  # fail fast on a typo, before anything is committed
    unit_of_work.after_commit(
        lambda: submit(path, *args, queue_name=queue_name, retries=retries, **kwargs)
    )
