"""A campaign's recipients: made in bulk from its segment when it starts (consent and
address decided then), claimed in batches by the senders, and given back when a sender
died.

The rule that makes each recipient get a campaign at most once, even when a worker dies
mid-send or two run at once:

- a row is claimed atomically (``pending`` -> ``sending``): one ``UPDATE ... WHERE
  state = 'pending' ... RETURNING``, over ``SELECT ... FOR UPDATE SKIP LOCKED`` on
  PostgreSQL (two senders take disjoint batches without waiting on each other), under
  SQLite's write lock (taken up front) on SQLite; the claim is committed before any
  byte goes out;
- email: the mail is written to the SMTP server up to, not including, the final ``.``;
  then the batch is committed as ``sent`` (with its Message-ID); only then is the ``.``
  written, which is what makes the server take the mail. A worker that dies before that
  commit leaves ``sending`` rows whose mails the server never accepted (a connection
  dropped inside DATA delivers nothing), so they go back to ``pending`` (``reclaim``);
  one that dies after it leaves ``sent`` rows, never sent again. The one loss possible:
  dying between the commit and the ``.`` (microseconds): that mail counts as sent;
- SMS: Twilio takes a message in one request, so there is no such point; a ``sending``
  row a dead worker left is looked up in Twilio's message list (to, from, since its
  claim, same text): found, it becomes ``sent`` with that MessageSid; not found, it is
  sent again; when Twilio cannot be asked, it is ``failed`` ("unknown whether sent"),
  never sent blindly.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import CursorResult, bindparam, func, insert, select, text, update

from helpdesk import jobs, unit_of_work
from helpdesk.agents.models import Agent
from helpdesk.campaigns import content, services
from helpdesk.campaigns.models import BouncedAddress, Campaign, CampaignRecipient
from helpdesk.customers import search
from helpdesk.customers.models import Consent, Customer, Identity, Organization
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.segments import services as segments

log = logging.getLogger(__name__)
SEND_JOB = "helpdesk.campaigns.sending:send_slice"
BATCH = 1000
PURPOSE = {"email": "email_marketing", "sms": "sms_marketing"}
KIND = {"email": "email", "sms": "phone"}


def prepare(campaign_id: int) -> None:
    """The job that makes a starting campaign's recipient rows, 1,000 customers a
    transaction (a restart carries on after the last customer written), then starts the
    senders."""
    with unit_of_work.writing(False):
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is None or campaign.status != "preparing":
            return
        agent = db.session.get(Agent, campaign.sent_by_id) if campaign.sent_by_id else None
        segment = campaign.segment
        channel = campaign.channel
        done = db.session.scalar(
            select(func.max(CampaignRecipient.customer_id)).where(
                CampaignRecipient.campaign_id == campaign_id
            )
        )
        if agent is None or segment is None:
            batches: Any = []
        else:
            wanted = segments.customer_filter(segment)
            batches = search.id_batches(wanted, agent, size=BATCH)
        ids_seen = 0
        for ids in batches:
            ids = [i for i in ids if done is None or i > done]
            if not ids:
                continue
            rows = _rows(campaign_id, channel, ids)
            db.session.rollback()  # end the reading transaction: write under the lock
            with unit_of_work.write_phase():
                db.session.execute(insert(CampaignRecipient), rows)
                db.session.commit()
            ids_seen += len(ids)
    with unit_of_work.write_phase():
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is None or campaign.status != "preparing":
            return
        campaign.status, campaign.started_at = "sending", utcnow()
        campaign.heartbeat_at = utcnow()
        services.announce(campaign)
        for _ in range(max(1, current_app.config["CAMPAIGN_SENDERS"])):
            jobs.enqueue(SEND_JOB, campaign_id, queue_name=services.QUEUE)
        unit_of_work.commit()
    log.info("campaign %s: %s customers added", campaign_id, ids_seen)


def _rows(campaign_id: int, channel: str, ids: list[int]) -> list[dict[str, Any]]:
    """The recipient rows of these customers: address, and the state their consent and
    address say (three queries, whatever the number)."""
    addresses: dict[int, str] = {}
    for customer_id, value in db.session.execute(
        select(Identity.customer_id, Identity.value)
        .where(Identity.customer_id.in_(ids), Identity.kind == KIND[channel])
        .order_by(Identity.id)
    ):
        addresses.setdefault(customer_id, value)
    consenting = set(
        db.session.scalars(
            select(Consent.customer_id).where(
                Consent.customer_id.in_(ids),
                Consent.purpose == PURPOSE[channel],
                Consent.granted.is_(True),
            )
        )
    )
    bounced = set(
        db.session.scalars(
            select(BouncedAddress.address).where(
                BouncedAddress.address.in_(list(addresses.values()))
            )
        )
    )
    rows = []
    for customer_id in ids:
        address = addresses.get(customer_id)
        state, error = "pending", None
        if customer_id not in consenting:
            state = "skipped"
        elif address is None:
            state = "no_address"
        elif address in bounced:
            state, error = "failed", "an earlier campaign mail to this address bounced"
        rows.append(
            {
                "campaign_id": campaign_id,
                "customer_id": customer_id,
                "address": address,
                "state": state,
                "attempts": 0,
                "error": error,
            }
        )
    return rows


def claim(campaign_id: int, size: int) -> list[tuple[int, int | None, str, int]]:
    """Take up to ``size`` pending recipients for this sender and commit the claim:
    ``[(id, customer_id, address, attempts)]``; none when the campaign is no longer sending."""
    with unit_of_work.write_phase():
        if sending(campaign_id) != "sending":
            db.session.rollback()
            return []
        claimed = claim_in(campaign_id, size)
        db.session.commit()
    return claimed


def sending(campaign_id: int) -> str | None:
    """The campaign's status, its heartbeat written (one statement): the row stays
    locked until the caller's commit, so a cancel waits for a batch being recorded."""
    return db.session.scalar(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(heartbeat_at=utcnow())
        .returning(Campaign.status)
    )


