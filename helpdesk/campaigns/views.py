"""The campaign pages (``/campaigns``, ``/campaigns/new``, ``/campaigns/ID``: leads and
admins, through ``/api/v1/campaigns`` with ``static/campaigns.js``), and the public
unsubscribe page ``/unsubscribe/TOKEN``: GET shows it with one button, POST (that
button, or a mail program's RFC 8058 one-click POST) revokes the consent."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _
from flask_login import current_user

from helpdesk import unit_of_work
from helpdesk.campaigns import services
from helpdesk.campaigns.models import Campaign
from helpdesk.channels.email.mailboxes import mailboxes
from helpdesk.errors import NotFound
from helpdesk.extensions import csrf, db
from helpdesk.segments import services as segments
from helpdesk.web.args import refuse_unstorable_url
from helpdesk.web.pages import content_security_policy, page_blueprint, page_number

bp = page_blueprint("campaigns", __name__)
public = Blueprint("unsubscribe", __name__)
public.before_request(refuse_unstorable_url)
public.after_request(content_security_policy)
PER_PAGE = 50


def _refused():
    """The page for agents who do not work with campaigns."""
    return render_template("error.html", message=_("Campaigns are for team leads and admins.")), 404


@bp.get("/campaigns")
def campaigns():
    """The list of campaigns, newest first."""
    try:
        rows, more = services.listed(current_user, page_number(), PER_PAGE)
    except NotFound:
        return _refused()
    counts = services.counts_of([c.id for c in rows])
    return render_template(
        "campaigns.html", campaigns=rows, counts=counts, page=page_number(), more=more
    )


@bp.get("/campaigns/new")
def new_campaign():
    """The form of a new draft."""
    try:
        services.allowed(current_user)
    except NotFound:
        return _refused()
    return _editor(None)


@bp.get("/campaigns/<int:campaign_id>")
def campaign(campaign_id: int):
    """A campaign: its draft editor with preview and test send, or its progress."""
    try:
        found = services.get(campaign_id, current_user)
    except NotFound:
        return _refused()
    return _editor(found)


def _editor(found: Campaign | None):
    """The campaign page (a draft is editable)."""
    return render_template(
        "campaign.html",
        campaign=found,
        data=services.as_json(found) if found is not None else None,
        segments=segments.listed(current_user),
        mailboxes=mailboxes(),
    )


@public.get("/unsubscribe/<token>")
def unsubscribe_page(token: str):
    """The unsubscribe page: who, and one button."""
    recipient = services.recipient_by_token(token)
    return render_template("unsubscribe.html", token=token, done=recipient.unsubscribed_at)


@public.post("/unsubscribe/<token>")
@csrf.exempt  # the signed token is the proof; RFC 8058's one-click POST has no session
def unsubscribe(token: str):
    """Revoke the consent (the button, or a mail program's one-click POST)."""
    with unit_of_work.write_phase():
        recipient = services.recipient_by_token(token)
        services.unsubscribe(recipient)
        unit_of_work.commit()
    db.session.refresh(recipient)
    return render_template("unsubscribe.html", token=token, done=recipient.unsubscribed_at)
