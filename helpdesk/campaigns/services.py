"""Campaigns: write drafts, preview them for one customer, send a test to oneself,
send or schedule them, cancel them, and count what became of their recipients.

Who may do any of it is ``agents.access.can_use_campaigns`` (leads and admins who see
every customer); everyone else gets a 404, as for a campaign that does not exist.
Sending itself is ``sending.py``'s job on the ``campaigns`` queue; the recipients are
made at send time (``recipients.py``), from the segment as it is then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy import update as sql_update

from helpdesk import jobs, realtime
from helpdesk.agents import access
from helpdesk.agents.models import Agent
from helpdesk.campaigns import content
from helpdesk.campaigns.models import Campaign, CampaignRecipient
from helpdesk.channels.email.mailboxes import mailboxes
from helpdesk.channels.models import Channel
from helpdesk.customers import consents, search
from helpdesk.customers.models import Customer
from helpdesk.db import iso, utcnow
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.segments import services as segments
from helpdesk.web.args import get_row

PREPARE_JOB = "helpdesk.campaigns.recipients:prepare"
QUEUE = "campaigns"
EDITABLE = ("name", "segment", "channel", "subject", "body", "mailbox")
COUNTED = ("recipients", "sent", "failed", "skipped_no_consent", "unsubscribed")


def allowed(agent) -> None:
    """NotFound unless ``agent`` works with campaigns (the one rule: agents.access)."""
    if not access.can_use_campaigns(agent):
        raise NotFound("no such campaign")


def get(campaign_id: int, agent) -> Campaign:
    """A campaign ``agent`` may see, else NotFound."""
    allowed(agent)
    campaign = get_row(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("no such campaign")
    return campaign


def listed(agent, number: int, per_page: int) -> tuple[list[Campaign], bool]:
    """One page of campaigns, newest first; whether there are more."""
    allowed(agent)
    rows = db.session.scalars(
        select(Campaign)
        .order_by(Campaign.id.desc())
        .offset((number - 1) * per_page)
        .limit(per_page + 1)
    ).all()
    return list(rows[:per_page]), len(rows) > per_page


def _apply(campaign: Campaign, agent, data: dict[str, Any]) -> None:
    """Set the fields given in ``data``, checked (segment readable, mailbox an email
    channel, placeholders known)."""
    if data.get("name") is not None:
        campaign.name = data["name"]
    if data.get("channel") is not None:
        campaign.channel = data["channel"]
    if "segment" in data:
        segment_id = data["segment"]
        if segment_id is None:
            campaign.segment_id = None
        else:
            try:
                campaign.segment_id = segments.get(segment_id, agent).id
            except NotFound:
                raise Invalid("no such segment", fields={"segment": "no such segment"}) from None
    if "mailbox" in data:
        mailbox = get_row(Channel, data["mailbox"]) if data["mailbox"] is not None else None
        if data["mailbox"] is not None and (mailbox is None or mailbox.kind != "email"):
            raise Invalid("no such mailbox", fields={"mailbox": "no such mailbox"})
        campaign.mailbox_id = mailbox.id if mailbox is not None else None
    if "subject" in data:
        campaign.subject = data["subject"]
    if data.get("body") is not None:
        campaign.body = data["body"]
    content.check(campaign.subject, "subject")
    content.check(campaign.body, "body")


def create(agent, data: dict[str, Any]) -> Campaign:
    """A new draft campaign."""
    allowed(agent)
    campaign = Campaign(status="draft", channel="email", body="", created_by_id=agent.id)
    _apply(campaign, agent, data)
    db.session.add(campaign)
    db.session.flush()
    return campaign


def update(campaign: Campaign, agent, data: dict[str, Any]) -> Campaign:
    """Change a draft (or a scheduled campaign, which goes back to being a draft)."""
    if campaign.status not in ("draft", "scheduled"):
        raise Conflict("only a draft can be changed")
    _apply(campaign, agent, data)
    campaign.status, campaign.scheduled_at = "draft", None
    db.session.flush()
    return campaign


def mailbox_of(campaign: Campaign) -> Channel | None:
    """The mailbox an email campaign goes out through: its own, else the first one."""
    if campaign.mailbox is not None and campaign.mailbox.active:
        return campaign.mailbox
    found = mailboxes()
    return found[0] if found else None


def person(customer: Customer | None) -> content.Person:
    """What the placeholders say for ``customer``."""
    if customer is None:
        return content.Person("", "")
    organization = customer.organization.name if customer.organization is not None else ""
    return content.Person(customer.name or "", organization)


def rendered(campaign: Campaign, customer: Customer | None) -> dict[str, str | None]:
    """The subject and text ``customer`` would get."""
    who = person(customer)
    subject = content.fill(campaign.subject, who) if campaign.channel == "email" else None
    return {"subject": subject, "body": content.fill(campaign.body, who)}


def preview(campaign: Campaign, agent, customer_id: int | None) -> dict[str, Any]:
    """The campaign as one customer would get it (the segment's first one when no id)."""
    customer = None
    if customer_id is not None:
        customer = access.visible_customer(agent, get_row(Customer, customer_id))
    elif campaign.segment is not None:
        wanted = segments.customer_filter(campaign.segment)
        customer = db.session.scalars(search.select_customers(wanted, agent).limit(1)).first()
    return {"customer": customer.id if customer else None, **rendered(campaign, customer)}


def send_test(campaign: Campaign, agent) -> None:
    """Send the campaign to the agent themself (email: their address; SMS: their phone),
    filled in with their own name; after the commit."""
    if campaign.channel == "sms" and not agent.phone:
        raise Invalid("set your phone number in your profile first", fields={"phone": "none"})
    if campaign.channel == "email" and mailbox_of(campaign) is None:
        raise Invalid("no mailbox to send from", fields={"mailbox": "no mailbox"})
    content.check(campaign.subject, "subject")
    content.check(campaign.body, "body")
    jobs.enqueue("helpdesk.campaigns.sending:send_test", campaign.id, agent.id, queue_name=QUEUE)


def send(campaign: Campaign, agent, at: datetime | None) -> Campaign:
    """Send the campaign now, or at ``at``: it stops being a draft; the recipients are
    made from the segment when it starts."""
    if campaign.status not in ("draft", "scheduled"):
        raise Conflict(f"the campaign is {campaign.status}")
    if campaign.segment_id is None:
        raise Invalid("choose a segment first", fields={"segment": "required"})
    if campaign.channel == "email" and mailbox_of(campaign) is None:
        raise Invalid("no mailbox to send from", fields={"mailbox": "no mailbox"})
    if campaign.channel == "email" and not (campaign.subject or "").strip():
        raise Invalid("an email campaign needs a subject", fields={"subject": "required"})
    if not campaign.body.strip():
        raise Invalid("the campaign has no text", fields={"body": "required"})
    campaign.sent_by_id = agent.id
    now = utcnow()
    if at is not None and at > now:
        campaign.status, campaign.scheduled_at = "scheduled", at
    else:
        campaign.status, campaign.scheduled_at = "preparing", now
        jobs.enqueue(PREPARE_JOB, campaign.id, queue_name=QUEUE)
    db.session.flush()
    announce(campaign)
    return campaign


def cancel(campaign: Campaign) -> Campaign:
    """Stop the campaign: nothing more goes out (a batch in flight is not finished)."""
    if campaign.status in ("sent", "cancelled"):
        raise Conflict(f"the campaign is {campaign.status}")
    if campaign.status == "draft":
        raise Conflict("a draft is not being sent")
    campaign.status, campaign.finished_at = "cancelled", utcnow()
    db.session.execute(  # the rows a sender holds are cancelled by it (sending.py)
        sql_update(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.state == "pending")
        .values(state="cancelled")
    )
    db.session.flush()
    announce(campaign)
    return campaign


def counts(campaign_id: int) -> dict[str, int]:
    """What became of the recipients, in one grouped query on the claim index."""
    return counts_of([campaign_id])[campaign_id]


def counts_of(campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """``counts`` of several campaigns (a page of the list): two grouped queries."""
    by_state: dict[int, dict[str, int]] = {cid: {} for cid in campaign_ids}
    for campaign_id, state, number in db.session.execute(
        select(CampaignRecipient.campaign_id, CampaignRecipient.state, func.count())
        .where(CampaignRecipient.campaign_id.in_(campaign_ids))
        .group_by(CampaignRecipient.campaign_id, CampaignRecipient.state)
    ):
        by_state[campaign_id][state] = number
    unsubscribed = dict(
        db.session.execute(
            select(CampaignRecipient.campaign_id, func.count())
            .where(
                CampaignRecipient.campaign_id.in_(campaign_ids),
                CampaignRecipient.unsubscribed_at.is_not(None),
            )
            .group_by(CampaignRecipient.campaign_id)
        ).all()
    )
    return {
        cid: {
            "recipients": sum(states.values()),
            "sent": states.get("sent", 0),
            "failed": states.get("failed", 0),
            "skipped_no_consent": states.get("skipped", 0),
            "unsubscribed": unsubscribed.get(cid, 0),
            "pending": states.get("pending", 0) + states.get("sending", 0),
            "no_address": states.get("no_address", 0),
            "cancelled": states.get("cancelled", 0),
        }
        for cid, states in by_state.items()
    }


def as_json(campaign: Campaign, with_counts: bool = True) -> dict[str, Any]:
    """A campaign as the API shows it."""
    return {
        "id": campaign.id,
        "name": campaign.name,
        "channel": campaign.channel,
        "segment": campaign.segment_id,
        "mailbox": campaign.mailbox_id,
        "subject": campaign.subject,
        "body": campaign.body,
        "status": campaign.status,
        "scheduled_at": iso(campaign.scheduled_at),
        "started_at": iso(campaign.started_at),
        "finished_at": iso(campaign.finished_at),
        "created_at": iso(campaign.created_at),
        "counts": counts(campaign.id) if with_counts else None,
    }


def rooms() -> list[str]:
    """The personal rooms of everyone who may follow campaigns (the one access rule)."""
    agents = db.session.scalars(select(Agent).where(access.campaign_rule())).all()
    return sorted({realtime.personal_room(agent) for agent in agents})


def announce(campaign: Campaign) -> None:
    """``campaign.progress`` with the status and counts, after the commit, to the agents
    who may see campaigns."""
    payload = {"id": campaign.id, "status": campaign.status, "counts": counts(campaign.id)}
    realtime.emit_after_commit("campaign.progress", payload, rooms())


def recipient_by_token(value: str) -> CampaignRecipient:
    """The recipient an unsubscribe token was made for, else NotFound."""
    recipient_id = content.recipient_of(value)
    recipient = get_row(CampaignRecipient, recipient_id) if recipient_id else None
    if recipient is None:
        raise NotFound("no such link")
    return recipient


def unsubscribe(recipient: CampaignRecipient) -> bool:
    """The recipient no longer wants the campaign's channel: the consent revoked through
    the consent service (audited, with the source and time), the recipient marked; the
    same link again changes nothing. Whether anything changed."""
    campaign = db.session.get(Campaign, recipient.campaign_id)
    customer = db.session.get(Customer, recipient.customer_id) if recipient.customer_id else None
    if campaign is None or customer is None:
        return False
    purpose = "email_marketing" if campaign.channel == "email" else "sms_marketing"
    changed = consents.change(customer, purpose, False, f"unsubscribe: campaign {campaign.id}")
    if recipient.unsubscribed_at is None:
        recipient.unsubscribed_at = utcnow()
        changed = True
    db.session.flush()
    if changed:
        announce(campaign)
    return changed
