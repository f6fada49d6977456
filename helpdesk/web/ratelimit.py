"""Fixed-window rate limits: Redis when configured (shared by every process), else memory.

``allow`` counts in windows of ``per_seconds``; with ``sliding=True`` the previous
window counts too, so no more than ``limit`` events pass within any ``per_seconds``
(at the price of refusing for up to two windows): for limits that must hold, such
as login attempts.
"""

from __future__ import annotations

import threading
import time

from flask import current_app

_lock = threading.Lock()
_counts: dict[tuple[str, int], int] = {}  # (key, window number) -> count


def allow(key: str, limit: int, per_seconds: int = 60, sliding: bool = False) -> bool:
    """Count one event under ``key``; False once more than ``limit`` fall in one window
    (with ``sliding``: in this window and the one before together)."""
    window = int(time.time() // per_seconds)
    if current_app.config.get("REDIS_URL"):
        from helpdesk.jobs import redis_connection

        name = f"helpdesk:rate:{key}:{window}"
        connection = redis_connection()
        assert connection is not None  # REDIS_URL is set
        pipe = connection.pipeline()
        pipe.incr(name)
        pipe.expire(name, per_seconds * 2)
        if sliding:
            pipe.get(f"helpdesk:rate:{key}:{window - 1}")
        results = pipe.execute()
        total: int = results[0] + (int(results[2] or 0) if sliding else 0)
        return total <= limit
    with _lock:
        count = _counts.get((key, window), 0) + 1
        _counts[(key, window)] = count
        if sliding:
            count += _counts.get((key, window - 1), 0)
        if len(_counts) > 100_000:  # forget old windows now and then
            for old in [k for k in _counts if k[1] < window - 1]:
                del _counts[old]
        return count <= limit
