"""One import of a CSV file: what was uploaded, how its columns map, how far its run got,
and its report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model

# uploaded -> checking -> checked (a dry run's report) -> queued -> running -> done;
# failed when a run broke off (its error says why; nothing after the last batch stays).
STATUSES = ("uploaded", "checking", "checked", "queued", "running", "done", "failed")


class Import(Model):
    """An uploaded customer or organization file and its latest run (dry or real).

    ``content`` is the file's text, kept until the import is done; ``report`` is the latest
    run's report as CSV (line, outcome, id, reason), downloadable while the row lives.
    """

    __tablename__ = "imports"
    __table_args__ = (Index("ix_imports_agent_created", "agent_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))  # customers | organizations
    source: Mapped[str] = mapped_column(String(20))  # helpdesk, hubspot, ..., custom
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)  # {column: target}
    status: Mapped[str] = mapped_column(String(12), default="uploaded")
    dry_run: Mapped[bool] = mapped_column(default=True)  # what the latest run is (or was)
    total: Mapped[int] = mapped_column(Integer, default=0)  # rows in the file
    processed: Mapped[int] = mapped_column(Integer, default=0)  # rows done by the run
    counts: Mapped[dict] = mapped_column(JSON, default=dict)  # {outcome: rows}
    content: Mapped[str | None] = mapped_column(Text)
    report: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<Import {self.id} {self.filename!r} {self.source} {self.status}>"

    @property
    def progress(self) -> int:
        """How far the current run is, in percent."""
        if self.status in ("checked", "done"):
            return 100
        if not self.total:
            return 0
        return min(100, self.processed * 100 // self.total)
