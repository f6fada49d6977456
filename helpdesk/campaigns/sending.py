"""The senders: jobs on the ``campaigns`` queue that claim a batch of recipients, send
it (email over a few SMTP connections at once, SMS through Twilio), record it and go
on, a slice of ``SLICE_SECONDS`` at a time; then they enqueue themselves again, so
that a worker takes the reply and mail jobs waiting on the queues before it between
two slices. ``recipients.py`` says why each recipient gets a campaign at most once;
``recipients.throttle`` keeps a channel's messages per second across all workers (Redis).
"""

from __future__ import annotations

import logging
import re
import smtplib
import time
from contextlib import ExitStack
from dataclasses import dataclass
from email import message_from_bytes, policy
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from helpdesk import jobs, unit_of_work
from helpdesk.agents.models import Agent
from helpdesk.campaigns import content, recipients, services, sms
from helpdesk.campaigns.models import Campaign, CampaignRecipient
from helpdesk.channels.email.adapter import smtp_send, smtp_session
from helpdesk.channels.email.mailboxes import server
from helpdesk.db import utcnow
from helpdesk.extensions import db

log = logging.getLogger(__name__)
SLICE_SECONDS = 5.0
CONNECTIONS = 20  # SMTP connections per sender: one mail in flight on each
MAX_ATTEMPTS = 3
SMTP_TIMEOUT = 30
_LEADING_DOT = re.compile(rb"(?m)^\.")


def send_slice(campaign_id: int) -> None:
    """Send the campaign for one slice; enqueue the next slice (in-process: go on)."""
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


class _Staged:
    """One mail written to its connection up to the final dot."""

    def __init__(self, row_id: int, connection: smtplib.SMTP, msgid: str) -> None:
        self.row_id, self.connection, self.msgid = row_id, connection, msgid


@dataclass
class _Mail:
    """What every mail of one campaign shares."""

    campaign_id: int
    sender: str
    sender_name: str
    subject: str | None
    body: str

    def bytes_for(self, row_id: int, address: str, person, language) -> tuple[str, bytes]:
        """One recipient's Message-ID and mail."""
        msgid = content.message_id(self.campaign_id, row_id, self.sender)
        raw = content.email(
            sender=self.sender,
            sender_name=self.sender_name,
            to=address,
            to_name=person.name,
            subject=content.fill(self.subject, person),
            body=content.fill(self.body, person),
            msgid=msgid,
            link=content.unsubscribe_url(row_id),
            language=language,
            campaign_id=self.campaign_id,
        )
        return msgid, raw


def _email_slice(campaign: Campaign) -> None:
    """Send email batches for ``SLICE_SECONDS``: ``CONNECTIONS`` mails at a time, each
    on its own connection, committed as sent before their final dots go."""
    mailbox = services.mailbox_of(campaign)
    if mailbox is None:
        log.error("campaign %s: no mailbox to send from", campaign.id)
        return
    smtp = server(mailbox, "smtp")
    name = (mailbox.settings or {}).get("from_name") or mailbox.name
    mail = _Mail(campaign.id, mailbox.address, name, campaign.subject, campaign.body)
    db.session.rollback()
    pool: list[smtplib.SMTP | None] = [None] * CONNECTIONS
    with ExitStack() as stack:
        try:
            _email_batches(mail, smtp, stack, pool)
        except BaseException:
            for slot in range(CONNECTIONS):  # no QUIT into a DATA in flight
                _drop(pool, slot)
            raise
    _announce(mail.campaign_id)


def _email_batches(mail: _Mail, smtp, stack: ExitStack, pool: list[smtplib.SMTP | None]) -> None:
    """Claim, stage, commit, finish: batch after batch until the slice is over."""
    deadline = time.monotonic() + SLICE_SECONDS
    announced = time.monotonic()
    rate = current_app.config["CAMPAIGN_EMAIL_RATE"]
    size = CONNECTIONS if not rate else max(1, min(CONNECTIONS, int(rate)))  # a batch fits a second
    while time.monotonic() < deadline:
        batch = recipients.claim(mail.campaign_id, size)
        if not batch:
            return
        recipients.throttle("email", len(batch))  # (its rows claimed: a lease keeps them)
        who = recipients.people([r[1] for r in batch if r[1] is not None])
        staged: list[_Staged] = []
        failed: list[dict[str, Any]] = []
        retry: list[int] = []
        items: list[_Item] = []
        for slot, (row_id, customer_id, address, attempts) in enumerate(batch):
            person, language = who.get(customer_id or 0, (content.Person("", ""), None))
            msgid, raw = mail.bytes_for(row_id, address, person, language)
            item = _Item(slot, row_id, address, attempts, msgid, raw)
            try:
                if pool[slot] is None:
                    pool[slot] = stack.enter_context(smtp_session(smtp, SMTP_TIMEOUT))
            except (smtplib.SMTPException, OSError) as exc:
                item.trouble = exc
            items.append(item)
        _stage(items, pool, mail.sender)
        for item in items:
            trouble = item.trouble
            if trouble is None:
                staged.append(_Staged(item.row_id, pool[item.slot], item.msgid))  # type: ignore[arg-type]
            elif isinstance(trouble, smtplib.SMTPResponseException):
                pool[item.slot] = _reset(pool[item.slot])
                if trouble.smtp_code >= 500 or item.attempts >= MAX_ATTEMPTS:
                    failed.append({"id": item.row_id, "error": _why(trouble)})
                else:
                    retry.append(item.row_id)
            else:
                log.warning("campaign %s: SMTP trouble: %s", mail.campaign_id, trouble)
                _drop(pool, item.slot)
                if item.attempts >= MAX_ATTEMPTS:
                    failed.append({"id": item.row_id, "error": f"SMTP: {trouble}"[:500]})
                else:
                    retry.append(item.row_id)
        if not _commit_batch(mail.campaign_id, staged, failed, retry):
            for slot in range(CONNECTIONS):  # cancelled: the staged mails are dropped
                _drop(pool, slot)
            return
        refused = _finish(staged, pool)
        if refused:
            with unit_of_work.write_phase():
                for row_id, error in refused:
                    db.session.execute(
                        update(CampaignRecipient)
                        .where(CampaignRecipient.id == row_id)
                        .values(state="failed", error=error)
                    )
                db.session.commit()
        if time.monotonic() - announced >= 1.0:
            announced = time.monotonic()
            _announce(mail.campaign_id)


