"""Every file of the real-world corpora (../shared/corpora: mail from other projects'
fixtures, and files that are not mail at all) delivered to a real Dovecot and polled
through the real channel: each gives a message an agent can find, and where the
corpora's expectations.json knows the sender or the subject, ours match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from helpdesk.channels.email import imap as email_imap
from helpdesk.channels.email.inbound import Mailbox, fingerprint, receive
from helpdesk.channels.email.mailboxes import add_mailbox
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, MessageSource, Ticket
from tests.fixtures.corpora import corpus
from tests.fixtures.email import deliver

SKIPPED = {"README.md", "expectations.json", ".gitattributes", "gitattributes"}


def corpus_files() -> list[Path]:
    """Every file of the mail corpora that a mailbox could be given."""
    root = corpus()
    files = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "twilio"):
        files += [
            path
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name not in SKIPPED and not path.name.endswith("_text")
        ]
    return files


def known_answers() -> dict[str, dict[str, str | None]]:
    """Senders and subjects the corpora's expectations.json files state, by file name."""
    answers: dict[str, dict[str, str | None]] = {
        # chatwoot-mail/expectations.json (prose, transcribed from chatwoot's specs)
        "group_sender_support.eml": {"sender": "jane@example.com"},
        "support_without_sender_name.eml": {"sender": "sony@chatwoot.com"},
        "malformed_reply_to.eml": {"sender": "sender@example.com"},
        "mail_with_no_subject.eml": {"subject": None},  # '' in chatwoot, no subject here
    }
    django = json.loads(corpus("django-helpdesk-mail", "expectations.json").read_text())
    for name, expected in django["expectations"].items():
        first = expected[0] if isinstance(expected, list) else expected
        title = first.get("ticket.title_exact", first["ticket.title"])
        answers[name] = {"subject": title[:-3] if title.endswith("...") else title}
    return answers


@pytest.mark.slow  # Dovecot
def test_every_corpus_file_gives_a_message_an_agent_can_find(app, imap, smtp_server, capsys):
    """Every file is delivered to the mailbox, then polled as a mailbox is: in batches
    (tickets/ingest/batch.py; one that fails is ingested alone). Each file is then found
    through its stored raw source: a message of its own, or the mail it is a copy of."""
    channel = add_mailbox(
        "Support",
        imap.url(),
        f"smtp://127.0.0.1:{smtp_server.port}",
        "support@example.com",
        list_domains=["example.com"],  # chatwoot's group mail comes from example.com
    )
    db.session.commit()
    files = corpus_files()
    answers = known_answers()
    delivered, refused = [], []
    for path in files:
        raw = path.read_bytes()
        try:
            deliver(imap, raw)
        except Exception as exc:  # noqa: BLE001 - the IMAP server refuses it: not delivered
            refused.append(f"{path.name}: {exc}")
            continue
        delivered.append((path, raw))
    fetched = 0
    for _ in range(len(delivered)):  # a poll stops at its time budget: poll until done
        result = email_imap.poll_mailbox(channel.id)
        assert result.error is None, result
        fetched += result.fetched
        if result.fetched == 0:
            break
    db.session.rollback()
    assert fetched == len(delivered)
    stored = {}  # fingerprint of a stored raw source -> its message
    for source in db.session.execute(select(MessageSource)).scalars():
        stored.setdefault(fingerprint(source.raw), source.message_id)
    missing, copies, wrong, seen = [], [], [], set()
    matched, asked = {"sender": 0, "subject": 0}, {"sender": 0, "subject": 0}
    for path, raw in delivered:
        crlf = raw.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")
        message_id = stored.get(fingerprint(crlf)) or stored.get(fingerprint(raw))
        if message_id is None:
            missing.append(path.name)
            continue
        if message_id in seen:  # a copy of a stored mail is found as that mail
            copies.append(path.name)
            continue
        seen.add(message_id)
        message = db.session.get(Message, message_id)
        assert message is not None and message.direction == "in", path.name
        ticket = db.session.get(Ticket, message.ticket_id)
        for field, value in answers.get(path.name, {}).items():
            asked[field] += 1
            got = ticket.contact if field == "sender" else message.subject
            if (got or None) == value or (
                field == "subject" and value and got and got.startswith(value)
            ):
                matched[field] += 1
            else:
                wrong.append(f"{path.name}: {field} {got!r}, expected {value!r}")
    found = len(delivered) - len(missing)
    with capsys.disabled():
        print(
            f"\ncorpus through Dovecot: {len(files)} files, {found} with a message an agent "
            f"can find ({len(copies)} as the copy of another: {copies}), {len(refused)} refused "
            f"by the IMAP server, missing {missing}; "
            f"senders {matched['sender']}/{asked['sender']}, "
            f"subjects {matched['subject']}/{asked['subject']} of the known answers"
        )
    assert not missing
    assert not wrong, wrong
    assert len(refused) <= 1, refused  # an empty file is not a mail Dovecot takes


def test_mails_under_one_message_id_are_each_kept_and_a_copy_is_one(app):
    channel = add_mailbox(
        "Support", "imap://u:p@127.0.0.1:1/INBOX", "smtp://127.0.0.1:1", "support@example.com"
    )
    db.session.commit()
    box = Mailbox.of(channel)
    head = b"From: John Doe <jdoe@machine.example>\r\nSubject: Saying Hello\r\n"
    body = (
        b"Message-ID: <1234@local.machine.example>\r\n\r\nThis is a message just to say hello.\r\n"
    )
    first = receive(box, head + b"To: Mary Smith <mary@example.net>\r\n" + body)
    other = receive(box, head + b"To: Jane <jane@example.org>\r\n" + body)  # RFC 2822 A.1.2
    auto = receive(
        box, head + b"To: Mary Smith <mary@example.net>\r\nAuto-Submitted: auto-replied\r\n" + body
    )
    copy = receive(
        box,
        b"Received: from mx2.example.com by us; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
        b"Delivered-To: sales@example.com\r\n"
        + head
        + b"To: Mary Smith <mary@example.net>\r\n"
        + body,
    )
    assert [r.outcome for r in (first, other, auto, copy)] == [
        "stored",
        "stored",
        "stored",
        "duplicate",
    ]
    assert len({first.message_id, other.message_id, auto.message_id}) == 3
    assert copy.message_id == first.message_id
    assert db.session.get(Message, auto.message_id).is_auto
