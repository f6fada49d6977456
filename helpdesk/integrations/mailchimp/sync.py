"""Keeping a segment in sync with a MailChimp audience, and unsubscribes coming back.

``sync(link_id)`` (a job: on demand, and hourly for every link through ``sync_all``) walks
the segment's customers in id order, 500 at a time, and upserts each with an email
address and an ``email_marketing`` consent: granted is ``subscribed``, refused is
``unsubscribed`` (customers never asked are not sent: no consent, no marketing list).
MailChimp's answer (created, updated, its per-member errors) is kept on the link.
``unsubscribed(...)``, from MailChimp's webhook, revokes the consent with the source
``mailchimp`` (audited, and announced as ``customer.updated``).
"""

from __future__ import annotations

import logging
import secrets as random_secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from helpdesk import jobs, unit_of_work
from helpdesk.audit.services import record
from helpdesk.customers import consents, search
from helpdesk.customers import services as customers
from helpdesk.customers.models import Customer
from helpdesk.db import iso, utcnow
from helpdesk.errors import Conflict, NotFound
from helpdesk.extensions import db
from helpdesk.integrations.mailchimp import client
from helpdesk.integrations.mailchimp.models import MailchimpAudience
from helpdesk.segments import services as segments
from helpdesk.web.args import get_row

log = logging.getLogger(__name__)
PURPOSE = "email_marketing"
SOURCE = "mailchimp"
JOB = "helpdesk.integrations.mailchimp.sync:sync"


class _Admin:
    """Whom the sync reads the segment as: links are an admin's, and admins see every
    customer (``access.customer_filter``), whoever owns the segment."""

    own_accounts_only = False
    is_admin = True


def link(agent, segment_id: int, list_id: str) -> tuple[MailchimpAudience, str]:
    """Link a segment (one ``agent`` may read) to an audience; its webhook secret (shown
    once, in the webhook URL)."""
    segment = segments.get(segment_id, agent)
    exists = db.session.scalar(
        select(MailchimpAudience.id).where(
            MailchimpAudience.segment_id == segment.id, MailchimpAudience.list_id == list_id
        )
    )
    if exists is not None:
        raise Conflict("this segment is already linked to that audience")
    secret = random_secrets.token_urlsafe(24)
    row = MailchimpAudience(segment=segment, list_id=list_id, secrets={"webhook": secret})
    db.session.add(row)
    db.session.flush()
    record(
        "mailchimp.link",
        object_type="mailchimp_audience",
        object_id=row.id,
        after={"segment": segment.id, "list_id": list_id},
    )
    return row, secret


def get(link_id: int) -> MailchimpAudience:
    """One link, else NotFound."""
    row = get_row(MailchimpAudience, link_id)
    if row is None:
        raise NotFound("no such MailChimp audience link")
    return row


def unlink(row: MailchimpAudience) -> None:
    """Stop syncing (MailChimp's audience stays as it is)."""
    record(
        "mailchimp.unlink",
        object_type="mailchimp_audience",
        object_id=row.id,
        before={"segment": row.segment_id, "list_id": row.list_id},
    )
    db.session.delete(row)
    db.session.flush()


def request_sync(row: MailchimpAudience) -> None:
    """Sync after the commit (the ``default`` queue, or in-process without Redis)."""
    jobs.enqueue(JOB, row.id)


def member(customer: Customer) -> dict[str, Any] | None:
    """The customer as a MailChimp member, or None (no address or no consent either way)."""
    emails = customer.values("email")
    consent = consents.of(customer, PURPOSE)
    if not emails or consent is None:
        return None
    first, _, last = (customer.name or "").partition(" ")
    return {
        "email_address": emails[0],
        "status": "subscribed" if consent.granted else "unsubscribed",
        "merge_fields": {"FNAME": first, "LNAME": last},
    }


def sync(link_id: int) -> dict[str, Any] | None:
    """Upsert the segment's customers into the audience (see the module); the result."""
    row = db.session.get(MailchimpAudience, link_id)
    if row is None:
        return None
    list_id, wanted = row.list_id, segments.customer_filter(row.segment)
    result: dict[str, Any] = {
        "sent": 0,
        "created": 0,
        "updated": 0,
        "skipped": 0,
        "errors": [],
        "error": None,
    }
    try:
        for ids in search.id_batches(wanted, _Admin(), size=client.BATCH):
            found = db.session.scalars(
                select(Customer)
                .where(Customer.id.in_(ids))
                .options(selectinload(Customer.identities), selectinload(Customer.consents))
            ).all()
            members = [m for m in map(member, found) if m is not None]
            result["skipped"] += len(found) - len(members)
            if not members:
                continue
            answer = client.upsert_members(list_id, members)
            result["sent"] += len(members)
            result["created"] += int(answer.get("total_created", 0))
            result["updated"] += int(answer.get("total_updated", 0))
            result["errors"] += [
                {"email_address": e.get("email_address"), "error": e.get("error")}
                for e in answer.get("errors", [])
            ][: 20 - len(result["errors"])]
    except client.MailchimpError as exc:
        result["error"] = str(exc)
        log.warning("MailChimp sync of link %s stopped: %s", link_id, exc)
    with unit_of_work.write_phase():
        row = db.session.get(MailchimpAudience, link_id)
        if row is not None:
            row.last_synced_at, row.last_result = utcnow(), result
        unit_of_work.commit()
    return result


def sync_all() -> None:
    """The hourly job: a sync of every link, each its own job."""
    for link_id in db.session.scalars(select(MailchimpAudience.id).order_by(MailchimpAudience.id)):
        jobs.submit(JOB, link_id)


def unsubscribed(row: MailchimpAudience, list_id: str | None, email: str | None) -> bool:
    """MailChimp says ``email`` unsubscribed from the link's audience: revoke the consent
    (source ``mailchimp``); whether a customer's consent changed."""
    if not email or (list_id and list_id != row.list_id):
        return False
    customer = customers.find_by_identity("email", email)
    if customer is None or not consents.change(customer, PURPOSE, False, SOURCE):
        return False
    customers.announce(customer)
    return True


def link_json(row: MailchimpAudience) -> dict[str, Any]:
    """A link as listed (never its webhook secret)."""
    return {
        "id": row.id,
        "segment": {"id": row.segment.id, "name": row.segment.name},
        "list_id": row.list_id,
        "created_at": iso(row.created_at),
        "last_synced_at": iso(row.last_synced_at),
        "last_result": row.last_result,
    }
