"""The senders: jobs on the ``campaigns`` queue that claim a batch of recipients, send
it (email over a few SMTP connections at once, SMS through Twilio), record it and go
on, a slice of ``SLICE_SECONDS`` at a time; then they enqueue themselves again, so
that a worker takes the reply and mail jobs waiting on the queues before it between
two slices. ``recipients.py`` says why each recipient gets a campaign at most once;
``recipients.throttle`` keeps a channel's messages per second across all workers (Redis).
"""

from __future__ import annotations

import logging
import os
import smtplib
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from helpdesk import jobs, unit_of_work
from helpdesk.agents.models import Agent
from helpdesk.campaigns import content, recipients, services, sms
from helpdesk.campaigns.models import Campaign, CampaignRecipient
from helpdesk.campaigns.transport import smtp
from helpdesk.channels.email.adapter import smtp_send, smtp_session
from helpdesk.channels.email.mailboxes import server
from helpdesk.db import utcnow
from helpdesk.extensions import db

log = logging.getLogger(__name__)
SLICE_SECONDS = 5.0
CONNECTIONS = 20  # SMTP connections per sender: one mail in flight on each
MAX_ATTEMPTS = 3
SMTP_TIMEOUT = 30


def send_slice(campaign_id: int) -> None:
    """Send the campaign for one slice; enqueue the next slice (in-process: go on). In a
    worker the slice runs on the worker's bulk thread, at a lower CPU priority."""
    niceness = current_app.config["CAMPAIGN_NICE"]
    if niceness and current_app.config.get("REDIS_URL") and sys.platform == "linux":
        app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy

        def in_its_own_context() -> None:
            with app.app_context():
                _send_slice(campaign_id)

        _bulk_thread(niceness).submit(in_its_own_context).result()
    else:
        _send_slice(campaign_id)


_bulk: ThreadPoolExecutor | None = None


def _bulk_thread(niceness: int) -> ThreadPoolExecutor:
    """The worker's one thread for bulk sending, its nice value raised by ``niceness``
    (Linux keeps a nice value per thread): on a machine the web processes share, a
    campaign takes the CPU they leave, and the worker's other jobs keep their priority.
    A thread, not the worker, because nobody but root may lower a nice value again."""
    global _bulk
    if _bulk is None:
        _bulk = ThreadPoolExecutor(
            1,
            thread_name_prefix="campaign-sender",
            initializer=_lower_priority,
            initargs=(niceness,),
        )
    return _bulk


def _lower_priority(niceness: int) -> None:
    """Raise the calling thread's nice value (on Linux, the thread's alone)."""
    try:
        tid = threading.get_native_id()
        os.setpriority(
            os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness)
        )
    except OSError as exc:
        log.warning("campaign sender: the CPU priority stays as it is: %s", exc)


def _send_slice(campaign_id: int) -> None:
    """``send_slice``'s work, wherever it runs."""
    while True:
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is None or campaign.status != "sending":
            return
        if campaign.channel == "email":
            _email_slice(campaign)
        else:
            sms.slice_(campaign)
        db.session.rollback()
        if not _more(campaign_id):
            return
        if current_app.config.get("REDIS_URL"):
            jobs.submit(f"{__name__}:send_slice", campaign_id, queue_name=services.QUEUE)
            return


def _more(campaign_id: int) -> bool:
    """Whether there is more to send; when not, the campaign is finished (once)."""
    if recipients.pending_left(campaign_id):
        claimable = db.session.scalar(
            select(CampaignRecipient.id)
            .where(
                CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.state == "pending"
            )
            .limit(1)
        )
        db.session.rollback()
        return claimable is not None
    with unit_of_work.write_phase():
        finished = db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == "sending")
            .values(status="sent", finished_at=utcnow())
        )
        if finished.rowcount:  # type: ignore[attr-defined]
            campaign = db.session.get(Campaign, campaign_id)
            assert campaign is not None
            db.session.refresh(campaign)
            services.announce(campaign)
        unit_of_work.commit()
    return False


