"""Inbound mail over the limits (HELPDESK_MAIL_MAX_BYTES, HELPDESK_MAIL_MAX_PARTS) through
a real Dovecot: the size is asked before the mail is fetched, a mail too large is
fetched only as its head, a mail of too many parts is not parsed; both are kept raw and
flagged for an agent, and the mail after them is still stored."""

from __future__ import annotations

import pytest
from imapclient import SEEN
from sqlalchemy import func, select

from helpdesk.channels.email import imap as email_imap
from helpdesk.channels.email.inbound import HEAD_BYTES, Mailbox, part_count, receive
from helpdesk.channels.email.mailboxes import add_mailbox
from helpdesk.extensions import db
from helpdesk.tickets.models import Attachment, Message, MessageSource, Ticket
from tests.fixtures.email import DroppingProxy, deliver, make_mail

MAX_BYTES = 1_000_000
MAX_PARTS = 50


@pytest.fixture
def app_config() -> dict:
    """Small limits, so that a test mail is over them."""
    return {"MAIL_MAX_BYTES": MAX_BYTES, "MAIL_MAX_PARTS": MAX_PARTS}


def many_parts(count: int, subject: str) -> bytes:
    """A small mail of ``count`` attachments."""
    files = [(f"f{n}.txt", "text/plain", b"x") for n in range(count)]
    return make_mail(sender="parts@example.com", subject=subject, attachments=files)


def _message(subject: str) -> Message:
    """The one inbound message of that subject (the order bot may have answered it)."""
    query = select(Message).where(Message.subject == subject, Message.direction == "in")
    return db.session.execute(query).scalar_one()


def _raw(message: Message) -> bytes:
    """The bytes stored as the message's source."""
    return db.session.execute(
        select(MessageSource.raw).where(MessageSource.message_id == message.id)
    ).scalar_one()


def test_part_count_reads_boundary_lines_without_parsing():
    assert part_count(make_mail()) == 1
    assert part_count(many_parts(3, "three")) == 4  # the text and three files


@pytest.mark.slow
def test_oversized_mail_is_not_fetched_whole_and_the_next_mail_is_stored(app, imap, smtp_server):
    big = make_mail(
        sender="scanner@example.com",
        subject="the whole archive",
        attachments=[("archive.bin", "application/octet-stream", b"\x00\x01" * 1_500_000)],
    )
    assert len(big) > 3 * MAX_BYTES
    deliver(imap, big)
    deliver(imap, many_parts(MAX_PARTS + 10, "too many parts"))
    deliver(imap, make_mail(sender="ada@example.com", subject="after them"))
    # Everything Dovecot sends passes through the proxy, which cuts the connection
    # after 2 MB: fetching the 4 MB mail whole would end the poll with an error.
    proxy = DroppingProxy(imap.port, limit=2_000_000)
    try:
        url = imap.url().replace(f":{imap.port}/", f":{proxy.port}/")
        channel = add_mailbox(
            "Support", url, f"smtp://127.0.0.1:{smtp_server.port}", "support@example.com"
        )
        db.session.commit()
        result = email_imap.poll_mailbox(channel.id)
    finally:
        proxy.close()
    assert (result.error, result.fetched, result.stored, proxy.cuts) == (None, 3, 3, 0)

    large = _message("the whole archive")
    assert large.needs_review and "over the limit of 1000000" in large.review_reason
    size = int(large.review_reason.split("the mail is ")[1].split()[0])
    assert size >= len(big)  # the server's RFC822.SIZE (line ends counted as CRLF)
    assert db.session.get(Ticket, large.ticket_id).contact == "scanner@example.com"
    assert len(_raw(large)) == HEAD_BYTES
    assert big.startswith(_raw(large).replace(b"\r\n", b"\n")[:100_000])
    assert not large.attachments

    parts = _message("too many parts")
    assert parts.needs_review and "MIME parts, over the limit of 50" in parts.review_reason
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert _raw(parts).startswith(b"Content-Type") or b"too many parts" in _raw(parts)

    after = _message("after them")
    assert not after.needs_review and "Where is my order?" in after.body_text

    client = imap.client()
    client.select_folder("INBOX", readonly=True)
    flags = client.get_flags(client.search(["ALL"]))
    client.logout()
    assert len(flags) == 3 and all(SEEN in f for f in flags.values())
    assert email_imap.poll_mailbox(channel.id).fetched == 0  # not fetched again


def test_oversized_mail_given_whole_is_kept_as_its_head(app):
    channel = add_mailbox(
        "Support", "imap://u:p@127.0.0.1:1/INBOX", "smtp://127.0.0.1:1", "support@example.com"
    )
    db.session.commit()
    box = Mailbox.of(channel)
    big = make_mail(
        subject="large", attachments=[("a.bin", "application/octet-stream", b"a" * 2 * MAX_BYTES)]
    )
    first = receive(box, big)
    again = receive(box, big)
    message = db.session.get(Message, first.message_id)
    assert message.needs_review and len(_raw(message)) == HEAD_BYTES
    assert (again.outcome, again.message_id) == ("duplicate", first.message_id)
