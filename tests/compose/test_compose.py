"""What an agent writes: a reply with files, Cc and Bcc and the signatures, a message
forwarded with its files, and new conversations by email and SMS, all through the real
SMTP server (aiosmtpd) and the Twilio stand-in."""

from __future__ import annotations

import io
import json
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from helpdesk.channels.models import Channel
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket
from tests.fixtures.agents import form_csrf, login
from tests.fixtures.twilio import OUR_NUMBER, twilio_config

PDF = b"%PDF-1.4\n% an invoice\n"


@pytest.fixture
def app_config(twilio_api):
    """The app texts through the local Twilio stand-in."""
    return twilio_config(twilio_api)


@pytest.fixture
def outbox(app, admin, smtp_server):
    """The mailbox Support on the test SMTP server (never polled here), with a signature."""
    from helpdesk.channels.email.mailboxes import add_mailbox, set_signature

    channel = add_mailbox(
        "Support",
        "imap://support:x@127.0.0.1:9/INBOX",
        f"smtp://127.0.0.1:{smtp_server.port}",
        "support@example.com",
        admin.teams[0],
    )
    set_signature(channel, "Example GmbH · Support\nhttps://example.com")
    db.session.commit()
    return smtp_server.handler_obj


def received(outbox, index=-1):
    """The envelope and the parsed mail the SMTP server got."""
    envelope = outbox.received[index]
    return envelope, message_from_bytes(envelope["data"], policy=policy.default)


