"""What comes back from a campaign, seen by ingest in the message's own transaction
(``tickets.ingest.register_observer``): a reply (email threaded by In-Reply-To or
References on the campaign mail's Message-ID; SMS from a recipient within
``CAMPAIGN_SMS_REPLY_DAYS`` of the text) is linked to the campaign on its ticket; a
bounce (a delivery report naming the campaign mail) counts the recipient as failed and
marks the address, which later campaigns skip."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from helpdesk.campaigns.models import BouncedAddress, CampaignRecipient
from helpdesk.channels.inbound import InboundMessage
from helpdesk.customers.identities import InvalidIdentity, normalise
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.tickets import events
from helpdesk.tickets.models import Message, Ticket

_OURS = "<hd.c"  # content.message_id: every campaign Message-ID starts so


def observe(inbound: InboundMessage, message: Message, ticket: Ticket) -> None:
    """Link a reply to its campaign, count a bounce; flushes."""
    if inbound.channel == "email":
        ids = [i for i in [*inbound.references, *inbound.undelivered] if i.startswith(_OURS)]
        if not ids:
            return
        rows = db.session.scalars(
            select(CampaignRecipient).where(CampaignRecipient.provider_id.in_(ids[-20:]))
        ).all()
        for row in rows:
            if row.provider_id in inbound.undelivered:
                _bounced(row, inbound.undelivered_reason or "bounced")
            elif not inbound.is_auto:
                _link(row, ticket)
    elif inbound.channel == "sms" and not inbound.is_auto and inbound.opt_out is None:
        try:
            sender = normalise("phone", inbound.sender)
        except InvalidIdentity:
            return
        days = timedelta(days=current_app.config["CAMPAIGN_SMS_REPLY_DAYS"])
        last = db.session.scalars(
            select(CampaignRecipient)
            .where(
                CampaignRecipient.address == sender,
                CampaignRecipient.state == "sent",
                CampaignRecipient.sent_at >= utcnow() - days,
                CampaignRecipient.reply_ticket_id.is_(None),
            )
            .order_by(CampaignRecipient.sent_at.desc())
            .limit(1)
        ).first()
        if last is not None:
            _link(last, ticket)
    db.session.flush()


def _link(row: CampaignRecipient, ticket: Ticket) -> None:
    """The ticket answers the campaign: on the recipient, and in the ticket's trail."""
    if row.reply_ticket_id == ticket.id:
        return
    if ticket.id is None:
        db.session.flush()
    row.reply_ticket_id = ticket.id
    events.record(ticket, "campaign_reply", {"campaign": row.campaign_id})


def _bounced(row: CampaignRecipient, reason: str) -> None:
    """The campaign mail bounced: the recipient failed, the address marked."""
    row.state, row.error = "failed", f"bounced: {reason}"[:500]
    if (
        row.address
        and db.session.scalar(
            select(BouncedAddress.id).where(BouncedAddress.address == row.address)
        )
        is None
    ):
        db.session.add(BouncedAddress(address=row.address, reason=reason[:500]))