def _claiming(campaign_id: int, size: int):
    """The UPDATE that claims up to ``size`` pending rows, RETURNING them."""
    chosen = (
        select(CampaignRecipient.id)
        .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.state == "pending")
        .order_by(CampaignRecipient.id)
        .limit(size)
    )
    if db.engine.dialect.name == "postgresql":
        # Evaluated once (a subquery with SKIP LOCKED may be rescanned by a nested
        # loop and pick other rows each time, beyond the limit): a materialised CTE.
        picked = chosen.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        wanted = CampaignRecipient.id.in_(select(picked.c.id))
    else:  # SQLite: one writer at a time (the lock taken up front)
        wanted = CampaignRecipient.id.in_(chosen.scalar_subquery())
    return (
        update(CampaignRecipient)
        .where(wanted, CampaignRecipient.state == "pending")
        .values(state="sending", claimed_at=utcnow(), attempts=CampaignRecipient.attempts + 1)
        .returning(
            CampaignRecipient.id,
            CampaignRecipient.customer_id,
            CampaignRecipient.address,
            CampaignRecipient.attempts,
        )
    )


def claim_in(campaign_id: int, size: int) -> list[tuple[int, int | None, str, int]]:
    """``claim`` inside the caller's writing transaction (which checked the campaign is
    ``sending`` and commits the claim before any byte of these mails goes out)."""
    claimed = db.session.execute(
        _claiming(campaign_id, size).execution_options(synchronize_session=False)
    ).all()
    # Rows are made pending only with an address (no address: ``no_address``).
    return sorted((r[0], r[1], r[2] or "", r[3]) for r in claimed)


def claim_with_people(
    campaign_id: int, size: int
) -> tuple[list[tuple[int, int | None, str, int]], dict[int, tuple[content.Person, str | None]]]:
    """``claim_in`` and ``people`` of the rows claimed: on PostgreSQL one statement
    (the UPDATE in a CTE, joined to the customers), on SQLite two."""
    if db.engine.dialect.name != "postgresql":
        claimed = claim_in(campaign_id, size)
        return claimed, people([r[1] for r in claimed if r[1] is not None])
    rows = _claiming(campaign_id, size).cte("claimed")
    found = db.session.execute(
        select(*rows.c, Customer.name, Organization.name, Customer.language)
        .select_from(rows)
        .outerjoin(Customer, Customer.id == rows.c.customer_id)
        .outerjoin(Organization, Organization.id == Customer.organization_id)
    ).all()
    claimed = sorted((r[0], r[1], r[2] or "", r[3]) for r in found)
    who = {r[1]: (content.Person(r[4] or "", r[5] or ""), r[6]) for r in found if r[1] is not None}
    return claimed, who