def test_reply_with_a_file_cc_and_bcc_and_both_signatures(
    api, admin, outbox, make_customer, make_ticket
):
    admin.signature = "Ada from Support"
    db.session.commit()
    ada = make_customer("Ada", emails=["ada@example.com"])
    ticket = make_ticket(ada, "Invoice", body="send it please", channel="email")
    data = {
        "payload": json.dumps(
            {"body": "Here it is.", "cc": ["Boss@Example.com"], "bcc": ["archive@example.com"]}
        ),
        "files": [(io.BytesIO(PDF), "invoice 42.pdf", "application/pdf")],
    }
    response = api.post(
        f"/api/v1/tickets/{ticket}/messages", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 201, response.json
    assert response.json["attachments"][0]["filename"] == "invoice 42.pdf"
    assert response.json["cc"] == ["boss@example.com"]
    assert response.json["bcc"] == ["archive@example.com"]
    envelope, mail = received(outbox)
    assert envelope["to"] == ["ada@example.com", "boss@example.com", "archive@example.com"]
    assert mail["Cc"] == "boss@example.com" and mail["Bcc"] is None
    assert "archive@example.com" not in envelope["data"].decode()
    [part] = list(mail.iter_attachments())
    assert part.get_filename() == "invoice 42.pdf" and part.get_content_type() == "application/pdf"
    assert part.get_content() == PDF
    text = mail.get_body(("plain",)).get_content()
    assert text.index("Here it is.") < text.index("Ada from Support") < text.index("Example GmbH")
    db.session.expire_all()
    stored = db.session.get(Message, response.json["id"])
    assert stored.meta["cc"] == ["boss@example.com"] and stored.meta["bcc"] == [
        "archive@example.com"
    ]
    assert stored.status == "sent"
    # Cc on an internal note is refused, and nothing is written.
    note = api.post(
        f"/api/v1/tickets/{ticket}/messages",
        json={"body": "x", "internal": True, "cc": ["boss@example.com"]},
    )
    assert note.status_code == 422
    bad = api.post(
        f"/api/v1/tickets/{ticket}/messages", json={"body": "x", "cc": ["not-an-address"]}
    )
    assert bad.status_code == 422 and "cc.0" in bad.json["error"]["fields"]


def test_forward_sends_the_text_and_files_to_another_address(
    api, outbox, make_customer, make_ticket
):
    ada = make_customer("Ada", emails=["ada@example.com"])
    ticket = make_ticket(ada, "Broken lamp", channel="email")
    data = {
        "payload": json.dumps({"body": "the photo the customer sent", "internal": False}),
        "files": [(io.BytesIO(PDF), "report.pdf", "application/pdf")],
    }
    sent = api.post(
        f"/api/v1/tickets/{ticket}/messages", data=data, content_type="multipart/form-data"
    )
    assert sent.status_code == 201
    answer = api.post(
        f"/api/v1/messages/{sent.json['id']}/forward",
        json={"to": "workshop@partner.example", "note": "Can you repair this?"},
    )
    assert answer.status_code == 201, answer.json
    envelope, mail = received(outbox)
    assert envelope["to"] == ["workshop@partner.example"]
    assert mail["Subject"].startswith("Fwd: Broken lamp") and mail["In-Reply-To"] is None
    body = mail.get_body(("plain",)).get_content()
    assert "Can you repair this?" in body and "the photo the customer sent" in body
    assert [p.get_filename() for p in mail.iter_attachments()] == ["report.pdf"]
    assert (
        api.post("/api/v1/messages/999999/forward", json={"to": "a@b.example"}).status_code == 404
    )


def test_compose_a_new_email_from_the_page_and_an_sms_by_the_api(
    client, admin, api, outbox, make_customer, make_line, twilio_api
):
    line = make_line()
    bob = make_customer("Bob", emails=["bob@example.com"], phones=["+491701234567"])
    web = login(client, admin.email)
    page = web.get(f"/customers/{bob.id}").get_data(as_text=True)
    assert 'action="/tickets/new"' in page  # the card's "New conversation"
    mailbox = db.session.execute(select(Channel).where(Channel.kind == "email")).scalar_one()
    response = web.post(
        "/tickets/new",
        data={
            "csrf_token": form_csrf(web, f"/tickets/new?customer={bob.id}"),
            "customer": str(bob.id),
            "channel": "email",
            "via": str(mailbox.id),
            "to": "bob@example.com",
            "subject": "Your repair",
            "body": "Your lamp is ready.",
            "cc": "",
            "bcc": "",
            "files": (io.BytesIO(PDF), "receipt.pdf", "application/pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    ticket = (
        db.session.execute(select(Ticket).where(Ticket.subject == "Your repair"))
        .unique()
        .scalar_one()
    )
    assert response.headers["Location"].endswith(f"/tickets/{ticket.id}")
    assert ticket.channel == "email" and ticket.assignee_id == admin.id and ticket.status == "open"
    envelope, mail = received(outbox)
    assert envelope["to"] == ["bob@example.com"]
    assert mail["Subject"] == f"Your repair [#{ticket.number}]"
    assert [p.get_filename() for p in mail.iter_attachments()] == ["receipt.pdf"]

    answer = api.post(
        "/api/v1/conversations",
        json={
            "customer": bob.id,
            "channel": "sms",
            "via": line.id,
            "subject": "Pickup",
            "body": "Abholbereit ab 10 Uhr.",
        },
    )
    assert answer.status_code == 201, answer.json
    [sms] = twilio_api.messages()
    assert sms.form["To"] == ["+491701234567"] and sms.form["From"] == [OUR_NUMBER]
    assert sms.form["Body"] == ["Abholbereit ab 10 Uhr."]
    assert answer.json["ticket"]["channel"] == "sms"
    # Another customer's address, or a customer without one, is refused.
    refused = api.post(
        "/api/v1/conversations",
        json={
            "customer": bob.id,
            "channel": "email",
            "to": "eve@example.com",
            "subject": "x",
            "body": "y",
        },
    )
    assert refused.status_code == 422 and refused.json["error"]["fields"] == {"to": "not theirs"}


def test_signature_page_and_mailbox_signature_api(client, admin, api, outbox):
    web = login(client, admin.email)
    saved = web.post(
        "/profile/signature",
        data={"csrf_token": form_csrf(web, "/profile/signature"), "signature": "Ada\r\nSupport"},
    )
    assert saved.status_code == 200
    db.session.expire_all()
    assert admin.signature == "Ada\nSupport"
    mailbox = db.session.execute(select(Channel).where(Channel.kind == "email")).scalar_one()
    answer = api.put(f"/api/v1/mailboxes/{mailbox.id}/signature", json={"signature": "Team"})
    assert answer.status_code == 200 and answer.json == {"id": mailbox.id, "signature": "Team"}
