"""/api/v1/imports: upload a customer or organization file, dry-run it, run it as a job,
follow its progress, download its report. Leads and admins; each sees their own imports
(admins every one)."""

from __future__ import annotations

from flask import Response, g, jsonify

from helpdesk import unit_of_work
from helpdesk.errors import NotFound
from helpdesk.imports import services
from helpdesk.imports.schemas import ImportDetail, ImportIn, ImportOut, RunIn, import_json
from helpdesk.web.api import api_blueprint, paginate, parse_body
from helpdesk.web.openapi import documented

bp = api_blueprint("imports_api", __name__, lock_writes=True)


@bp.get("/imports")
@documented(ImportOut, paged=True)
def list_imports():
    """Imports, newest first: the caller's own (an admin's: every one)."""
    services.may_import(g.agent)
    return jsonify(paginate(services.recent(g.agent), import_json))


@bp.post("/imports")
@documented(ImportDetail, status=201, body=ImportIn)
def create_import():
    """Upload a CSV file (its text in ``content``): the format is detected from the header
    unless given, the mapping guessed unless given; with ``dry_run`` (the default) the job
    checks every row and writes nothing, without it the rows are imported."""
    body = parse_body(ImportIn)
    imp = services.upload(
        g.agent, body.filename, body.content, body.kind, body.format, body.mapping or None
    )
    services.start(imp, body.dry_run)
    unit_of_work.commit()
    return jsonify(import_json(imp, detail=True)), 201


@bp.get("/imports/<int:import_id>")
@documented(ImportDetail)
def get_import(import_id: int):
    """An import: status, progress, counts, its columns and the report's first rows."""
    services.may_import(g.agent)
    return jsonify(import_json(services.visible(g.agent, import_id), detail=True))


@bp.post("/imports/<int:import_id>/run")
@documented(ImportDetail, status=202, body=RunIn)
def run_import(import_id: int):
    """Run the import again: a dry run (the default, e.g. after changing the mapping) or,
    with ``"dry_run": false``, for real."""
    services.may_import(g.agent)
    imp = services.visible(g.agent, import_id)
    body = parse_body(RunIn)
    services.start(imp, body.dry_run, body.mapping or None)
    unit_of_work.commit()
    return jsonify(import_json(imp, detail=True)), 202


@bp.get("/imports/<int:import_id>/report")
@documented(None, files=("text/csv",))
def import_report(import_id: int):
    """The latest run's report as CSV: line, outcome, customer (organization) id, reason."""
    services.may_import(g.agent)
    imp = services.visible(g.agent, import_id)
    if imp.report is None:
        raise NotFound("the import has no report yet")
    stem = imp.filename.rsplit(".", 1)[0] or "import"
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:80]
    return Response(
        imp.report,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-report.csv"'},
    )
