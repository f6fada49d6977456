"""Running one piece of work in several threads at once, each in an app context of its own
(as several workers or schedulers would), for the tests that prove nothing is done twice."""

from __future__ import annotations

import threading
from collections.abc import Callable


def at_once(app, work: Callable[[], object], times: int = 2, timeout: float = 30) -> list:
    """Start ``work`` in ``times`` threads together; wait; return what each returned, and
    raise the first exception any of them raised."""
    results: list = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():
                results.append(work())
        except Exception as exc:  # noqa: BLE001 - raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    if errors:
        raise errors[0]
    return results
