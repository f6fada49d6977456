"""Replies out over a real SMTP server (aiosmtpd), threading back in through a real
Dovecot, failures marked on the ticket, and bounces shown on the reply they concern."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from helpdesk.channels.email import imap as email_imap
from helpdesk.extensions import db
from helpdesk.tickets.models import Attachment, Message, Ticket
from tests.fixtures.email import deliver, make_mail


def _ticket() -> Ticket:
    """The one ticket."""
    return db.session.execute(select(Ticket)).scalar_one()


def _received(smtp_server, index=-1):
    """A mail the SMTP server received, parsed."""
    return message_from_bytes(
        smtp_server.handler_obj.received[index]["data"], policy=policy.default
    )


@pytest.mark.slow
def test_reply_goes_out_threaded_with_token_text_and_html(mailbox, imap, smtp_server, api):
    first = make_mail(subject="Order 123 is late", message_id="<first@mail.example.com>")
    deliver(imap, first)
    email_imap.poll()
    ticket = _ticket()
    response = api.post(
        f"/api/v1/tickets/{ticket.id}/messages",
        json={"body": "Hello Ada,\n\nit ships today.\n\n<Team>"},
    )
    assert response.status_code == 201, response.get_json()
    db.session.expire_all()
    reply = db.session.get(Message, response.get_json()["id"])
    assert reply.status == "sent" and reply.external_id.startswith("<hd.")
    [envelope] = smtp_server.handler_obj.received
    assert envelope["to"] == ["ada@example.com"] and envelope["from"] == "support@example.com"
    sent = _received(smtp_server)
    assert sent["Message-ID"] == reply.external_id
    assert sent["In-Reply-To"] == "<first@mail.example.com>"
    assert sent["References"] == "<first@mail.example.com>"
    assert sent["Subject"] == f"Re: Order 123 is late [#{ticket.number}]"
    assert "support@example.com" in sent["From"] and "Support" in sent["From"]
    plain = sent.get_body(("plain",)).get_content()
    html = sent.get_body(("html",)).get_content()
    assert "it ships today." in plain and "&lt;Team&gt;" in html and "<br>" not in plain
    # The customer answers by header: the answer lands on the same ticket.
    references = f"<first@mail.example.com> {reply.external_id}"
    deliver(
        imap,
        make_mail(
            subject="Re: Order 123 is late",
            text="Thanks!",
            headers={"In-Reply-To": reply.external_id, "References": references},
        ),
    )
    email_imap.poll()
    assert db.session.scalar(select(Ticket.message_count)) == 3
    api.post(f"/api/v1/tickets/{ticket.id}/messages", json={"body": "You're welcome."})
    second = _received(smtp_server)
    refs = second["References"].split()
    assert refs[0] == "<first@mail.example.com>" and reply.external_id in refs
    assert second["In-Reply-To"] == refs[-1] != reply.external_id


@pytest.mark.slow
def test_reply_carries_its_attachments(mailbox, imap, smtp_server, admin):
    from helpdesk import unit_of_work
    from helpdesk.tickets import attachments, replies

    deliver(imap, make_mail(subject="Need the invoice"))
    email_imap.poll()
    ticket = _ticket()
    message = replies.reply(ticket, "Invoice attached.", admin)
    pdf = b"%PDF-1.4 invoice " * 100
    message.attachments.append(
        Attachment(
            filename="invoice 7.pdf",
            content_type="application/pdf",
            size=len(pdf),
            sha256=attachments.store(pdf),
        )
    )
    unit_of_work.commit()
    sent = _received(smtp_server)
    [part] = list(sent.iter_attachments())
    assert part.get_filename() == "invoice 7.pdf" and part.get_content() == pdf
    assert sent.get_body(("plain",)).get_content().strip() == "Invoice attached."


@pytest.mark.slow
def test_refused_recipient_marks_the_reply_failed_for_the_agent(mailbox, imap, smtp_server, api):
    deliver(imap, make_mail(subject="Hello"))
    email_imap.poll()
    smtp_server.handler_obj.refuse_rcpt = "550 5.1.1 mailbox unknown"
    ticket = _ticket()
    response = api.post(f"/api/v1/tickets/{ticket.id}/messages", json={"body": "Hi"})
    assert response.status_code == 201
    listed = api.get(f"/api/v1/tickets/{ticket.id}/messages").get_json()["items"]
    reply = listed[-1]
    assert reply["status"] == "failed" and "550" in reply["error"]
    assert "mailbox unknown" in reply["error"]


@pytest.mark.slow
def test_smtp_server_down_keeps_the_reply_queued_for_a_retry_not_dropped(
    app, imap, smtp_server, api
):
    from helpdesk.channels.email.mailboxes import add_mailbox
    from tests.fixtures.email import free_port

    add_mailbox("Support", imap.url(), f"smtp://127.0.0.1:{free_port()}", "support@example.com")
    db.session.commit()
    deliver(imap, make_mail(subject="Hello"))
    email_imap.poll()
    ticket = _ticket()
    api.post(f"/api/v1/tickets/{ticket.id}/messages", json={"body": "Hi"})
    db.session.expire_all()
    reply = db.session.execute(select(Message).where(Message.direction == "out")).scalar_one()
    assert reply.status == "queued" and "unreachable" in reply.error
    assert "trying again" in reply.error and reply.next_attempt_at is not None


def test_reply_without_any_mailbox_fails_permanently(app, api, inbound):
    result = inbound(channel="email", sender="ada@example.com", subject="Hi")
    api.post(f"/api/v1/tickets/{result.ticket.id}/messages", json={"body": "Hi"})
    db.session.expire_all()
    reply = db.session.execute(select(Message).where(Message.direction == "out")).scalar_one()
    assert reply.status == "failed" and "no mailbox" in reply.error


@pytest.mark.slow
def test_reply_arrives_in_the_customers_mailbox_threaded(
    app, imap, smtp_server, api, make_customer
):
    """The newcomer's path: one command, a mail, a ticket with its customer, a reply back."""
    runner = app.test_cli_runner()
    out = runner.invoke(
        args=[
            "mailbox",
            "add",
            "Support",
            "--imap-url",
            imap.url(),
            "--smtp-url",
            f"smtp://127.0.0.1:{smtp_server.port}",
            "--address",
            "support@example.com",
            "--team",
            "Support",
        ]
    )
    assert out.exit_code == 0, out.output
    ada = make_customer("Ada Lovelace", emails=["ada@example.com"])
    # The SMTP server relays into the customer's real mailbox, as a mail provider would.
    smtp_server.handler_obj.relay = lambda raw, rcpts: deliver(imap, raw, user="customer")
    deliver(imap, make_mail(subject="Broken kettle", message_id="<kettle@mail.example.com>"))
    assert "1 stored" in runner.invoke(args=["mail", "poll"]).output
    ticket = _ticket()
    assert ticket.customer_id == ada.id
    api.post(f"/api/v1/tickets/{ticket.id}/messages", json={"body": "A new one is on its way."})
    client = imap.client("customer")
    client.select_folder("INBOX")
    [uid] = client.search(["ALL"])
    arrived = message_from_bytes(
        client.fetch([uid], ["BODY[]"])[uid][b"BODY[]"], policy=policy.default
    )
    client.logout()
    assert arrived["In-Reply-To"] == "<kettle@mail.example.com>"
    assert f"[#{ticket.number}]" in arrived["Subject"]
    # Her mail program strips the thread headers; the subject token still threads it.
    deliver(imap, make_mail(subject=f"Re: {arrived['Subject']}", text="Thanks!\n\n> A new one"))
    runner.invoke(args=["mail", "poll"])
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).message_count == 3
    last = db.session.execute(select(Message).order_by(Message.id.desc())).scalars().first()
    assert last.ticket_id == ticket.id and last.meta["reply_text"] == "Thanks!"


