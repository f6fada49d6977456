"""Real-world mail through the real parser and ingest pipeline: none raises, every one
ends up stored (CPython's email test data, the mail gem's, chatwoot's and django-helpdesk's
fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from helpdesk.channels.email.inbound import Mailbox, fingerprint, receive
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, MessageSource, Ticket
from tests.fixtures.corpora import corpus


@pytest.fixture
def box(app):
    """A mailbox to receive on (its servers are never contacted here)."""
    from helpdesk.channels.email.mailboxes import add_mailbox

    channel = add_mailbox(
        "Support", "imap://u:p@127.0.0.1:1/INBOX", "smtp://127.0.0.1:1", "support@example.com"
    )
    db.session.commit()
    return Mailbox.of(channel)


def _cpython_data() -> Path:
    """CPython's email test data folder, or a skip."""
    try:
        import test.test_email as suite
    except ImportError:
        pytest.skip("CPython's test package (test.test_email) is not installed")
    folder = Path(suite.__file__).parent / "data"
    if not folder.exists():
        pytest.skip(f"{folder} is absent")
    return folder


def _all_stored(box, files: list[Path]) -> dict[str, Message]:
    """Receive every file; assert each is stored (or is a copy of a stored mail)."""
    assert files
    receipts = {}
    for path in files:
        receipts[path.name] = receive(box, path.read_bytes())
    stored = {
        fingerprint(raw): message_id
        for message_id, raw in db.session.execute(
            select(MessageSource.message_id, MessageSource.raw)
        )
    }
    messages = {}
    for path in files:
        receipt = receipts[path.name]
        assert receipt.outcome in ("stored", "duplicate"), path.name
        assert fingerprint(path.read_bytes()) in stored, path.name
        messages[path.name] = db.session.get(Message, receipt.message_id)
    return messages


def test_cpython_email_test_data(box):
    files = sorted(_cpython_data().glob("msg_*.txt"))
    messages = _all_stored(box, files)
    assert messages["msg_19.txt"].needs_review  # a mailing-list digest body without headers
    assert "could not be parsed" in messages["msg_19.txt"].review_reason


def test_mikel_mail_gem_fixtures(box):
    files = sorted(p for p in corpus("mikel-mail").rglob("*.eml"))
    messages = _all_stored(box, files)
    bounces = [
        m for name, m in messages.items() if "multipart_report" in name or name.startswith("report")
    ]
    for path in corpus("mikel-mail", "multipart_report_emails").glob("*.eml"):
        assert messages[path.name].is_auto, path.name
    assert bounces is not None
    japanese = [
        m
        for name, m in messages.items()
        if "iso-2022-jp" in name.lower() or "iso_2022" in name.lower()
    ]
    for message in japanese:
        assert "\x1b$B" not in message.body_text


def test_chatwoot_fixtures_and_their_expectations(app):
    from helpdesk.channels.email.mailboxes import add_mailbox

    # X-Original-Sender is believed only from a list domain of the mailbox (example.com
    # is the group's here).
    channel = add_mailbox(
        "Support",
        "imap://u:p@127.0.0.1:1/INBOX",
        "smtp://127.0.0.1:1",
        "support@example.com",
        list_domains=["example.com"],
    )
    db.session.commit()
    box = Mailbox.of(channel)
    folder = corpus("chatwoot-mail")
    messages = _all_stored(box, sorted(folder.glob("*.eml")))
    for name in (
        "auto_reply.eml",
        "auto_reply_with_auto_submitted.eml",
        "bounced_gmail.eml",
        "non_utf_encoded_mail.eml",
    ):
        assert messages[name].is_auto, name
    assert not messages["only_text.eml"].is_auto
    group = messages["group_sender_support.eml"]
    ticket = db.session.get(Ticket, group.ticket_id)
    assert ticket.contact == "jane@example.com" and ticket.customer.name == "ACME group"
    assert (
        db.session.get(Ticket, messages["support_without_sender_name.eml"].ticket_id).contact
        == "sony@chatwoot.com"
    )
    assert messages["mail_with_no_subject.eml"].subject is None
    assert (
        db.session.get(Ticket, messages["malformed_reply_to.eml"].ticket_id).contact
        == "sender@example.com"
    )
    assert messages["bounced_with_no_from.eml"].needs_review
    quoted = messages["mail_with_quote.eml"]
    assert quoted.meta.get("reply_text") and len(quoted.meta["reply_text"]) < len(quoted.body_text)
    arabic = messages["non_utf_encoded_mail.eml"]
    assert any(
        "\u0600" <= ch <= "\u06ff"
        for ch in (arabic.subject or "") + db.session.get(Ticket, arabic.ticket_id).customer.name
    )


def test_django_helpdesk_fixtures_and_their_expectations(box):
    folder = corpus("django-helpdesk-mail")
    expected = json.loads((folder / "expectations.json").read_text())["expectations"]
    messages = _all_stored(box, sorted(folder.glob("*.eml")))

    def ticket(name):
        return db.session.get(Ticket, messages[name].ticket_id)

    blank = expected["blank-body-with-attachment.eml"]
    assert ticket("blank-body-with-attachment.eml").subject.startswith(
        blank["ticket.title_exact"][:-3]
    )
    assert messages["blank-body-with-attachment.eml"].body_text.strip() == ""
    assert len(messages["blank-body-with-attachment.eml"].attachments) == 1
    czech = expected["quoted_printable.eml"]
    assert ticket("quoted_printable.eml").subject == czech["ticket.title"]
    assert messages["quoted_printable.eml"].body_text.strip() == czech["ticket.description"]
    special = expected["all-special-chars.eml"]
    assert ticket("all-special-chars.eml").subject == special["ticket.title"]
    assert messages["all-special-chars.eml"].body_text.strip() == special["ticket.description"]
    broken = expected["utf-nondecodable.eml"]
    assert ticket("utf-nondecodable.eml").subject == broken["ticket.title"]
    # Its text and HTML parts say different things: both are kept, the HTML cleaned.
    assert broken["ticket.description_contains"] in messages["utf-nondecodable.eml"].body_html
    assert "Ahoj Johne" in messages["utf-nondecodable.eml"].body_text
    forwarded = messages["forwarded-message.eml"]
    full, short = expected["forwarded-message.eml"]
    assert ticket("forwarded-message.eml").subject == full["ticket.title"]
    for part in full["ticket.description_contains"]:
        assert part in forwarded.body_text  # the full text is kept
    reply = forwarded.meta["reply_text"]  # the part shown first stops at the quote
    assert all(part in reply for part in short["ticket.description_contains"])
    assert all(part not in reply for part in short["ticket.description_not_contains"])
    assert ticket("pgp.eml").subject == expected["pgp.eml"]["ticket.title"]


def test_talon_replies_through_ingest_keep_text_and_reply(box):
    folder = corpus("talon-replies", "standard_replies")
    messages = _all_stored(box, sorted(folder.glob("*.eml")))
    for name, message in messages.items():
        wanted = folder / f"{Path(name).stem}_reply_text"
        expected = wanted.read_text().strip() if wanted.exists() else "Hello"
        assert message.meta.get("reply_text", message.body_text.strip()) == expected, name