def _email_slice(campaign: Campaign) -> None:
    """Send email batches for ``SLICE_SECONDS``: ``CONNECTIONS`` mails at a time, each
    on its own connection, committed as sent before their final dots go."""
    mailbox = services.mailbox_of(campaign)
    if mailbox is None:
        log.error("campaign %s: no mailbox to send from", campaign.id)
        return
    outbound = server(mailbox, "smtp")
    name = (mailbox.settings or {}).get("from_name") or mailbox.name
    mail = content.Mails(
        campaign_id=campaign.id,
        sender=mailbox.address,
        sender_name=name,
        subject=campaign.subject,
        body=campaign.body,
    )
    db.session.rollback()
    pool: list[smtplib.SMTP | None] = [None] * CONNECTIONS
    with ExitStack() as stack:
        try:
            _email_batches(mail, outbound, stack, pool)
        except BaseException:
            for slot in range(CONNECTIONS):  # no QUIT into a DATA in flight
                smtp.drop(pool, slot)
            raise
    _announce(mail.campaign_id)


@dataclass
class _Outcome:
    """What a batch came to: staged (waiting for their dots), to fail, to retry."""

    staged: list[smtp.Staged] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)


def _email_batches(
    mail: content.Mails, outbound, stack: ExitStack, pool: list[smtplib.SMTP | None]
) -> None:
    """Batch after batch until the slice is over, one transaction a batch: it records the
    staged batch as sent (and what the last dots refused) and claims the next; right
    after it the staged batch's final dots go (pipelined with the next batch's MAIL, RCPT
    and DATA where the server offers PIPELINING); then the next batch is written up to
    its dots."""
    deadline = time.monotonic() + SLICE_SECONDS
    announced = time.monotonic()
    rate = current_app.config["CAMPAIGN_EMAIL_RATE"]
    size = CONNECTIONS if not rate else max(1, min(CONNECTIONS, int(rate)))  # a batch fits a second
    batch, who = recipients.claim(mail.campaign_id, size), {}
    if batch:
        who = recipients.people([r[1] for r in batch if r[1] is not None])
    db.session.rollback()
    done = _Outcome()
    while batch or done.staged:
        items = [smtp.Item(slot, *row) for slot, row in enumerate(batch)]
        refused = smtp.finish(done.staged, pool, items, mail.sender)  # nothing before it
        if batch:
            _connect(items, stack, pool, outbound)
            smtp.stage(items, pool, mail.sender)
            recipients.throttle("email", len(batch))  # (its rows claimed: a lease keeps them)
            _write(mail, items, who)
            smtp.send_text(items, pool)
        if time.monotonic() - announced >= 1.0:
            announced = time.monotonic()
            _announce(mail.campaign_id)
        outcome = _outcome(mail.campaign_id, items, pool)
        more = bool(batch) and time.monotonic() < deadline
        carried = _commit_batch(mail.campaign_id, outcome, refused, size if more else 0)
        if carried is None:  # cancelled: the staged mails are dropped
            for slot in range(CONNECTIONS):
                smtp.drop(pool, slot)
            return
        done = outcome
        batch, who = carried


def _connect(items: list[smtp.Item], stack: ExitStack, pool, outbound) -> None:
    """A connection for each item's slot that has none (a failure is the item's trouble)."""
    for item in items:
        try:
            if pool[item.slot] is None:
                pool[item.slot] = stack.enter_context(smtp_session(outbound, SMTP_TIMEOUT))
        except (smtplib.SMTPException, OSError) as exc:
            item.trouble = exc


def _write(mail: content.Mails, items: list[smtp.Item], who) -> None:
    """Each ready item's Message-ID and mail."""
    for item in items:
        if item.ready and item.trouble is None:
            customer_id = item.customer_id or 0
            person, language = who.get(customer_id, (content.Person("", ""), None))
            item.msgid, item.raw = mail.one(item.row_id, item.address, person, language)


