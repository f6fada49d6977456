"""The one ingest pipeline: matching, threading, dedup, storing, and nothing lost."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from helpdesk.channels.inbound import InboundAttachment, InboundMessage
from helpdesk.customers.models import Customer, Identity, Organization, OrganizationDomain
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.tickets import attachments
from helpdesk.tickets.ingest import ingest
from helpdesk.tickets.models import Message, MessageSource, Ticket, TicketEvent


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_unknown_sender_gets_customer_identity_and_new_ticket(inbound):
    result = inbound(
        "email",
        "Ada@Example.COM",
        "My parcel is late",
        subject="Late parcel",
        sender_name="Ada Lovelace",
        external_id="<m1@example.com>",
    )
    assert result.created_customer and result.created_ticket and not result.duplicate
    customer = db.session.get(Customer, result.customer.id)
    assert customer.name == "Ada Lovelace"
    assert [(i.kind, i.value) for i in customer.identities] == [("email", "ada@example.com")]
    ticket = db.session.get(Ticket, result.ticket.id)
    assert (ticket.status, ticket.channel, ticket.subject, ticket.contact) == (
        "new",
        "email",
        "Late parcel",
        "ada@example.com",
    )
    assert ticket.message_count == 1
    assert customer.last_contact_at is not None
    assert (
        db.session.scalar(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id))
        == "created"
    )


def test_phone_written_any_way_matches_the_same_customer(inbound, make_customer):
    customer = make_customer("Bob", phones=["+49 30 1234567"])
    for written in ("0049 30 1234567", "+49 (30) 123-4567", "030 1234567"):
        result = inbound("sms", written, "hi")
        assert result.customer.id == customer.id
        assert not result.created_customer
    assert count(Customer) == 1
    assert count(Ticket) == 1  # one open SMS conversation


def test_same_external_id_twice_is_stored_once(inbound):
    first = inbound("sms", "+4915112345678", "hello", external_id="SM123")
    again = inbound("sms", "+4915112345678", "hello", external_id="SM123")
    assert again.duplicate and again.message.id == first.message.id
    assert count(Message) == 1
    assert db.session.get(Ticket, first.ticket.id).message_count == 1


def test_same_external_id_on_another_channel_is_another_message(inbound):
    inbound("sms", "+4915112345678", "hello", external_id="X1")
    inbound("chat", "visitor-1", "hello", external_id="X1")
    assert count(Message) == 2


def test_concurrent_ingest_of_one_message_stores_it_once(app, make_app):
    """Two workers ingesting the same retry at once: one message, one customer."""
    barrier = threading.Barrier(2)
    errors = []

    def work():
        with app.app_context():
            try:
                barrier.wait()
                ingest(
                    InboundMessage(
                        channel="sms",
                        sender_kind="phone",
                        sender="+4917611122233",
                        text="race",
                        external_id="SM-race",
                    )
                )
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert count(Message) == 1
    assert count(Customer) == 1
    assert count(Identity) == 1


def test_reply_threads_by_reference_to_a_stored_message(inbound):
    first = inbound(
        "email", "ada@example.com", "first", subject="Invoice", external_id="<a@example.com>"
    )
    reply = inbound(
        "email",
        "ada@example.com",
        "second",
        subject="Something else entirely",
        external_id="<b@example.com>",
        references=["<zzz@x>", "<a@example.com>"],
    )
    assert reply.ticket.id == first.ticket.id and not reply.created_ticket


def test_reference_from_another_sender_still_threads(inbound):
    """A colleague answering in the thread (Cc) lands on the same ticket."""
    first = inbound(
        "email", "ada@example.com", "first", subject="Invoice", external_id="<a@example.com>"
    )
    other = inbound(
        "email",
        "grace@example.com",
        "me too",
        subject="Re: Invoice",
        external_id="<c@example.com>",
        references=["<a@example.com>"],
    )
    assert other.ticket.id == first.ticket.id
    assert other.customer.id != first.customer.id


def test_subject_token_threads_only_onto_the_senders_own_ticket(inbound):
    ada = inbound("email", "ada@example.com", "first", subject="Invoice", external_id="<1@x>")
    token = f"Re: [#{ada.ticket.number}] Invoice"
    again = inbound(
        "email",
        "ada@example.com",
        "more",
        subject=token,
        external_id="<2@x>",
        ticket_number=ada.ticket.number,
    )
    assert again.ticket.id == ada.ticket.id
    stranger = inbound(
        "email",
        "mallory@example.net",
        "let me in",
        subject=token,
        external_id="<3@x>",
        ticket_number=ada.ticket.number,
    )
    assert stranger.ticket.id != ada.ticket.id and stranger.created_ticket


def test_email_without_references_threads_only_on_matching_subject(inbound):
    first = inbound("email", "ada@example.com", "a", subject="Broken mug", external_id="<1@x>")
    stripped = inbound(
        "email", "ada@example.com", "b", subject="AW: Re: Broken mug", external_id="<2@x>"
    )
    assert stripped.ticket.id == first.ticket.id
    new_topic = inbound(
        "email", "ada@example.com", "c", subject="Password reset", external_id="<3@x>"
    )
    assert new_topic.created_ticket


def test_sms_continues_open_conversation_within_window_only(app, inbound):
    first = inbound("sms", "+4915112345678", "one")
    assert inbound("sms", "+4915112345678", "two").ticket.id == first.ticket.id
    ticket = db.session.get(Ticket, first.ticket.id)
    ticket.last_message_at = utcnow() - timedelta(hours=app.config["THREAD_WINDOW_HOURS"] + 1)
    db.session.commit()
    assert inbound("sms", "+4915112345678", "three").created_ticket


def test_customer_reply_reopens_solved_ticket_but_auto_reply_does_not(inbound):
    first = inbound("email", "ada@example.com", "help", subject="Help", external_id="<1@x>")
    ticket = db.session.get(Ticket, first.ticket.id)
    ticket.status, ticket.solved_at = "solved", utcnow()
    db.session.commit()
    inbound(
        "email",
        "ada@example.com",
        "Out of office",
        subject="Re: Help",
        is_auto=True,
        external_id="<2@x>",
        references=["<1@x>"],
    )
    assert db.session.get(Ticket, first.ticket.id).status == "solved"
    inbound(
        "email",
        "ada@example.com",
        "still broken",
        subject="Re: Help",
        external_id="<3@x>",
        references=["<1@x>"],
    )
    ticket = db.session.get(Ticket, first.ticket.id)
    assert ticket.status == "open" and ticket.solved_at is None
    kinds = db.session.scalars(
        select(TicketEvent.data).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "status"
        )
    ).all()
    assert kinds == [{"from": "solved", "to": "open", "why": "customer replied"}]


def test_closed_ticket_is_never_reopened(inbound):
    first = inbound("email", "ada@example.com", "help", subject="Help", external_id="<1@x>")
    db.session.get(Ticket, first.ticket.id).status = "closed"
    db.session.commit()
    again = inbound(
        "email",
        "ada@example.com",
        "again",
        subject="Re: Help",
        external_id="<2@x>",
        references=["<1@x>"],
        ticket_number=first.ticket.number,
    )
    assert again.created_ticket
    assert db.session.get(Ticket, first.ticket.id).status == "closed"


def test_unidentifiable_sender_is_kept_and_flagged_for_a_person(inbound):
    result = inbound("voice", "anonymous", "voicemail", kind="phone", raw=b"RAW")
    message = db.session.get(Message, result.message.id)
    assert message.needs_review
    assert "sender could not be identified" in message.review_reason
    assert result.customer.name == "anonymous"
    assert result.customer.identities == []
    assert db.session.get(MessageSource, message.id).raw == b"RAW"


def test_unparseable_message_from_adapter_is_stored_with_reason(inbound):
    result = inbound(
        "email",
        "ada@example.com",
        "",
        raw=b"\x00\xffgarbage",
        review_reason="MIME structure could not be parsed",
    )
    message = db.session.get(Message, result.message.id)
    assert message.needs_review and message.review_reason.startswith("MIME structure")
    assert db.session.get(MessageSource, message.id).raw == b"\x00\xffgarbage"


def test_new_email_customer_is_linked_to_the_organization_of_the_domain(inbound):
    org = Organization(name="Acme", domains=[OrganizationDomain(domain="acme.example")])
    db.session.add(org)
    db.session.commit()
    result = inbound("email", "wile@ACME.example", "hi")
    assert db.session.get(Customer, result.customer.id).organization_id == org.id


def test_inbound_html_is_cleaned_before_it_is_stored(inbound):
    html = (
        '<p onclick="steal()">Hi<script>alert(1)</script></p>'
        '<a href="javascript:alert(2)">x</a><img src=x onerror="alert(3)">'
        '<div style="background:url(javascript:alert(4));color:red">c</div>'
    )
    result = inbound("email", "ada@example.com", "", html=html)
    stored = db.session.get(Message, result.message.id)
    for bad in ("script", "onclick", "javascript:", "onerror", "alert(1)", "url("):
        assert bad not in stored.body_html
    assert "Hi" in stored.body_text and "c" in stored.body_text
    assert "color:red" in stored.body_html


def test_attachments_are_stored_once_by_content_hash(app, inbound):
    content = b"%PDF-1.4 invoice"
    files = [
        InboundAttachment("invoice.pdf", "application/pdf", content),
        InboundAttachment("copy.pdf", "application/pdf", content),
        InboundAttachment("photo.jpg", "image/jpeg", source_url="https://api.twilio.com/x"),
    ]
    result = inbound("email", "ada@example.com", "see attached", attachments=files)
    stored = db.session.get(Message, result.message.id).attachments
    assert [a.filename for a in stored] == ["invoice.pdf", "copy.pdf", "photo.jpg"]
    assert stored[0].sha256 == stored[1].sha256 and stored[0].size == len(content)
    assert attachments.load(stored[0].sha256) == content
    assert stored[2].sha256 is None and stored[2].source_url == "https://api.twilio.com/x"


def test_overlong_text_is_cut_and_flagged_not_lost(inbound):
    text = "x" * 250_000
    result = inbound("chat", "visitor-9", text, raw=text.encode())
    message = db.session.get(Message, result.message.id)
    assert len(message.body_text) == 200_000 and message.needs_review
    assert len(db.session.get(MessageSource, message.id).raw) == 250_000


def test_ticket_gets_its_channels_team(inbound, make_agent):
    from helpdesk.agents.models import Team
    from helpdesk.channels.models import Channel

    make_agent(teams=["Phones"])
    team = db.session.scalar(select(Team).where(Team.name == "Phones"))
    channel = Channel(kind="sms", name="Hotline", address="+4930555000", team_id=team.id)
    db.session.add(channel)
    db.session.commit()
    result = inbound("sms", "+4915112345678", "hi", channel_id=channel.id)
    assert db.session.get(Ticket, result.ticket.id).team_id == team.id


def test_bounce_to_our_message_creates_no_customer_for_the_mailer_daemon(inbound):
    first = inbound("email", "ada@example.com", "help", subject="Help", external_id="<1@x>")
    bounce = inbound(
        "email",
        "MAILER-DAEMON@mx.example.net",
        "Delivery failed",
        is_auto=True,
        subject="Undelivered Mail Returned to Sender",
        external_id="<2@x>",
        references=["<1@x>"],
    )
    assert bounce.ticket.id == first.ticket.id
    assert bounce.customer.id == first.customer.id and not bounce.created_customer
    assert count(Customer) == 1