def _bounce(original_id: str, recipient="ada@example.com") -> bytes:
    """A real-shaped delivery status report for one of our messages."""
    boundary = "dsn-boundary"
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        "To: support@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\nMessage-ID: <bounce1@mx.example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        f"\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        f"\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: support@example.com\r\nTo: {recipient}\r\nMessage-ID: {original_id}\r\n"
        f"Subject: Re: Hello\r\n\r\n--{boundary}--\r\n"
    ).encode()


@pytest.mark.slow
def test_bounce_marks_our_reply_and_does_not_reopen_the_ticket(mailbox, imap, smtp_server, api):
    deliver(imap, make_mail(subject="Hello"))
    email_imap.poll()
    ticket = _ticket()
    reply_id = api.post(
        f"/api/v1/tickets/{ticket.id}/messages", json={"body": "Solved!"}
    ).get_json()["id"]
    api.patch(f"/api/v1/tickets/{ticket.id}", json={"status": "solved"})
    db.session.expire_all()
    reply = db.session.get(Message, reply_id)
    deliver(imap, _bounce(reply.external_id))
    deliver(
        imap,
        make_mail(
            subject="Out of office",
            text="I am away.",
            headers={"Auto-Submitted": "auto-replied", "In-Reply-To": reply.external_id},
        ),
    )
    result = email_imap.poll()[0]
    assert result.stored == 2
    db.session.expire_all()
    reply = db.session.get(Message, reply_id)
    assert reply.status == "undelivered" and "550 5.1.1 user unknown" in reply.error
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.status == "solved"
    autos = (
        db.session.execute(
            select(Message).where(Message.direction == "in", Message.is_auto.is_(True))
        )
        .scalars()
        .all()
    )
    assert len(autos) == 2 and all(m.ticket_id == ticket.id for m in autos)
    assert reply.meta["bounce_message_id"] in {m.id for m in autos}
    assert len(smtp_server.handler_obj.received) == 1  # nothing answered the machines


@pytest.mark.slow
def test_reply_is_marked_sent_when_another_writer_committed_while_it_was_sending(
    app, mailbox, imap, smtp_server, api
):
    # While the SMTP server takes the mail, another process (here: a thread with its own
    # app context and connection) commits a write. On SQLite the delivery's transaction
    # began as a reader before that; writing "sent" in it would fail ("database is
    # locked") and leave the reply queued although the customer has it.
    from helpdesk.customers.models import Customer

    deliver(imap, make_mail(subject="Order 123 is late"))
    email_imap.poll()
    ticket = _ticket()

    def another_writer(raw, recipients):
        with app.app_context():
            customer = db.session.get(Customer, ticket.customer_id)
            customer.title = "written meanwhile"
            db.session.commit()

    smtp_server.handler_obj.relay = another_writer
    response = api.post(f"/api/v1/tickets/{ticket.id}/messages", json={"body": "On its way."})
    assert response.status_code == 201, response.get_json()
    db.session.expire_all()
    reply = db.session.get(Message, response.get_json()["id"])
    assert len(smtp_server.handler_obj.received) == 1
    assert reply.status == "sent", reply.error
    assert db.session.get(Ticket, ticket.id).customer.title == "written meanwhile"