def mark_sent(values: list[tuple[int, str]]) -> None:
    """Claimed rows handed over: ``sent`` with their Message-IDs ``(id, msgid)``; on
    PostgreSQL one statement over two arrays, elsewhere ``mark``'s executemany."""
    if not values:
        return
    if db.engine.dialect.name != "postgresql":
        mark([{"id": row_id, "provider_id": msgid} for row_id, msgid in values], "sent")
        return
    db.session.execute(
        text(
            "UPDATE campaign_recipients AS r SET state = 'sent', provider_id = v.msgid,"
            " error = NULL, sent_at = :now"
            " FROM unnest(CAST(:ids AS integer[]), CAST(:msgids AS varchar[])) AS v(id, msgid)"
            " WHERE r.id = v.id AND r.state = 'sending'"
        ),
        {"now": utcnow(), "ids": [v[0] for v in values], "msgids": [v[1] for v in values]},
    )


def mark(values: list[dict[str, Any]], state: str) -> None:
    """Set ``state`` (and each row's ``provider_id``/``error``) on claimed rows, in one
    executemany; only rows still ``sending`` change. Flushes; the caller commits."""
    if not values:
        return
    now = utcnow()
    table = CampaignRecipient.__table__
    db.session.execute(
        update(table)  # type: ignore[arg-type]  # a Table, which mypy sees as a FromClause
        .where(table.c.id == _bind("rid"), table.c.state == "sending")
        .values(
            state=state,
            provider_id=_bind("provider_id"),
            error=_bind("error"),
            sent_at=now if state == "sent" else None,
        ),
        [
            {"rid": v["id"], "provider_id": v.get("provider_id"), "error": v.get("error")}
            for v in values
        ],
    )


def mark_done(refused: list[tuple[int, str]]) -> None:
    """Mails recorded as sent whose final dot the server refused: ``failed``, with its
    answer. Flushes; the caller commits."""
    if not refused:
        return
    table = CampaignRecipient.__table__
    db.session.execute(
        update(table)  # type: ignore[arg-type]  # a Table, which mypy sees as a FromClause
        .where(table.c.id == _bind("rid"))
        .values(state="failed", error=_bind("error")),
        [{"rid": row_id, "error": error} for row_id, error in refused],
    )


def _bind(name: str):
    """A named bound parameter for an executemany UPDATE."""
    return bindparam(name)


def release(ids: list[int], error: str | None = None) -> None:
    """Give claimed rows back (a transient failure; a cancel): ``pending`` again."""
    if not ids:
        return
    db.session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.id.in_(ids), CampaignRecipient.state == "sending")
        .values(state="pending", claimed_at=None, error=error)
    )


def stale(campaign_id: int) -> list[CampaignRecipient]:
    """Rows claimed longer ago than the lease: their sender died (or hangs)."""
    lease = timedelta(seconds=current_app.config["CAMPAIGN_LEASE_SECONDS"])
    return list(
        db.session.scalars(
            select(CampaignRecipient).where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.state == "sending",
                CampaignRecipient.claimed_at < utcnow() - lease,
            )
        )
    )


def pending_left(campaign_id: int) -> bool:
    """Whether any recipient is still to send or being sent."""
    return (
        db.session.scalar(
            select(CampaignRecipient.id)
            .where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.state.in_(("pending", "sending")),
            )
            .limit(1)
        )
        is not None
    )


def cancel_pending(campaign_id: int) -> int:
    """A cancelled campaign's rows that never went out become ``cancelled``."""
    result: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
        update(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.state == "pending")
        .values(state="cancelled")
    )
    return result.rowcount or 0


def people(ids: list[int]) -> dict[int, tuple[content.Person, str | None]]:
    """What the placeholders say for a batch's customers, and their languages: one query."""
    if not ids:
        return {}
    rows = db.session.execute(
        select(Customer.id, Customer.name, Organization.name, Customer.language)
        .outerjoin(Organization, Organization.id == Customer.organization_id)
        .where(Customer.id.in_(ids))
    )
    return {
        cid: (content.Person(name or "", org or ""), language) for cid, name, org, language in rows
    }


def throttle(channel: str, wanted: int) -> None:
    """Wait until ``wanted`` more messages fit the channel's rate (messages per second,
    ``CAMPAIGN_<CHANNEL>_RATE``; 0: no limit), counted in Redis for all workers."""
    rate = current_app.config[f"CAMPAIGN_{channel.upper()}_RATE"]
    if not rate:
        return
    connection = jobs.redis_connection()
    if connection is None:  # one process: pace it here
        time.sleep(wanted / rate)
        return
    while True:
        second = int(time.time())
        key = f"helpdesk:campaign-rate:{channel}:{second}"
        used = connection.incrby(key, wanted)
        connection.expire(key, 5)
        if used <= rate or used == wanted:  # a batch larger than the rate still goes
            return
        connection.decrby(key, wanted)
        time.sleep(max(0.01, second + 1 - time.time()))
