"""Reading fetched mail in worker processes while the poll writes the previous batch.

Reading a mail (MIME parsing, quote stripping, bleach cleaning of its HTML) costs about
as much CPU as storing it, and both ran one after the other in the polling process.
With ``HELPDESK_MAIL_READ_PROCESSES`` (default 2) at 1 or more, a poll of more than one
fetch batch hands each batch to a pool of that many processes as soon as it is fetched
and writes the batch before it meanwhile: reading, the IMAP fetch and the database work
overlap. A worker does exactly what the poll does in-process (``inbound.read_mail``:
a mail over the limits or that cannot be parsed becomes the raw, flagged message it
always was) and cleans the HTML ``ingest`` would clean (``InboundMessage.safe_html``).

0 reads in the polling process, as does a poll of a single batch (nothing to overlap
with) or of fewer than ``MIN_MAILS`` mails (starting the pool would cost more). The pool
starts in a thread while the poll goes on, reading what it fetches meanwhile itself. When
the pool fails (a worker killed, a result that cannot be pickled), the batch is read
in-process and the rest of the poll too: no mail is lost or read twice into the
database; the next poll starts a new pool.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor

from flask import current_app

from helpdesk.channels.email.inbound import Mailbox, limits, read_mail
from helpdesk.channels.inbound import InboundMessage
from helpdesk.tickets.html import clean_html

log = logging.getLogger(__name__)
# What the fork server imports once, so that each worker starts in milliseconds.
PRELOAD = ["helpdesk.channels.email.reader"]
# A poll of fewer mails reads in-process: starting the pool (the fork server importing
# the app: some 2 s of one core, once per process, and an RQ job is a process of its
# own) costs more than reading beside the writes saves (some 4 ms of the poll's path a mail).
MIN_MAILS = 400
# The pool starts in a thread of the poll's, and the batches fetched before it is ready
# are read in-process meanwhile (the poll used to wait the 1.7 s of its start, some 10 %
# of a 2,000-mail poll); False: the first batch waits for the pool (tests).
READ_WHILE_STARTING = True


def read_processes() -> int:
    """Worker processes that read mail during a poll (``HELPDESK_MAIL_READ_PROCESSES``)."""
    return max(0, int(current_app.config.get("MAIL_READ_PROCESSES", 2)))


def read_batch(
    channel: Mailbox, raws: list[bytes], bounds: tuple[int, int]
) -> tuple[list[tuple[InboundMessage, bool]], float]:
    """In a worker: each mail's message, its HTML cleaned, and whether its ``raw`` is the
    mail as given (then left out, the poll has those bytes); and the CPU seconds it took."""
    began = time.process_time()
    out = []
    for raw in raws:
        inbound = read_mail(raw, channel, bounds)
        try:
            inbound.safe_html = clean_html(inbound.html)
        except Exception:  # noqa: BLE001 - left to ingest, which fails on it as it always did
            inbound.safe_html = None
        whole = inbound.raw is raw
        if whole:
            inbound.raw = None  # not sent back: the poll holds the same bytes
        out.append((inbound, whole))
    return out, time.process_time() - began


class Reading:
    """A batch being read: its messages on ``result()``, in the order of the mails."""

    def __init__(self, reader: Reader, channel: Mailbox, raws: list[bytes], pooled: bool = True):
        self.reader, self.channel, self.raws = reader, channel, raws
        self.futures: list[Future] = []
        if pooled and reader.pool is not None and raws:
            try:
                step = -(-len(raws) // reader.processes)  # ceiling: one slice per worker
                self.futures = [
                    reader.pool.submit(read_batch, channel, raws[at : at + step], reader.bounds)
                    for at in range(0, len(raws), step)
                ]
            except Exception as exc:  # noqa: BLE001 - a broken pool: read in-process
                reader.fail(exc)
                self.futures = []

    def result(self, timings: dict) -> list[InboundMessage | None]:
        """The messages (None: read in-process by ``receive_many``, as without a pool)."""
        if not self.futures:
            return [None] * len(self.raws)
        began = time.perf_counter()
        made: list[InboundMessage | None] = []
        try:
            for future in self.futures:
                part, seconds = future.result()
                timings["read_workers"] = timings.get("read_workers", 0.0) + seconds
                for inbound, whole in part:
                    if whole:
                        inbound.raw = self.raws[len(made)]
                    made.append(inbound)
        except Exception as exc:  # noqa: BLE001 - the pool failed: this batch in-process
            self.reader.fail(exc)
            return [None] * len(self.raws)
        finally:
            timings["read_wait"] = timings.get("read_wait", 0.0) + time.perf_counter() - began
        return made


class Reader:
    """The read pool of one poll (a context manager): ``start(mails)`` per fetch batch."""

    def __init__(self, processes: int, batches: int, mails: int):
        self.processes = processes if batches > 1 and mails >= MIN_MAILS else 0
        self.bounds = limits()
        self.pool: ProcessPoolExecutor | None = None
        self.ready = threading.Event()  # set once the pool's workers run (or it failed)
        self.starter: threading.Thread | None = None
        if self.processes:
            self.starter = threading.Thread(target=self._start_pool, name="mail-read-pool")
            self.starter.start()
            if not READ_WHILE_STARTING:
                self.ready.wait()
        else:
            self.ready.set()

    def _start_pool(self) -> None:
        """Make the pool and have each worker started (in the starter thread)."""
        try:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            pool = ProcessPoolExecutor(self.processes, mp_context=context)
            self.pool = pool
            for started in [pool.submit(time.process_time) for _ in range(self.processes)]:
                started.result()
        except Exception as exc:  # noqa: BLE001 - no pool: read in-process
            self.fail(exc)
        finally:
            self.ready.set()

    def start(self, channel: Mailbox, raws: list[bytes]) -> Reading:
        """Begin reading a fetched batch: in the pool once it runs; before that (and
        without one) in-process, when its result is asked."""
        return Reading(self, channel, raws, pooled=self.ready.is_set())

    def fail(self, exc: BaseException) -> None:
        """Give up the pool for the rest of the poll: mail is read in-process."""
        if self.pool is not None or not self.processes:
            log.warning(
                "mail read pool failed (%s: %s): reading in-process", type(exc).__name__, exc
            )
        self.processes = 0
        self.close()

    def close(self) -> None:
        """Stop the workers and wait for them (at most the batch one is reading; a batch
        not begun is cancelled, and read again in-process if it is still wanted)."""
        if self.starter is not None and self.starter is not threading.current_thread():
            self.starter.join()
        pool, self.pool = self.pool, None
        if pool is not None:
            # Not wait=False: a process that exits right after would race the pool's own
            # shutdown (its queue's feeder stops first) and wait for its workers forever.
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
