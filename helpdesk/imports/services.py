"""Imports from the screen and the API: upload a file, map its columns, dry-run it, run it
as a job that reports its progress, keep its report.

Every function flushes; the caller commits. ``run`` is the job (``jobs.enqueue``: RQ, or
in-process after the commit without Redis): it owns its transactions.
"""

from __future__ import annotations

import csv
import io
import logging
from typing import Any, cast

from sqlalchemy import CursorResult, Select, Update, select, update

from helpdesk import jobs, unit_of_work
from helpdesk.agents.models import Agent
from helpdesk.audit.services import record
from helpdesk.db import utcnow
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.fields.services import definitions
from helpdesk.imports import formats, loader
from helpdesk.imports.csvfile import CsvFile, Refused
from helpdesk.imports.models import Import

log = logging.getLogger(__name__)
JOB = "helpdesk.imports.services:run"
JOB_TIMEOUT = 4 * 3600  # seconds: a big file takes a while; RQ's default is 5 minutes
BUSY = ("checking", "queued", "running")
SHOWN = 200  # report rows answered with an import (the whole report is the CSV)
APPLIES_TO = {"customers": "customer", "organizations": "organization"}


def may_import(agent) -> None:
    """Admins and leads import; an agent who sees only their own accounts does not (an
    import matches every customer)."""
    if agent.role not in ("lead", "admin") or agent.own_accounts_only:
        raise Forbidden("imports are for leads and admins")


def visible(agent, import_id: int) -> Import:
    """The import ``agent`` may see (their own; admins every one), else NotFound."""
    imp = db.session.get(Import, import_id)
    if imp is None or (not agent.is_admin and imp.agent_id != agent.id):
        raise NotFound("no such import")
    return imp


def field_keys(kind: str) -> list[str]:
    """The custom fields a file of ``kind`` may fill (``field.KEY`` targets)."""
    return list(definitions(APPLIES_TO[kind]))


def upload(
    agent,
    filename: str,
    content: str,
    kind: str | None = None,
    source: str = "auto",
    mapping: dict[str, str] | None = None,
) -> Import:
    """Keep an uploaded file with its detected format and mapping (``mapping`` changes the
    guessed one column by column); nothing is run yet."""
    may_import(agent)
    table = _table(content)
    detected, detected_kind = formats.detect(table.header, kind)
    if source == "auto":
        source = detected
    kind = kind or detected_kind
    labels = {key: f.label for key, f in definitions(APPLIES_TO[kind]).items()}
    guessed = formats.mapping_for(source, kind, table.header, labels)
    total = sum(1 for _, row in table.rows() if not isinstance(row, str))
    imp = Import(
        agent_id=agent.id,
        filename=filename,
        kind=kind,
        source=source,
        mapping=guessed,
        status="uploaded",
        total=total,
        processed=0,
        counts={},
        content=content,
    )
    if mapping:
        imp.mapping = checked_mapping(imp, mapping)
    db.session.add(imp)
    db.session.flush()
    return imp


def _table(content: str) -> CsvFile:
    """The uploaded text as a CSV file; Invalid when it is none."""
    if not content.strip():
        raise Invalid("the file is empty", fields={"content": "the file is empty"})
    try:
        return CsvFile(io.StringIO(content, newline=""))
    except Refused as exc:
        raise Invalid(str(exc), fields={"content": str(exc)}) from None


def checked_mapping(imp: Import, mapping: dict[str, str]) -> dict[str, str]:
    """The import's mapping changed by ``mapping``; Invalid naming each bad column."""
    header = set(imp.mapping)
    problems = {
        f"mapping.{column}": "no such column in the file"
        for column in mapping
        if column not in header
    }
    problems.update(
        {
            f"mapping.{column}": why
            for column, why in formats.check_mapping(
                imp.kind, mapping, field_keys(imp.kind)
            ).items()
        }
    )
    if problems:
        raise Invalid("the mapping names unknown columns or fields", fields=problems)
    return {**imp.mapping, **mapping}


def start(imp: Import, dry_run: bool, mapping: dict[str, str] | None = None) -> None:
    """Queue a run of the import (a dry run writes nothing but the report), after the
    commit. A running import, or one done, cannot be run again."""
    if imp.status == "done":
        raise Conflict("the file was imported already", fields={"status": imp.status})
    if mapping:
        imp.mapping = checked_mapping(imp, mapping)
    if not any(target != formats.IGNORE for target in imp.mapping.values()):
        raise Invalid("map at least one column", fields={"mapping": "every column is ignored"})
    status = "checking" if dry_run else "queued"
    if imp.id is not None:
        # Claimed with a condition, so two requests never queue two runs of one file.
        claimed = _changed(
            update(Import)
            .where(Import.id == imp.id, Import.status.not_in(BUSY + ("done",)))
            .values(status=status)
        )
        if not claimed:
            raise Conflict("the import is running already", fields={"status": imp.status})
    imp.status = status
    imp.dry_run = dry_run
    imp.processed = 0
    imp.error = None
    imp.started_at = None
    db.session.flush()
    jobs.enqueue(JOB, imp.id, job_timeout=JOB_TIMEOUT)


