"""REST API v1 for finding customers: the list with its filters and total, the export
of everything a filter (or a segment) matches, bulk actions."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, g, jsonify, request, stream_with_context

from helpdesk import unit_of_work
from helpdesk.agents.auth import require_role
from helpdesk.audit.services import record
from helpdesk.customers import search
from helpdesk.customers.finder import bulk, export
from helpdesk.customers.finder.schemas import (
    FILTER_PARAMS,
    BulkIn,
    BulkOut,
    CustomerListOut,
)
from helpdesk.customers.schemas import customer_json
from helpdesk.errors import Invalid
from helpdesk.segments import services as segments
from helpdesk.web.api import api_blueprint, next_page_url, page_args, parse_body
from helpdesk.web.args import int_arg
from helpdesk.web.openapi import PAGE, Param, choice, documented, integer

bp = api_blueprint("customer_list_api", __name__, lock_writes=True)
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@bp.get("/customers")
@documented(CustomerListOut, query=[*FILTER_PARAMS, *PAGE])
def list_customers():
    """Customers matching every filter given, a page at a time, with the total.

    ``field.KEY=VALUE`` filters on a custom field (typed by its definition). ``total`` is
    exact up to 10,000; past that it says 10,000 and ``total_exact`` is false.
    """
    wanted = search.parse(request.args)
    number, per_page = page_args()
    found = search.page(wanted, g.agent, number, per_page)
    return jsonify(
        {
            "items": [customer_json(c) for c in found.customers],
            "next": next_page_url(number, per_page) if found.more else None,
            "total": found.total,
            "total_exact": found.exact,
        }
    )


@bp.get("/customers/export")
@require_role("lead")
@documented(
    None,
    files=tuple(MEDIA.values()),
    query=[
        *FILTER_PARAMS,
        Param("segment", integer(), "A segment id (instead of the filters)"),
        Param("format", choice(tuple(MEDIA))),
    ],
)
def export_customers():
    """Every customer matching the filters (or a segment), as CSV or XLSX, streamed
    (leads and admins; recorded in the audit log)."""
    fmt = request.args.get("format") or "csv"
    if fmt not in MEDIA:
        raise Invalid("format must be csv or xlsx", fields={"format": "csv or xlsx"})
    segment_id = int_arg("segment")
    if segment_id is not None:
        segment = segments.get(segment_id, g.agent)
        wanted = segments.customer_filter(segment)
        described = {"segment": segment.id, "filter": segment.filter}
    else:
        wanted = search.parse(request.args)
        described = {"filter": wanted.without_sort()}
    total = search.count(wanted, g.agent)
    record(
        "customers.export",
        object_type="customer",
        after={**described, "format": fmt, "count": total},
    )
    unit_of_work.commit()
    pages = export.rows(wanted, g.agent)
    chunks = export.csv_chunks(pages) if fmt == "csv" else export.xlsx_chunks(pages)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(chunks),
        mimetype=MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="customers-{stamp}.{fmt}"',
            "X-Total-Count": str(total),
        },
    )


@bp.post("/customers/bulk")
@documented(BulkOut, body=BulkIn)
def bulk_action():
    """Tag, untag or set the account manager of the chosen customers (``ids``) or of
    every customer a ``filter`` matches, in one transaction (audited)."""
    body = parse_body(BulkIn)
    if (body.ids is None) == (body.filter is None):
        raise Invalid(
            "give ids or a filter", fields={"ids": "ids or filter", "filter": "ids or filter"}
        )
    if body.ids is not None:
        wanted = search.CustomerFilter(ids=tuple(body.ids))
        described: dict = {"ids": body.ids}
    else:
        wanted = segments.parse_filter(body.filter or {})
        described = {"filter": wanted.without_sort()}
    changed = bulk.run(
        body.action,
        wanted,
        g.agent,
        tag=body.tag,
        account_manager=body.account_manager,
        described=described,
    )
    unit_of_work.commit()
    return jsonify({"changed": changed})
