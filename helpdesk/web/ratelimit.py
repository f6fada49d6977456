"""Fixed-window rate limits: Redis when configured (shared by every process), else memory."""

from __future__ import annotations

import threading
import time

from flask import current_app

_lock = threading.Lock()
_windows: dict[str, tuple[int, int]] = {}  # key -> (window number, count)


def allow(key: str, limit: int, per_seconds: int = 60) -> bool:
    """Count one event under ``key``; False once more than ``limit`` fall in one window."""
    window = int(time.time() // per_seconds)
    if current_app.config.get("REDIS_URL"):
        from helpdesk.jobs import redis_connection

        name = f"helpdesk:rate:{key}:{window}"
        connection = redis_connection()
        assert connection is not None  # REDIS_URL is set
        pipe = connection.pipeline()
        pipe.incr(name)
        pipe.expire(name, per_seconds * 2)
        total: int = pipe.execute()[0]
        return total <= limit
    with _lock:
        seen_window, count = _windows.get(key, (window, 0))
        count = count + 1 if seen_window == window else 1
        _windows[key] = (window, count)
        if len(_windows) > 100_000:  # forget old windows now and then
            for old in [k for k, (w, _) in _windows.items() if w < window]:
                del _windows[old]
        return count <= limit
