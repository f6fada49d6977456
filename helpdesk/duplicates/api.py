"""REST API v1 of the duplicate finder: the pairs, "not a duplicate", and the preview
of a merge (the merge itself is ``POST /customers/ID/merge``)."""

from __future__ import annotations

from flask import current_app, g, jsonify, request, url_for

from helpdesk import unit_of_work
from helpdesk.customers.schemas import MergeIn
from helpdesk.duplicates import candidates, merging, services
from helpdesk.duplicates.schemas import DismissIn, DuplicatePairOut, MergePreviewOut
from helpdesk.web.api import api_blueprint, parse_body
from helpdesk.web.args import int_arg, page_number
from helpdesk.web.openapi import documented

bp = api_blueprint("duplicates_api", __name__, lock_writes=True)


@bp.get("/customers/duplicates")
@documented(DuplicatePairOut, paged=True)
def list_duplicates():
    """Pairs of customers who are probably one person, newest first (only customers the
    caller may see; dismissed pairs never), as found at the finder's last refresh."""
    page = page_number()
    per_page = int_arg(
        "per_page",
        current_app.config["API_PAGE_SIZE"],
        maximum=current_app.config["API_MAX_PAGE_SIZE"],
    )
    pairs = candidates.find(g.agent, offset=(page - 1) * per_page, limit=per_page + 1)
    next_url = None
    if len(pairs) > per_page:
        args = {**request.args.to_dict(), "page": page + 1, "per_page": per_page}
        next_url = url_for(".list_duplicates", _external=True, **args)
    return jsonify({"items": pairs[:per_page], "next": next_url})


@bp.post("/customers/duplicates/dismiss")
@documented(None, status=204, body=DismissIn)
def dismiss():
    """Not a duplicate: the pair is not offered again."""
    body = parse_body(DismissIn)
    services.dismiss(g.agent, body.a, body.b)
    unit_of_work.commit()
    return "", 204


@bp.post("/customers/<int:customer_id>/merge/preview")
@documented(MergePreviewOut, body=MergeIn)
def merge_preview(customer_id: int):
    """What POST /customers/ID/merge with this body would do, without doing it."""
    into = services.visible_customer(g.agent, customer_id)
    body = parse_body(MergeIn)
    other = services.visible_other(g.agent, body.from_)
    return jsonify(merging.preview(into, other, body.keep.to_service() if body.keep else None))
