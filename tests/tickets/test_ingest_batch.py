"""Batch ingest (tickets/ingest/batch.py) stores exactly what ingest one at a time stores,
in one transaction with multi-row inserts; a poisoned message is kept out alone."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import event, func, select

from helpdesk.channels.email.inbound import Mailbox, receive, receive_many
from helpdesk.channels.inbound import InboundMessage
from helpdesk.customers.models import Customer, Organization, OrganizationDomain
from helpdesk.extensions import db
from helpdesk.tickets import ingest as ingest_module
from helpdesk.tickets.ingest.batch import ingest_many
from helpdesk.tickets.models import Attachment, Message, MessageSource, Ticket, TicketEvent
from tests.fixtures.app import _empty_tables
from tests.fixtures.corpora import corpus
from tests.fixtures.email import make_mail

FOLLOWED: list[int] = []


def record_follow_up(message_id: int) -> None:
    """A follow-up job: note the message it ran for (it runs only after the commit)."""
    assert db.session.get(Message, message_id) is not None
    FOLLOWED.append(message_id)


@pytest.fixture
def box(app):
    """A mailbox to receive on (its servers are never contacted here)."""
    from helpdesk.channels.email.mailboxes import add_mailbox

    channel = add_mailbox(
        "Support", "imap://u:p@127.0.0.1:1/INBOX", "smtp://127.0.0.1:1", "support@example.com"
    )
    db.session.commit()
    return Mailbox.of(channel)


def _thread() -> list[bytes]:
    """Mails that thread onto each other inside one batch: a request, the sender's answer
    to our (absent) reply by subject, a colleague's reply by reference, a copy."""
    first = make_mail(
        sender="ada@example.com", subject="Kettle broken", message_id="<k1@example.com>"
    )
    return [
        first,
        make_mail(sender="ada@example.com", subject="Re: Kettle broken", text="Any news?"),
        make_mail(
            sender="bob@example.com",
            subject="Re: Kettle broken",
            text="Same here",
            headers={"In-Reply-To": "<k1@example.com>", "References": "<k1@example.com>"},
        ),
        first,
    ]


def _mails() -> list[bytes]:
    """Real-world mail (chatwoot's and django-helpdesk's: auto-replies, bounces, forwards,
    attachments, broken headers) and a thread."""
    folders = [corpus("chatwoot-mail"), corpus("django-helpdesk-mail")]
    files = sorted(path for folder in folders for path in folder.rglob("*.eml"))
    files = [path for path in files if path.stat().st_size < 100_000]  # the time budget
    return [path.read_bytes() for path in files] + _thread()


def _customer_key(customer: Customer) -> tuple:
    """A customer by its identities (or name when it has none) and its organization."""
    organization = customer.organization.name if customer.organization else None
    key = tuple(sorted((i.kind, i.value) for i in customer.identities)) or (customer.name,)
    return (*key, organization)


def _organization() -> None:
    """An organization owning example.com (the thread's senders; batch ingest reads the
    organizations of its new senders' domains at once)."""
    db.session.add(Organization(name="Acme", domains=[OrganizationDomain(domain="example.com")]))
    db.session.commit()


def _snapshot() -> dict:
    """What is stored, without ids or times: each message with its ticket (named by the
    ticket's first message), customer, text, flags and attachments; each ticket; row counts."""
    messages = db.session.execute(select(Message).order_by(Message.id)).scalars().all()
    sources = {
        message_id: hashlib.sha256(raw).hexdigest()
        for message_id, raw in db.session.execute(
            select(MessageSource.message_id, MessageSource.raw)
        )
    }
    files: dict[int, list] = {}
    for a in db.session.scalars(select(Attachment)):
        files.setdefault(a.message_id, []).append((a.filename, a.sha256 or "", a.size or 0))
    first: dict[int, str | None] = {}
    for message in messages:
        first.setdefault(message.ticket_id, message.external_id)
    stored = sorted(
        (
            m.external_id or "",
            first[m.ticket_id] or "",
            _customer_key(m.ticket.customer),
            m.body_text,
            m.body_html or "",
            m.is_auto,
            m.review_reason or "",
            sorted(files.get(m.id, [])),
            sources.get(m.id, ""),
        )
        for m in messages
    )
    tickets = sorted(
        (
            first[t.id] or "",
            t.subject,
            t.status,
            t.message_count,
            t.contact or "",
            _customer_key(t.customer),
            t.team_id,
            t.sla_due is not None,
            sorted(
                db.session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == t.id))
            ),
        )
        for t in db.session.scalars(select(Ticket))
    )
    counts = {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
        if table.name not in ("channels", "teams", "alembic_version")
    }
    return {"messages": stored, "tickets": tickets, "rows": counts}


