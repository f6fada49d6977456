"""The satisfaction survey: asked once, after the delay, on the ticket's channel; by
email a link (aiosmtpd receives the mail, the test follows the link and answers), by SMS
"reply 1-5" (a signed Twilio webhook with "4"), in chat (a real Socket.IO visitor); the
answer on the ticket, in the reports, and a low rating tells the lead."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
import time_machine
from sqlalchemy import func, select

from helpdesk import unit_of_work
from helpdesk.agents.services import team_named
from helpdesk.channels.email.mailboxes import add_mailbox
from helpdesk.extensions import db
from helpdesk.surveys import services as surveys
from helpdesk.surveys.models import Survey
from helpdesk.tickets import replies, services
from helpdesk.tickets.models import Ticket, TicketEvent
from tests.fixtures.agents import login
from tests.fixtures.sockets import Listener

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
_LINK = re.compile(r"https?://\S+(/survey/[A-Za-z0-9_-]+)")


@pytest.fixture
def support(app, make_agent, smtp_server):
    """Team Support (lead Lena, agent Ann) with a mailbox on the test SMTP server."""
    lead = make_agent("lena@example.com", role="lead", teams=["Support"], name="Lena")
    ann = make_agent("ann@example.com", teams=["Support"], name="Ann")
    with unit_of_work.write_phase():
        mailbox = add_mailbox(
            "Support mail",
            "imap://support:pw@127.0.0.1:9/INBOX",
            f"smtp://127.0.0.1:{smtp_server.port}",
            "support@shop.example",
            team_named("Support"),
        )
        unit_of_work.commit()
    return {"lead": lead, "ann": ann, "mailbox": mailbox}


def _at(moment, action):
    with time_machine.travel(moment, tick=False), unit_of_work.write_phase():
        result = action()
        unit_of_work.commit()
        return result


def _solved_mail_ticket(inbound, support, sender="ada@example.com", tags=()) -> int:
    """A customer's mail at T0, Ann's answer ten minutes later, solved at T0 + 1 h."""
    with time_machine.travel(T0, tick=False):
        ticket_id = inbound(
            "email",
            sender,
            "My order?",
            subject="Order",
            received_at=T0,
            channel_id=support["mailbox"].id,
        ).ticket.id
    ann = support["ann"]
    _at(
        T0 + timedelta(minutes=10),
        lambda: replies.reply(db.session.get(Ticket, ticket_id), "Here", ann),
    )
    changes = {"status": "solved", "tags": list(tags)}
    _at(
        T0 + timedelta(hours=1),
        lambda: services.update_ticket(db.session.get(Ticket, ticket_id), changes, ann),
    )
    return ticket_id


def _send(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return surveys.send_due()


def _survey_mails(smtp_server, address="ada@example.com") -> list[str]:
    """The plain texts of the survey mails the SMTP server got for ``address``."""
    found = []
    for raw in smtp_server.handler_obj.received:
        mail = message_from_bytes(raw["data"], policy=policy.default)
        text = mail.get_body(preferencelist=("plain",)).get_content()
        if raw["to"] == [address] and "/survey/" in text:
            found.append(text)
    return found


def test_by_email_once_after_the_delay_and_answered_on_the_page(
    app, client, api, support, inbound, smtp_server
):
    ticket_id = _solved_mail_ticket(inbound, support)
    assert _send(T0 + timedelta(minutes=90)) == 0  # solved 30 min ago: the delay is 60
    assert _send(T0 + timedelta(minutes=121)) == 1
    assert _send(T0 + timedelta(minutes=125)) == 0  # once
    [mail] = _survey_mails(smtp_server)
    assert "How did we do?" in mail
    path = _LINK.search(mail).group(1)
    assert len(path.rsplit("/", 1)[1]) >= 40  # 256 random bits

    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        page = client.get(path)
        assert page.status_code == 200 and 'name="rating"' in page.get_data(as_text=True)
        assert "Content-Security-Policy" in page.headers
        assert client.post(path, data={"rating": "9"}).status_code == 422
        done = client.post(path, data={"rating": "2", "comment": "Took too long"})
        assert done.status_code == 200 and "Thank you" in done.get_data(as_text=True)
        assert client.post(path, data={"rating": "5"}).status_code == 409  # once
        assert client.get(path + "x").status_code == 404

    shown = api.get(f"/api/v1/tickets/{ticket_id}").json
    assert shown["csat"] == {
        "rating": 2,
        "comment": "Took too long",
        "at": (T0 + timedelta(hours=3)).isoformat(),
    }
    assert shown["status"] == "solved"
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        report = api.get("/api/v1/reports/overview?from=2026-11-02&to=2026-11-02").json
    assert report["csat"] == {"responses": 1, "average": 2.0, "satisfied_share": 0.0}
    assert report["by_agent"][0]["csat_average"] == 2.0
    kinds = (
        db.session.execute(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id))
        .scalars()
        .all()
    )
    assert "survey_sent" in kinds and "survey" in kinds
    # The inbox row (what live updates fetch) and the customer's timeline show it.
    login(client, "lena@example.com")
    row = client.get(f"/inbox/rows?view=all&status=solved&ids={ticket_id}").json["rows"]
    row = row[str(ticket_id)]
    assert 'data-csat="2"' in row and "csat low" in row
    customer = client.get(f"/customers/{shown['customer']['id']}").get_data(as_text=True)
    assert 'data-csat="2"' in customer


def test_german_customers_are_asked_in_german(app, client, support, inbound, smtp_server):
    ticket_id = _solved_mail_ticket(inbound, support, sender="jan@example.de")
    ticket = db.session.get(Ticket, ticket_id)
    ticket.customer.language = "de"
    db.session.commit()
    assert _send(T0 + timedelta(hours=2, minutes=1)) == 1
    [mail] = _survey_mails(smtp_server, "jan@example.de")
    assert "Wie zufrieden" in mail
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        page = client.get(_LINK.search(mail).group(1)).get_data(as_text=True)
    assert 'lang="de"' in page and "Absenden" in page


def test_not_for_spam_nor_merged_nor_reopened_and_links_expire(
    app, client, support, inbound, smtp_server
):
    _solved_mail_ticket(inbound, support, sender="spam@example.com", tags=["spam"])
    reopened = _solved_mail_ticket(inbound, support, sender="bea@example.com")
    _at(
        T0 + timedelta(minutes=70),
        lambda: services.update_ticket(
            db.session.get(Ticket, reopened), {"status": "open"}, support["ann"]
        ),
    )
    kept = _solved_mail_ticket(inbound, support, sender="cy@example.com")
    assert _send(T0 + timedelta(hours=2, minutes=1)) == 1
    assert db.session.execute(select(Survey.ticket_id)).scalars().all() == [kept]
    [mail] = _survey_mails(smtp_server, "cy@example.com")
    path = _LINK.search(mail).group(1)
    with time_machine.travel(T0 + timedelta(days=15), tick=False):
        assert "has closed" in client.get(path).get_data(as_text=True)
        assert client.post(path, data={"rating": "5"}).status_code == 409


@pytest.mark.slow
def test_a_low_rating_with_a_comment_notifies_the_lead_live(
    live_server, make_token, support, inbound, smtp_server
):
    lead = Listener(live_server, auth={"token": make_token(support["lead"])})
    try:
        ticket_id = _solved_mail_ticket(inbound, support)
        assert _send(T0 + timedelta(hours=2, minutes=1)) == 1
        survey = db.session.execute(select(Survey)).scalar_one()
        _at(T0 + timedelta(hours=3), lambda: surveys.answer(survey, 1, "Nobody read my mail"))
        note = lead.wait_for("notification")
        assert note["kind"] == "low_rating" and note["ticket"]["id"] == ticket_id
        assert "Nobody read my mail" in note["text"]
        # The inbox row's data, live: the ticket with its rating.
        changed = lead.wait_for("ticket.updated", where=lambda d: d["ticket"].get("csat"))
        assert changed["ticket"]["csat"]["rating"] == 1
    finally:
        lead.close()


def test_a_low_rating_with_a_comment_mails_the_lead(support, inbound, smtp_server):
    quiet = _solved_mail_ticket(inbound, support, sender="bo@example.com")
    loud = _solved_mail_ticket(inbound, support, sender="cy@example.com")
    assert _send(T0 + timedelta(hours=2, minutes=1)) == 2
    by_ticket = {s.ticket_id: s for s in db.session.execute(select(Survey)).scalars()}
    # Low without a comment, and good with one: no mail. Low with a comment: a mail.
    _at(T0 + timedelta(hours=3), lambda: surveys.answer(by_ticket[quiet], 1, None))
    _at(T0 + timedelta(hours=3), lambda: surveys.answer(by_ticket[loud], 2, "Slow and rude"))
    received = smtp_server.handler_obj.received

    def to_lena() -> list:
        return [
            message_from_bytes(r["data"], policy=policy.default)
            for r in list(received)
            if r["to"] == ["lena@example.com"]
        ]

    for _ in range(500):
        if to_lena():
            break
        threading.Event().wait(0.02)
    [mail] = to_lena()
    number = db.session.get(Ticket, loud).number
    assert mail["Subject"] == f"Low rating: #{number} Order"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "rated 2 of 5: Slow and rude" in text and f"/tickets/{loud}" in text
    assert not any(r["to"] == ["ann@example.com"] for r in received)  # only leads


def test_counting_the_due_surveys_uses_few_queries(app, support, inbound, count_queries):
    for n in range(3):
        _solved_mail_ticket(inbound, support, sender=f"c{n}@example.com")
    with count_queries() as counter:
        assert _send(T0 + timedelta(hours=2, minutes=1)) == 3
    # the due tickets in one; per ticket: the survey, the message, the trail (flushed)
    # Up to the commit (the sends that follow are the delivery jobs, run in-process): the
    # due tickets with what they load, then per ticket the survey, the message, the ticket's
    # counters and the trail: no query grows with anything but the tickets asked.
    asking = [q for q in counter][
        : next(
            n for n, q in enumerate(counter) if q.startswith("UPDATE messages SET send_attempts")
        )
    ]
    # (the tickets, then their tags and their customers' identities and consents)
    assert len([q for q in asking if q.startswith("SELECT")]) == 4, asking
    assert len(asking) <= 1 + 4 + 3 * 4 + 1, asking
    assert db.session.scalar(select(func.count()).select_from(Survey)) == 3
