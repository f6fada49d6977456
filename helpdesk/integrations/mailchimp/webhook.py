"""MailChimp's webhook: ``/webhooks/mailchimp/LINK/SECRET`` (the URL the link's creation
answered). MailChimp checks the URL with a GET, then POSTs form-encoded events
(``type=unsubscribe&data[email]=...&data[list_id]=...``); the secret in the URL proves it
is MailChimp (a wrong one, or an unknown link, answers 403)."""

from __future__ import annotations

from flask import Blueprint, request

from helpdesk import unit_of_work
from helpdesk.agents.auth import constant_time_equal
from helpdesk.errors import Forbidden
from helpdesk.integrations.mailchimp import sync
from helpdesk.integrations.mailchimp.models import MailchimpAudience
from helpdesk.web.args import get_row

bp = Blueprint("mailchimp_webhook", __name__, url_prefix="/webhooks/mailchimp")


def _link(link_id: int, secret: str):
    """The link whose URL this is; Forbidden for a wrong secret or an unknown link (as
    every provider webhook answers a request that does not prove itself)."""
    row = get_row(MailchimpAudience, link_id)
    if row is None or not constant_time_equal(str(row.secrets.get("webhook", "")), secret):
        raise Forbidden("not a MailChimp webhook URL of this helpdesk")
    return row


@bp.route("/<int:link_id>/<secret>", methods=["GET", "POST"])
def event(link_id: int, secret: str):
    """MailChimp's URL check (GET) and events (POST): unsubscribes revoke the consent;
    other events are acknowledged and ignored."""
    with unit_of_work.writing(request.method == "POST"):
        row = _link(link_id, secret)
        if request.method == "POST" and request.form.get("type") == "unsubscribe":
            sync.unsubscribed(
                row, request.form.get("data[list_id]"), request.form.get("data[email]")
            )
            unit_of_work.commit()
    return "ok", 200