def _outcome(campaign_id: int, items: list[smtp.Item], pool: list[smtplib.SMTP | None]) -> _Outcome:
    """Sort a staged batch: written up to the dot, refused for good, to try again."""
    outcome = _Outcome()
    for item in items:
        trouble = item.trouble
        if trouble is None:
            outcome.staged.append(smtp.Staged(item.row_id, pool[item.slot], item.msgid))  # type: ignore[arg-type]
        elif isinstance(trouble, smtplib.SMTPResponseException):
            pool[item.slot] = smtp.reset(pool[item.slot])
            if trouble.smtp_code >= 500 or item.attempts >= MAX_ATTEMPTS:
                outcome.failed.append({"id": item.row_id, "error": smtp.why(trouble)})
            else:
                outcome.retry.append(item.row_id)
        else:
            log.warning("campaign %s: SMTP trouble: %s", campaign_id, trouble)
            smtp.drop(pool, item.slot)
            if item.attempts >= MAX_ATTEMPTS:
                outcome.failed.append({"id": item.row_id, "error": f"SMTP: {trouble}"[:500]})
            else:
                outcome.retry.append(item.row_id)
    return outcome


def _commit_batch(campaign_id: int, outcome: _Outcome, refused: list[tuple[int, str]], size: int):
    """One transaction: the staged rows sent (with their Message-IDs), refused ones
    failed, the rest back to pending, and the next ``size`` recipients claimed (with
    what their placeholders say). ``(claimed, people)``; None (nothing sent) when the
    campaign was cancelled meanwhile."""
    with unit_of_work.write_phase():
        status = recipients.sending(campaign_id)  # a cancel waits for this commit
        recipients.mark_done(refused)
        if status != "sending":
            db.session.execute(
                update(CampaignRecipient)
                .where(
                    CampaignRecipient.id.in_([s.row_id for s in outcome.staged] + outcome.retry),
                    CampaignRecipient.state == "sending",
                )
                .values(state="cancelled")
            )
            recipients.mark(outcome.failed, "failed")
            db.session.commit()
            return None
        recipients.mark_sent([(s.row_id, s.msgid) for s in outcome.staged])
        recipients.mark(outcome.failed, "failed")
        recipients.release(outcome.retry)
        claimed, who = recipients.claim_with_people(campaign_id, size) if size else ([], {})
        db.session.commit()
    return claimed, who


def _announce(campaign_id: int) -> None:
    """Tell the agents who follow campaigns how far it is (one grouped count)."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is not None:
        services.announce(campaign)
        unit_of_work.commit()


def send_test(campaign_id: int, agent_id: int) -> None:
    """The test send: the campaign to the agent who asked, filled in with their name."""
    campaign = db.session.get(Campaign, campaign_id)
    agent = db.session.get(Agent, agent_id)
    if campaign is None or agent is None:
        return
    person = content.Person(agent.name or "", "")
    subject = content.fill(campaign.subject, person)
    text = content.fill(campaign.body, person)
    if campaign.channel == "sms":
        sms.send_one(agent.phone, text)
        return
    mailbox = services.mailbox_of(campaign)
    if mailbox is None:
        return
    raw = content.email(
        sender=mailbox.address,
        sender_name=(mailbox.settings or {}).get("from_name") or mailbox.name,
        to=agent.email,
        to_name=agent.name or "",
        subject=f"[TEST] {subject}",
        body=text,
        msgid=content.message_id(campaign_id, 0, mailbox.address).replace(".r0.", f".t{agent_id}."),
        link=content.unsubscribe_url(0),
        language=getattr(agent, "language", None),
        campaign_id=campaign_id,
    )
    smtp_send(mailbox, message_from_bytes(raw, policy=policy.SMTP), agent.email)
