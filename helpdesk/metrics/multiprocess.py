"""Metrics of several processes (gunicorn workers, the RQ worker) seen as one.

prometheus_client decides at its first import whether values live in memory or in
files: with ``PROMETHEUS_MULTIPROC_DIR`` set, every process writes its counters,
histograms and gauges to files of its own (named by its pid) in that folder, and a
scrape of any process adds up all of them. So whoever starts the processes
(``helpdesk serve`` under gunicorn) must, before the app is imported:

1. set ``PROMETHEUS_MULTIPROC_DIR`` to a folder of this machine that every process of
   the deployment on it shares (web workers, and the RQ worker and scheduler if their
   counts should show: ingest in the worker, job failures), in the environment of the
   command that builds the app (``helpdesk serve`` imports it before gunicorn forks), and
   empty it once when the machine's processes start, before any of them counts
   (``prepare``): files of an earlier run would be added to this one's counts;
2. call ``on_worker_exit(pid)`` when a worker process ends (gunicorn's ``child_exit``
   server hook): its live gauges (open Socket.IO connections) are dropped; its counters
   stay in the sums, as they must.

Without the variable each process counts for itself (one process: ``helpdesk serve``
on its own).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, values
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import REGISTRY, Collector

log = logging.getLogger(__name__)
VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_warned: list[bool] = []


def folder() -> str | None:
    """The shared metrics folder of multiprocess mode, or None (one process counts)."""
    return os.environ.get(VARIABLE) or None


def prepare(path: str | os.PathLike[str]) -> None:
    """Make ``path`` an empty metrics folder and point this process (and the processes
    it starts) at it: call once in the parent, before any worker starts and before
    anything imports prometheus_client (gunicorn's ``on_starting``, or before exec)."""
    target = Path(path)
    if target.exists():
        for entry in target.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)
            elif entry.suffix == ".db":
                entry.unlink()
    target.mkdir(parents=True, exist_ok=True)
    os.environ[VARIABLE] = str(target)


def on_worker_exit(pid: int) -> None:
    """A worker process ended: drop its live gauges (gunicorn's ``child_exit`` hook:
    ``def child_exit(server, worker): on_worker_exit(worker.pid)``). Does nothing
    outside multiprocess mode."""
    path = folder()
    if path:
        prometheus_multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


class _Together:
    """Several collectors read as one registry (in-memory metrics and scrape-time ones)."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        self.collectors = list(collectors)

    def collect(self) -> Iterator[Metric]:
        """Every metric of every collector."""
        for collector in self.collectors:
            yield from collector.collect()


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The Prometheus text of this deployment: the processes' metrics (summed from the
    shared folder in multiprocess mode, else this process's own, with its process and
    Python figures) and ``extra`` collectors read now."""
    path = folder()
    if path:
        if values.ValueClass is values.MutexValue and not _warned:
            _warned.append(True)
            log.warning(
                "%s was set after prometheus_client was imported: this process counts in "
                "memory, and its own figures are missing from the sums",
                VARIABLE,
            )
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        return generate_latest(_Together([registry, *extra]))
    return generate_latest(_Together([REGISTRY, *extra]))
