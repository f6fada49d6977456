"""The periodic look after campaigns (every 30 seconds, ``workers/scheduler.py``):
scheduled ones that are due start; rows a dead sender left ``sending`` past the lease
are given back (email: the server never took them) or checked (SMS); a sending campaign
whose senders are all gone (no heartbeat within the lease) gets new ones."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select

from helpdesk import jobs, unit_of_work
from helpdesk.campaigns import content, recipients, services, sms
from helpdesk.campaigns.models import Campaign
from helpdesk.db import utcnow
from helpdesk.extensions import db

log = logging.getLogger(__name__)


def resume() -> None:
    """Start due campaigns, give back or check stale claims, replace dead senders."""
    now = utcnow()
    lease = timedelta(seconds=current_app.config["CAMPAIGN_LEASE_SECONDS"])
    with unit_of_work.write_phase():
        due = db.session.scalars(
            select(Campaign).where(
                or_(
                    (Campaign.status == "scheduled") & (Campaign.scheduled_at <= now),
                    (Campaign.status == "preparing") & (Campaign.updated_at < now - lease),
                )
            )
        ).all()
        for campaign in due:
            campaign.status = "preparing"
            campaign.updated_at = now
            jobs.enqueue(services.PREPARE_JOB, campaign.id, queue_name=services.QUEUE)
        unit_of_work.commit()
    sending = db.session.scalars(select(Campaign.id).where(Campaign.status == "sending")).all()
    for campaign_id in sending:
        _recover(campaign_id, now, lease)


def _recover(campaign_id: int, now, lease: timedelta) -> None:
    """One sending campaign: its stale rows, and senders if it has none left."""
    campaign = db.session.get(Campaign, campaign_id)
    assert campaign is not None
    stale = recipients.stale(campaign_id)
    outcomes: list[tuple[int, str, str | None]] = []
    for row in stale:
        if campaign.channel == "email":
            outcomes.append((row.id, "pending", None))  # the final dot was never written
            continue
        who = recipients.people([row.customer_id] if row.customer_id else [])
        person, language = who.get(row.customer_id or 0, (content.Person("", ""), None))
        outcomes.append((row.id, *sms.check(row, sms.text_for(campaign.body, person, language))))
    dead = campaign.heartbeat_at is None or campaign.heartbeat_at < now - lease
    db.session.rollback()
    with unit_of_work.write_phase():
        for row_id, state, detail in outcomes:
            if state == "pending":
                recipients.release([row_id])
            elif state == "sent":
                recipients.mark([{"id": row_id, "provider_id": detail}], "sent")
            else:
                recipients.mark([{"id": row_id, "error": detail}], "failed")
        if dead and (outcomes or recipients.pending_left(campaign_id)):
            campaign = db.session.get(Campaign, campaign_id)
            assert campaign is not None
            campaign.heartbeat_at = now
            log.warning("campaign %s: its senders are gone; starting new ones", campaign_id)
            for _ in range(max(1, current_app.config["CAMPAIGN_SENDERS"])):
                jobs.enqueue(
                    "helpdesk.campaigns.sending:send_slice", campaign_id, queue_name=services.QUEUE
                )
        unit_of_work.commit()
