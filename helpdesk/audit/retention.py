"""Dropping raw sources after ``HELPDESK_RAW_RETENTION_DAYS``: the bytes mails and
webhook requests arrived as (``message_sources``: a mail's MIME source, an SMS webhook's
form body, a sent mail's source) and the Twilio webhook requests set aside as unhandled
(``SPOOL_DIR/failed/``). The messages themselves stay.

A periodic job (``workers/scheduler.py``) and ``helpdesk retention run``. Rows go in
batches, each committed on its own, so a large backlog never holds one long transaction.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, select

from helpdesk.audit import services as audit
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.tickets.models import MessageSource

log = logging.getLogger(__name__)
BATCH = 1000
FAILED_SPOOL = "failed"  # channels/twilio/spool.py: requests that could not be handled


def _drop_sources(cutoff, batch: int) -> int:
    """Delete the message sources stored before ``cutoff``, ``batch`` at a time (oldest
    first, by ``ix_message_sources_created_at``), committing each batch."""
    dropped = 0
    while True:
        ids = list(
            db.session.execute(
                select(MessageSource.message_id)
                .where(MessageSource.created_at < cutoff)
                .order_by(MessageSource.created_at)
                .limit(batch)
            ).scalars()
        )
        if not ids:
            return dropped
        db.session.execute(delete(MessageSource).where(MessageSource.message_id.in_(ids)))
        db.session.commit()
        dropped += len(ids)
        if len(ids) < batch:
            return dropped


def _drop_spooled(cutoff_seconds: float) -> int:
    """Remove the unhandled webhook requests kept in the spool's failed folder since
    before the cutoff (by the file's modification time)."""
    folder = Path(current_app.config["SPOOL_DIR"]) / FAILED_SPOOL
    dropped = 0
    if not folder.is_dir():
        return 0
    for path in folder.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < cutoff_seconds:
                path.unlink()
                dropped += 1
        except FileNotFoundError:
            continue  # removed meanwhile
    return dropped


def run(batch: int = BATCH) -> dict[str, int]:
    """Job: drop what is older than the retention period; how many sources and spooled
    requests went. Audited when anything went."""
    days = current_app.config["RAW_RETENTION_DAYS"]
    cutoff = utcnow() - timedelta(days=days)
    sources = _drop_sources(cutoff, batch)
    spooled = _drop_spooled(time.time() - days * 86400)
    counts = {"message_sources": sources, "spooled_requests": spooled}
    if sources or spooled:
        audit.record(
            "retention.run",
            object_type="retention",
            after={**counts, "days": days, "before": cutoff.isoformat()},
        )
        db.session.commit()
        log.info("retention: dropped %s raw sources, %s spooled requests", sources, spooled)
    return counts
