"""Auto-acknowledgement of new email tickets, per mailbox: end to end through the real
Dovecot, the real IMAP poll and ingest, and the real SMTP server; never for auto-replies,
lists, follow-ups, our own addresses, and never twice."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.automation import autoack
from helpdesk.channels.email import imap as email_imap
from helpdesk.channels.models import Channel
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket, TicketEvent
from tests.fixtures.email import deliver, make_mail

TEXT = (
    'Dear {customer_name},\nwe got your mail about "{subject}": it is ticket '
    "#{ticket_number}. ${ticket_number} {unknown} {customer_name.__class__} $$5"
)


def switch_on(channel: Channel, text: str | None = TEXT) -> None:
    with unit_of_work.write_phase():
        row = db.session.get(Channel, channel.id)
        row.settings = {
            **row.settings,
            "auto_ack": True,
            **({"auto_ack_text": text} if text else {}),
        }
        db.session.commit()


def received(smtp_server) -> list:
    """The mails the SMTP server got, parsed."""
    return [
        message_from_bytes(r["data"], policy=policy.default)
        for r in smtp_server.handler_obj.received
    ]


def tickets() -> list[Ticket]:
    db.session.rollback()
    return db.session.execute(select(Ticket).order_by(Ticket.id)).unique().scalars().all()


def acks(ticket_id: int | None = None) -> list[Message]:
    db.session.rollback()
    query = select(Message).where(Message.author_kind == "bot").order_by(Message.id)
    if ticket_id is not None:
        query = query.where(Message.ticket_id == ticket_id)
    return db.session.execute(query).unique().scalars().all()


@pytest.mark.slow
def test_a_new_mail_is_acknowledged_with_the_ticket_number_once(mailbox, imap, smtp_server):
    switch_on(mailbox)
    deliver(
        imap,
        make_mail(
            sender="ada@example.com",
            name="Ada Lovelace",
            subject="My printer is on fire",
            text="Please help.",
            message_id="<first@mail.example.com>",
        ),
    )
    [result] = email_imap.poll()
    assert (result.stored, result.error) == (1, None)
    [ticket] = tickets()
    [mail] = received(smtp_server)
    assert smtp_server.handler_obj.received[0]["to"] == ["ada@example.com"]
    assert f"[#{ticket.number}]" in mail["Subject"]
    assert mail["In-Reply-To"] == "<first@mail.example.com>"
    assert mail["Auto-Submitted"] == "auto-replied"  # RFC 3834: no reply loops
    body = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert body.startswith('Dear Ada Lovelace,\nwe got your mail about "My printer is on fire"')
    assert (
        f"it is ticket #{ticket.number}. {ticket.number} {{unknown}} "
        "{customer_name.__class__} $5" in body
    )
    [ack] = acks(ticket.id)
    assert ack.status == "sent" and ack.direction == "out" and ack.channel == "email"
    db.session.rollback()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.first_response_at is None  # an acknowledgement is not an agent's answer
    assert [
        e.kind
        for e in db.session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
        ).scalars()
    ].count("auto_ack") == 1

    # The customer answers the acknowledgement: the same ticket, no second acknowledgement.
    deliver(
        imap,
        make_mail(
            sender="ada@example.com",
            subject=f"Re: {mail['Subject']}",
            text="It is still burning.",
            headers={"In-Reply-To": mail["Message-ID"], "References": mail["Message-ID"]},
        ),
    )
    # And a mail on the same subject without references continues it too.
    deliver(
        imap,
        make_mail(sender="ada@example.com", subject="Re: My printer is on fire", text="Hello?"),
    )
    assert email_imap.poll()[0].stored == 2
    assert len(tickets()) == 1
    assert len(smtp_server.handler_obj.received) == 1
    # A rerun of the job (a worker retry) sends nothing either.
    first = (
        db.session.execute(
            select(Message.id).where(Message.ticket_id == ticket.id).order_by(Message.id)
        )
        .scalars()
        .first()
    )
    autoack.acknowledge(first)
    assert len(acks()) == 1 and len(smtp_server.handler_obj.received) == 1

    # A new request from the same customer is a new ticket and gets its own number.
    deliver(
        imap,
        make_mail(
            sender="ada@example.com", subject="Another question", text="Do you ship to Mars?"
        ),
    )
    assert email_imap.poll()[0].stored == 1
    second = tickets()[-1]
    assert second.id != ticket.id
    assert f"[#{second.number}]" in received(smtp_server)[-1]["Subject"]
    assert len(smtp_server.handler_obj.received) == 2


@pytest.mark.slow
def test_no_acknowledgement_for_auto_replies_lists_and_bounces(mailbox, imap, smtp_server):
    switch_on(mailbox, text=None)  # the standard text
    deliver(
        imap,
        make_mail(
            sender="bob@example.com",
            subject="Out of office",
            text="I am away until Monday.",
            headers={"Auto-Submitted": "auto-replied"},
        ),
    )
    deliver(
        imap,
        make_mail(
            sender="news@lists.example.com",
            subject="Weekly digest",
            text="News.",
            headers={"List-Id": "<news.lists.example.com>", "Precedence": "list"},
        ),
    )
    deliver(
        imap,
        make_mail(
            sender="offers@example.com",
            subject="Big sale",
            text="Buy!",
            headers={"Precedence": "bulk"},
        ),
    )
    deliver(
        imap,
        make_mail(sender="no-reply@example.net", subject="Your invoice", text="Invoice attached."),
    )
    [result] = email_imap.poll()
    assert (result.stored, result.error) == (4, None)
    assert len(tickets()) == 4  # every mail is kept ...
    assert smtp_server.handler_obj.received == []  # ... and none is acknowledged
    assert acks() == []
    # A real customer's mail after them is acknowledged with the standard text.
    deliver(
        imap,
        make_mail(
            sender="carol@example.com", name="Carol", subject="Refund", text="Where is my refund?"
        ),
    )
    email_imap.poll()
    [mail] = received(smtp_server)
    ticket = tickets()[-1]
    body = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert body.startswith("Hello Carol,")
    assert f"#{ticket.number} (Refund)" in body


@pytest.mark.slow
def test_mailboxes_without_auto_ack_send_nothing(mailbox, imap, smtp_server):
    deliver(imap, make_mail(sender="ada@example.com", subject="Hello", text="Hi there"))
    assert email_imap.poll()[0].stored == 1
    assert smtp_server.handler_obj.received == [] and acks() == []


@pytest.mark.slow
def test_never_to_our_own_addresses(mailbox, inbound, smtp_server):
    switch_on(mailbox)
    # (the IMAP path drops mail from our own addresses before ingest; the job checks again)
    result = inbound("email", "support@example.com", "Loop?", subject="Loop", channel_id=mailbox.id)
    assert result.created_ticket
    assert acks() == [] and smtp_server.handler_obj.received == []


def test_render_fills_only_the_named_values():
    text = autoack.render("{a} $a ${a} {b} {a.__class__} {0} $$ {a!r}", {"a": "x\ny  z", "c": 1})
    assert text == "x y z x y z x y z {b} {a.__class__} {0} $ {a!r}"


@pytest.mark.slow
def test_mailbox_add_sets_and_keeps_the_acknowledgement(app, imap, smtp_server):
    runner = app.test_cli_runner()
    args = [
        "mailbox",
        "add",
        "Sales",
        "--imap-url",
        imap.url(),
        "--smtp-url",
        f"smtp://127.0.0.1:{smtp_server.port}",
        "--address",
        "sales@example.com",
        "--no-check",
    ]
    result = runner.invoke(
        args=args + ["--auto-ack", "--auto-ack-text", "Thanks, ticket {ticket_number}"]
    )
    assert result.exit_code == 0, result.output
    assert "acknowledged" in result.output

    def settings():
        db.session.rollback()
        return db.session.execute(
            select(Channel.settings).where(Channel.name == "Sales")
        ).scalar_one()

    assert settings()["auto_ack"] is True
    assert settings()["auto_ack_text"] == "Thanks, ticket {ticket_number}"
    assert runner.invoke(args=args).exit_code == 0  # changed again without the options
    assert settings()["auto_ack"] is True
    assert settings()["auto_ack_text"] == "Thanks, ticket {ticket_number}"
    assert runner.invoke(args=args + ["--no-auto-ack"]).exit_code == 0
    assert settings()["auto_ack"] is False
