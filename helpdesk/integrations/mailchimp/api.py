"""REST API v1 for the MailChimp link (admins): ``GET|POST /integrations/mailchimp``,
``DELETE /integrations/mailchimp/ID``, ``POST /integrations/mailchimp/ID/sync``."""

from __future__ import annotations

from typing import Annotated

from flask import current_app, g, jsonify, request, url_for
from pydantic import StringConstraints
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.customers.schemas import Strict
from helpdesk.errors import Forbidden
from helpdesk.integrations.mailchimp import sync
from helpdesk.integrations.mailchimp.models import MailchimpAudience
from helpdesk.web.api import api_blueprint, paginate, parse_body
from helpdesk.web.openapi import Ref, Shape, documented

bp = api_blueprint("mailchimp_api", __name__, lock_writes=True)


@bp.before_request
def _admins_only():
    if not g.agent.is_admin:
        raise Forbidden("only admins manage integrations")


class LinkIn(Strict):
    """POST: keep ``segment`` in sync with the MailChimp audience ``list_id``."""

    segment: int
    list_id: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[\w-]+$"),
    ]


class LinkOut(Shape):
    """A link and how its last sync went."""

    id: int
    segment: Ref
    list_id: str
    created_at: str | None
    last_synced_at: str | None
    last_result: dict | None


class NewLinkOut(LinkOut):
    """A new link: ``webhook_url`` (for MailChimp's webhook settings) is shown this once."""

    webhook_url: str


@bp.get("/integrations/mailchimp")
@documented(LinkOut, paged=True)
def list_links():
    """The segments kept in sync with MailChimp audiences."""
    query = select(MailchimpAudience).order_by(MailchimpAudience.id.desc())
    return jsonify(paginate(query, sync.link_json))


@bp.post("/integrations/mailchimp")
@documented(NewLinkOut, status=201, body=LinkIn)
def create_link():
    """Link a segment to an audience and sync it once (after the commit)."""
    body = parse_body(LinkIn)
    row, secret = sync.link(g.agent, body.segment, body.list_id)
    sync.request_sync(row)
    unit_of_work.commit()
    base = current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/")
    url = base + url_for("mailchimp_webhook.event", link_id=row.id, secret=secret)
    return jsonify({**sync.link_json(row), "webhook_url": url}), 201


@bp.post("/integrations/mailchimp/<int:link_id>/sync")
@documented(LinkOut, status=202)
def sync_now(link_id: int):
    """Sync now (a job; ``last_result`` says how it went)."""
    row = sync.get(link_id)
    sync.request_sync(row)
    unit_of_work.commit()
    return jsonify(sync.link_json(row)), 202


@bp.delete("/integrations/mailchimp/<int:link_id>")
@documented(None, status=204)
def delete_link(link_id: int):
    """Stop syncing this segment with its audience."""
    sync.unlink(sync.get(link_id))
    unit_of_work.commit()
    return "", 204
