"""Threading mail through a real Dovecot: by header, by subject token, and when the
customer's mail program stripped the headers; never onto someone else's ticket."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk.channels.email import imap as email_imap
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket
from tests.fixtures.email import deliver, make_mail

pytestmark = pytest.mark.slow  # Dovecot


def _tickets() -> list[Ticket]:
    """All tickets, oldest first."""
    db.session.rollback()
    return db.session.execute(select(Ticket).order_by(Ticket.id)).scalars().all()


def _first(imap, subject="Order 123 is late", sender="ada@example.com") -> Ticket:
    """Deliver and poll a customer's first mail; return its ticket."""
    deliver(
        imap,
        make_mail(
            sender=sender,
            subject=subject,
            message_id=f"<first.{sender.split('@')[0]}@mail.example.com>",
        ),
    )
    email_imap.poll()
    return _tickets()[-1]


def test_reply_by_references_to_a_stored_message(mailbox, imap):
    ticket = _first(imap)
    deliver(
        imap,
        make_mail(
            subject="totally different subject",
            headers={"References": "<unknown@elsewhere.example> <first.ada@mail.example.com>"},
        ),
    )
    email_imap.poll()
    assert len(_tickets()) == 1 and _tickets()[0].message_count == 2
    assert ticket.id == _tickets()[0].id


def test_reply_by_subject_token(mailbox, imap):
    ticket = _first(imap)
    deliver(imap, make_mail(subject=f"Something else [#{ticket.number}]"))
    email_imap.poll()
    assert [t.message_count for t in _tickets()] == [2]


def test_token_of_someone_elses_ticket_does_not_thread(mailbox, imap):
    ticket = _first(imap)
    deliver(imap, make_mail(sender="mallory@example.net", subject=f"Hi [#{ticket.number}]"))
    email_imap.poll()
    tickets = _tickets()
    assert len(tickets) == 2 and tickets[0].message_count == 1
    assert tickets[1].contact == "mallory@example.net"


def test_reply_whose_headers_were_stripped_continues_by_subject(mailbox, imap):
    _first(imap)
    # No In-Reply-To, no References, no token: an old webmail's plain "Re:".
    deliver(imap, make_mail(subject="RE: Order 123 is late", text="Any news?"))
    deliver(imap, make_mail(subject="A new question", text="Do you ship to Norway?"))
    email_imap.poll()
    tickets = _tickets()
    assert [t.message_count for t in tickets] == [2, 1]
    assert tickets[1].subject == "A new question"


def test_forged_reference_to_our_reply_needs_the_real_message_id(mailbox, imap, api):
    ticket = _first(imap)
    reply = api.post(f"/api/v1/tickets/{ticket.id}/messages", json={"body": "On its way"})
    assert reply.status_code == 201
    sent = db.session.get(Message, reply.get_json()["id"]).external_id
    guessed = sent.replace(sent.split(".")[2], "0" * 20)  # same shape, wrong HMAC
    deliver(
        imap,
        make_mail(sender="mallory@example.net", subject="hello", headers={"In-Reply-To": guessed}),
    )
    deliver(imap, make_mail(subject="Thanks", headers={"In-Reply-To": sent}))
    email_imap.poll()
    tickets = _tickets()
    assert len(tickets) == 2 and tickets[0].message_count == 3
    assert tickets[1].contact == "mallory@example.net"
