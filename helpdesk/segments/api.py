"""REST API v1 for segments: saved customer filters, evaluated when read."""

from __future__ import annotations

from flask import g, jsonify, request

from helpdesk import unit_of_work
from helpdesk.customers import search
from helpdesk.customers.schemas import customer_json
from helpdesk.segments import services
from helpdesk.segments.schemas import (
    SegmentCustomersOut,
    SegmentIn,
    SegmentOut,
    SegmentPatch,
    segment_json,
)
from helpdesk.web.api import api_blueprint, next_page_url, page_args, parse_body
from helpdesk.web.openapi import PAGE, Param, choice, documented

bp = api_blueprint("segments_api", __name__, lock_writes=True)


@bp.get("/segments")
@documented(SegmentOut, paged=True)
def list_segments():
    """The segments the agent may read: their own, the shared ones (admins: all)."""
    number, per_page = page_args()
    segments = services.listed(g.agent)
    chunk = segments[(number - 1) * per_page : number * per_page + 1]
    more = len(chunk) > per_page
    return jsonify(
        {
            "items": [segment_json(s) for s in chunk[:per_page]],
            "next": next_page_url(number, per_page) if more else None,
        }
    )


@bp.post("/segments")
@documented(SegmentOut, status=201, body=SegmentIn)
def create_segment():
    """Save a customer filter as a segment."""
    body = parse_body(SegmentIn)
    segment = services.create(g.agent, body.name, body.filter, body.shared)
    unit_of_work.commit()
    return jsonify(segment_json(segment)), 201


@bp.get("/segments/<int:segment_id>")
@documented(SegmentOut)
def get_segment(segment_id: int):
    """One segment."""
    return jsonify(segment_json(services.get(segment_id, g.agent)))


@bp.patch("/segments/<int:segment_id>")
@documented(SegmentOut, body=SegmentPatch)
def update_segment(segment_id: int):
    """Rename a segment, change its filter or its sharing (the owner, or admins)."""
    segment = services.get(segment_id, g.agent, change=True)
    body = parse_body(SegmentPatch)
    services.update(segment, body.model_dump(exclude_unset=True))
    unit_of_work.commit()
    return jsonify(segment_json(segment))


@bp.delete("/segments/<int:segment_id>")
@documented(None, status=204)
def delete_segment(segment_id: int):
    """Delete a segment (the owner, or admins)."""
    services.delete(services.get(segment_id, g.agent, change=True))
    unit_of_work.commit()
    return "", 204


@bp.get("/segments/<int:segment_id>/customers")
@documented(
    SegmentCustomersOut,
    query=[Param("sort", choice(("relevance", *search.SORTS))), *PAGE],
)
def segment_customers(segment_id: int):
    """The segment's customers now, paginated, with ``count``: how many match."""
    segment = services.get(segment_id, g.agent)
    wanted = services.customer_filter(segment, request.args.get("sort"))
    number, per_page = page_args()
    found = search.page(wanted, g.agent, number, per_page)
    total = found.total if found.exact else search.count(wanted, g.agent)
    return jsonify(
        {
            "items": [customer_json(c) for c in found.customers],
            "next": next_page_url(number, per_page) if found.more else None,
            "count": total,
        }
    )
