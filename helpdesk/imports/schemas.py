"""API input models and answer shapes of imports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from helpdesk.customers.schemas import Strict
from helpdesk.db import iso
from helpdesk.imports import services
from helpdesk.imports.models import Import
from helpdesk.web.openapi import Shape

Column = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Target = Annotated[str, StringConstraints(min_length=1, max_length=80)]
Mapping = dict[Column, Target]
# 20 MB of text: about 100,000 rows of a wide CRM export (MAX_CONTENT_LENGTH is 25 MB).
Content = Annotated[str, StringConstraints(max_length=20_000_000)]


class ImportIn(Strict):
    """POST /imports: the file's text, and optionally its format and mapping; ``dry_run``
    (default true) checks it without writing, false imports it at once."""

    filename: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    content: Content
    kind: Literal["customers", "organizations"] | None = None
    format: Literal["auto", "helpdesk", "hubspot", "pipedrive", "insightly", "custom"] = "auto"
    mapping: Mapping = Field(default_factory=dict, max_length=500)
    dry_run: bool = True


class RunIn(Strict):
    """POST /imports/ID/run: a dry run (the default) or the real one, with a changed
    mapping if given."""

    mapping: Mapping = Field(default_factory=dict, max_length=500)
    dry_run: bool = True


class ColumnOut(Shape):
    """A column of the file: its name, a few values, where it goes."""

    name: str
    samples: list[str]
    target: str


class ReportRowOut(Shape):
    """What became of one row."""

    line: int
    outcome: Literal["created", "updated", "merged", "refused"]
    id: int | None
    reason: str | None


class ImportOut(Shape):
    """An import (``import_json``): its status, progress and counts."""

    id: int
    filename: str
    kind: str
    source: str
    status: str
    dry_run: bool
    total: int
    processed: int
    progress: int
    counts: dict[str, int]
    mapping: dict[str, str]
    error: str | None
    agent: int | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    report_url: str | None


class ImportDetail(ImportOut):
    """An import with its columns, the targets they may take and the report's first rows."""

    columns: list[ColumnOut]
    targets: list[str]
    rows: list[ReportRowOut]


def import_json(imp: Import, detail: bool = False) -> dict[str, Any]:
    """An import as the API answers it."""
    data: dict[str, Any] = {
        "id": imp.id,
        "filename": imp.filename,
        "kind": imp.kind,
        "source": imp.source,
        "status": imp.status,
        "dry_run": imp.dry_run,
        "total": imp.total,
        "processed": imp.processed,
        "progress": imp.progress,
        "counts": imp.counts or {},
        "mapping": imp.mapping or {},
        "error": imp.error,
        "agent": imp.agent_id,
        "created_at": iso(imp.created_at),
        "started_at": iso(imp.started_at),
        "finished_at": iso(imp.finished_at),
        "report_url": f"/api/v1/imports/{imp.id}/report" if imp.report else None,
    }
    if detail:
        data["columns"] = services.columns(imp)
        data["targets"] = services.targets(imp.kind)
        data["rows"] = services.report_rows(imp)
    return data