@dataclass
class _Item:
    """One recipient's mail in a batch, and what went wrong with it, if anything."""

    slot: int
    row_id: int
    address: str
    attempts: int
    msgid: str
    raw: bytes
    trouble: Exception | None = None


def _stage(items: list[_Item], pool: list[smtplib.SMTP | None], sender: str) -> None:
    """MAIL, RCPT, DATA and each mail without its final dot, on every connection in
    lockstep: each command goes out on all of them before the answers are read, so a
    batch waits for four round trips, not four per mail (smtplib's ``data`` in two)."""
    steps = (
        ("mail", lambda item: f"FROM:<{sender}>", (250,)),
        ("rcpt", lambda item: f"TO:<{item.address}>", (250, 251)),
        ("data", lambda item: "", (354,)),
    )
    for command, argument, wanted in steps:
        for item in items:
            if item.trouble is None:
                try:
                    pool[item.slot].putcmd(command, argument(item))  # type: ignore[union-attr]
                except (smtplib.SMTPException, OSError) as exc:
                    item.trouble = exc
        for item in items:
            if item.trouble is None:
                try:
                    code, answer = pool[item.slot].getreply()  # type: ignore[union-attr]
                except (smtplib.SMTPException, OSError) as exc:
                    item.trouble = exc
                    continue
                if code not in wanted:
                    item.trouble = smtplib.SMTPResponseException(code, answer)
    for item in items:
        if item.trouble is None:
            data = _LEADING_DOT.sub(b"..", item.raw)
            if not data.endswith(b"\r\n"):
                data += b"\r\n"
            try:
                pool[item.slot].send(data)  # type: ignore[union-attr]
            except (smtplib.SMTPException, OSError) as exc:
                item.trouble = exc


def _drop(pool: list[smtplib.SMTP | None], slot: int) -> None:
    """Close a connection at once, without QUIT (inside DATA the server would take QUIT
    for text and wait): a mail it was carrying is discarded by the server."""
    connection, pool[slot] = pool[slot], None
    if connection is not None:
        connection.close()


def _reset(connection: smtplib.SMTP | None) -> smtplib.SMTP | None:
    """After a refusal the connection is kept for the next mail (RSET), else dropped."""
    if connection is None:
        return None
    try:
        connection.rset()
        return connection
    except (smtplib.SMTPException, OSError):
        return None


def _why(exc: smtplib.SMTPResponseException) -> str:
    """An SMTP refusal as the recipient's error."""
    text = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"{exc.smtp_code} {text}"[:500]


def _commit_batch(
    campaign_id: int, staged: list[_Staged], failed: list[dict[str, Any]], retry: list[int]
) -> bool:
    """Record the batch: staged rows sent (with their Message-IDs), refused ones failed,
    the rest back to pending; False (and nothing sent) when the campaign was cancelled
    meanwhile."""
    with unit_of_work.write_phase():
        status_query = select(Campaign.status).where(Campaign.id == campaign_id)
        if db.engine.dialect.name == "postgresql":  # a cancel waits for this commit
            status_query = status_query.with_for_update()
        status = db.session.scalar(status_query)
        if status != "sending":
            db.session.execute(
                update(CampaignRecipient)
                .where(
                    CampaignRecipient.id.in_([s.row_id for s in staged] + retry),
                    CampaignRecipient.state == "sending",
                )
                .values(state="cancelled")
            )
            recipients.mark(failed, "failed")
            db.session.commit()
            return False
        recipients.mark([{"id": s.row_id, "provider_id": s.msgid} for s in staged], "sent")
        recipients.mark(failed, "failed")
        recipients.release(retry)
        db.session.commit()
    return True


def _finish(staged: list[_Staged], pool: list[smtplib.SMTP | None]) -> list[tuple[int, str]]:
    """Write each staged mail's final dot and read the answer; the refused ones."""
    refused = []
    for item in staged:
        try:
            item.connection.send(b".\r\n")
        except OSError:
            pass  # recorded as sent already: at most once
    for item in staged:
        try:
            code, answer = item.connection.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            code, answer = 0, str(exc).encode()
        if code != 250:
            if code >= 500:
                refused.append((item.row_id, f"{code} {answer.decode('utf-8', 'replace')}"[:500]))
            if code == 0:
                pool[pool.index(item.connection)] = None
    return refused


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