def run(import_id: int, job_timeout: int | None = None) -> None:
    """The job: run an import (dry or real) from its stored file, noting its progress
    after each batch; then its report, counts and (real runs) an audit record.
    (``job_timeout`` is RQ's; in-process it arrives here and means nothing.)"""
    with unit_of_work.writing():
        # Claimed with a condition: a second job for the same run finds it started.
        claimed = _changed(
            update(Import)
            .where(
                Import.id == import_id,
                Import.status.in_(("checking", "queued")),
                Import.started_at.is_(None),
                Import.content.is_not(None),
            )
            .values(started_at=utcnow(), finished_at=None)
        )
        imp = db.session.get(Import, import_id) if claimed else None
        if imp is None:
            db.session.rollback()
            return
        db.session.refresh(imp)
        dry_run = imp.dry_run
        if not dry_run:
            imp.status = "running"
        content, kind, source, mapping = imp.content, imp.kind, imp.source, dict(imp.mapping)
        actor = db.session.get(Agent, imp.agent_id) if imp.agent_id else None
        unit_of_work.commit()
    try:
        report = loader.load(
            io.StringIO(content, newline=""),
            kind,
            source,
            mapping,
            dry_run,
            actor=actor,
            progress=lambda done: _progress(import_id, done),
        )
    except Exception as exc:
        db.session.rollback()
        log.exception("import %s failed", import_id)
        with unit_of_work.writing():
            imp = db.session.get(Import, import_id)
            if imp is not None:
                imp.status, imp.finished_at = "failed", utcnow()
                imp.error = f"the run broke off: {exc.__class__.__name__}"[:500]
            unit_of_work.commit()
        return
    with unit_of_work.writing():
        imp = db.session.get(Import, import_id)
        if imp is None:
            return
        imp.counts = report.counts
        imp.processed = imp.total
        imp.report = report_csv(kind, report.rows)
        imp.finished_at = utcnow()
        imp.status = "checked" if dry_run else "done"
        if not dry_run:
            imp.content = None  # done: the report is what stays
            record(
                "customers.import",
                object_type="import",
                object_id=imp.id,
                after={
                    "counts": report.counts,
                    "file": imp.filename,
                    "source": source,
                    "kind": kind,
                },
                agent_id=imp.agent_id,
            )
        unit_of_work.commit()
    log.info("import %s (%s): %s", import_id, "dry run" if dry_run else "run", report.counts)


def _changed(statement: Update) -> bool:
    """Run a conditional UPDATE; whether it changed a row."""
    result = cast(
        CursorResult[Any],
        db.session.execute(statement.execution_options(synchronize_session=False)),
    )
    return bool(result.rowcount)


def _progress(import_id: int, done: int) -> None:
    """Note how many rows the run has done, in a transaction of its own."""
    db.session.execute(update(Import).where(Import.id == import_id).values(processed=done))
    unit_of_work.commit()


def report_csv(kind: str, rows: list[tuple[int, str, int | None, str | None]]) -> str:
    """The report as CSV text: line, outcome, the customer's (organization's) id, reason."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["line", "outcome", f"{APPLIES_TO[kind]}_id", "reason"])
    writer.writerows((line, outcome, ident or "", why or "") for line, outcome, ident, why in rows)
    return out.getvalue()


def report_rows(imp: Import, limit: int = SHOWN) -> list[dict[str, Any]]:
    """The first ``limit`` rows of the latest report."""
    if not imp.report:
        return []
    reader = csv.reader(io.StringIO(imp.report, newline=""))
    next(reader, None)
    found: list[dict[str, Any]] = []
    for line, outcome, ident, why in reader:
        if len(found) >= limit:
            break
        found.append(
            {
                "line": int(line),
                "outcome": outcome,
                "id": int(ident) if ident else None,
                "reason": why or None,
            }
        )
    return found


def columns(imp: Import) -> list[dict[str, Any]]:
    """Each column of the file: its name, a few of its values, where it goes."""
    samples: dict[str, list[str]] = {}
    if imp.content is not None:
        try:
            samples = CsvFile(io.StringIO(imp.content, newline="")).samples()
        except Refused:
            samples = {}
    return [
        {"name": name, "samples": samples.get(name, []), "target": target}
        for name, target in imp.mapping.items()
    ]


def recent(agent) -> Select:
    """The imports ``agent`` may see, newest first (a query to paginate)."""
    query = select(Import).order_by(Import.id.desc())
    if not agent.is_admin:
        query = query.where(Import.agent_id == agent.id)
    return query


def targets(kind: str) -> list[str]:
    """Where a column may go: our fields, ``field.KEY`` per custom field, ``ignore``."""
    return [*formats.TARGETS[kind], *(f"field.{k}" for k in field_keys(kind)), formats.IGNORE]