def test_batch_stores_what_one_at_a_time_stores(app, box, monkeypatch):
    mails = _mails()
    assert len(mails) > 40
    _organization()
    one_by_one = [receive(box, raw).outcome for raw in mails]
    expected = _snapshot()
    db.session.remove()
    _empty_tables()
    from helpdesk.channels.email.mailboxes import add_mailbox

    channel = add_mailbox(  # the same mailbox again (id 1 once more), on empty tables
        "Support", "imap://u:p@127.0.0.1:1/INBOX", "smtp://127.0.0.1:1", "support@example.com"
    )
    db.session.commit()
    assert channel.id == box.id
    _organization()
    monkeypatch.setattr(
        ingest_module, "_FOLLOW_UPS", [(f"{__name__}:record_follow_up", None, None)]
    )
    FOLLOWED.clear()
    commits: list[object] = []

    def committed(connection) -> None:
        commits.append(connection)

    event.listen(db.engine, "commit", committed)
    try:
        receipts = receive_many(box, [(raw, None) for raw in mails])
    finally:
        event.remove(db.engine, "commit", committed)
    assert [r.outcome for r in receipts] == one_by_one  # type: ignore[union-attr]
    got = _snapshot()
    assert got["rows"] == expected["rows"]
    assert got["tickets"] == expected["tickets"]
    assert got["messages"] == expected["messages"]
    # one transaction per batch of 50 (each in-process follow-up job commits its own)
    assert len(commits) - len(FOLLOWED) <= len(mails) // 50 + 1
    # the thread at the end: one ticket for the request, the answer and the colleague
    thread = db.session.scalar(select(Ticket).where(Ticket.subject == "Kettle broken"))
    assert thread is not None and thread.message_count == 3
    assert thread.customer.organization.name == "Acme"
    stored = db.session.scalars(select(Message.id).where(Message.is_auto.is_(False))).all()
    assert sorted(FOLLOWED) == sorted(stored)  # each ran once, after its commit


def _sms(sender: str, text: str, sid: str) -> InboundMessage:
    """An inbound SMS."""
    return InboundMessage(
        channel="sms", sender_kind="phone", sender=sender, text=text, external_id=sid
    )


def test_a_batch_of_distinct_senders_is_one_flush(app, count_queries):
    with count_queries() as statements:
        results = ingest_many([_sms(f"+491760000{n:04}", "hi", f"SM{n}") for n in range(20)])
    assert len({r.ticket.id for r in results}) == 20  # type: ignore[union-attr]
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO MESSAGES ")]
    # PostgreSQL: one multi-row INSERT (insertmanyvalues); SQLAlchemy writes row by row on
    # SQLite, where RETURNING cannot be relied on to keep the rows' order
    assert len(inserts) == (1 if db.engine.dialect.name == "postgresql" else 20)


def test_a_customer_writing_from_two_addresses_in_one_batch(app, make_customer, caplog):
    both = make_customer("Both", emails=["both@example.com"], phones=["+4915100000001"])
    email = InboundMessage(
        channel="email", sender_kind="email", sender="both@example.com", text="hi", subject="Hi"
    )
    results = ingest_many(
        [_sms("+4915100000001", "hi", "SMa"), email, _sms("+4915100000002", "x", "SMb")]
    )
    assert all(not isinstance(r, Exception) for r in results)
    assert "one at a time" not in caplog.text  # the batch itself went in
    assert [r.customer.id for r in results[:2]] == [both.id, both.id]  # type: ignore[union-attr]
    assert db.session.scalar(select(func.count()).select_from(Message)) == 3


def test_a_poisoned_message_is_kept_out_alone(app, make_customer, monkeypatch):
    make_customer("Poison", phones=["+4915112345678"])

    def poison(inbound, customer):
        if "poison" in inbound.text:
            raise ValueError("this message breaks ingest")
        return None

    monkeypatch.setattr(ingest_module, "_CLAIMS", [poison])
    batch = [
        _sms("+4917600000001", "hello", "SM1"),
        _sms("+4917600000001", "again", "SM2"),
        _sms("+4915112345678", "poison", "SM3"),
        _sms("+4917600000002", "hi", "SM4"),
        _sms("+4917600000001", "hello", "SM1"),  # a retry of SM1 in the same batch
    ]
    results = ingest_many(batch)
    assert isinstance(results[2], ValueError)
    kept = [r for r in results if not isinstance(r, Exception)]
    assert [r.duplicate for r in kept] == [False, False, False, True]
    assert kept[0].ticket.id == kept[1].ticket.id == kept[3].ticket.id  # one conversation
    assert db.session.scalar(select(func.count()).select_from(Message)) == 3
    monkeypatch.setattr(ingest_module, "_CLAIMS", [])
    again = ingest_many(batch)  # the next poll: the poisoned one goes in, nothing twice
    assert [r.duplicate for r in again] == [True, True, False, True, True]  # type: ignore[union-attr]
    assert db.session.scalar(select(func.count()).select_from(Message)) == 4
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 3
