"""Proactive order updates: a customer who opted in hears once per change when the shop
moves an order to shipped, delayed, delivered or cancelled, on their preferred channel.
End to end through ``PUT /api/v1/orders/NUMBER`` with a bearer token, the real outbound
path (``tickets.tasks:deliver``), the aiosmtpd sink, the Twilio REST stand-in, and for
the answers Dovecot with the IMAP poll and the signed SMS webhook."""

from __future__ import annotations

import threading
from email import message_from_bytes, policy

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from helpdesk import unit_of_work
from helpdesk.agents.services import team_named
from helpdesk.automation import order_updates
from helpdesk.channels.email import imap as email_imap
from helpdesk.channels.email.mailboxes import add_mailbox
from helpdesk.customers import consents
from helpdesk.customers.models import Order, OrderNotification
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket, TicketEvent
from tests.fixtures.concurrency import at_once
from tests.fixtures.email import deliver, make_mail
from tests.fixtures.twilio import OUR_NUMBER, post_signed, sms_params, twilio_config

V1 = "/api/v1"
SMS = "/webhooks/twilio/sms"
TRACKING = "https://tracking.example/dhl?piece=JJD0099887766"
SHIPPED = {
    "status": "shipped",
    "carrier": "DHL",
    "tracking_number": "JJD0099887766",
    "tracking_url": TRACKING,
    "expected_delivery": "2026-03-12",
}


@pytest.fixture
def app_config(twilio_api):
    """Every app of these tests texts through the local Twilio stand-in."""
    return twilio_config(twilio_api)


@pytest.fixture
def outbox(app, smtp_server):
    """A support mailbox that sends through the aiosmtpd sink (nothing is polled)."""
    with unit_of_work.write_phase():
        add_mailbox(
            "Support",
            "imap://support:secret@127.0.0.1:1/INBOX",
            f"smtp://127.0.0.1:{smtp_server.port}",
            "support@example.com",
            team_named("Support"),
        )
        db.session.commit()
    return smtp_server


@pytest.fixture
def put_order(api):
    """PUT an order as the shop does; returns the answer's JSON."""

    def put(number: str, **fields):
        response = api.put(f"{V1}/orders/{number}", json=fields)
        assert response.status_code in (200, 201), response.json
        return response.json

    return put


@pytest.fixture
def opted_in(make_customer, api):
    """A customer who asked for order updates through the API (PATCH /customers/ID)."""

    def make(name="Ada", channel="email", sms_opt_out=False, **fields):
        customer = make_customer(name, **fields)
        if sms_opt_out:  # they texted STOP
            with unit_of_work.write_phase():
                consents.sms_opt_out(customer, True, "STOP")
                db.session.commit()
        response = api.patch(
            f"{V1}/customers/{customer.id}",
            json={"order_updates": True, "preferred_channel": channel},
        )
        assert response.status_code == 200, response.json
        assert response.json["preferences"]["order_updates"] is True
        return customer

    return make


def mails(smtp) -> list:
    """The mails the SMTP sink got, parsed."""
    return [message_from_bytes(r["data"], policy=policy.default) for r in smtp.handler_obj.received]


def text_of(mail) -> str:
    """The plain-text part of a mail."""
    return mail.get_body(("plain",)).get_content().replace("\r\n", "\n")


def notifications() -> list[OrderNotification]:
    """Every recorded change, oldest first, as committed now."""
    db.session.rollback()
    return (
        db.session.execute(select(OrderNotification).order_by(OrderNotification.id)).scalars().all()
    )


def updates() -> list[Message]:
    """The update messages, oldest first."""
    db.session.rollback()
    return [
        m
        for m in db.session.execute(
            select(Message).where(Message.author_kind == "bot").order_by(Message.id)
        )
        .unique()
        .scalars()
        if "order_update" in (m.meta or {})
    ]


def ticket(ticket_id: int) -> Ticket:
    """A ticket as committed now."""
    db.session.rollback()
    return db.session.get(Ticket, ticket_id)


def count(model) -> int:
    """Rows of ``model``."""
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


# ----- who is told, and once ---------------------------------------------------------


def test_email_update_in_german_with_the_tracking_link_once(opted_in, put_order, outbox):
    eva = opted_in("Eva Example", "email", emails=["eva@example.com"], language="de")
    put_order("10023", customer=eva.id, status="paid")
    assert notifications() == [] and mails(outbox) == []  # created, then paid: no news
    put_order("10023", **SHIPPED)
    put_order("10023", **SHIPPED)  # the shop sends the same update again
    [mail] = mails(outbox)
    assert outbox.handler_obj.received[0]["to"] == ["eva@example.com"]
    assert text_of(mail) == (
        "Ihre Bestellung 10023 ist versandt.\n"
        "Versand mit DHL, Sendungsnummer JJD0099887766\n"
        f"Sendungsverfolgung: {TRACKING}\n"
        "Voraussichtliche Zustellung: 12.03.2026\n\n"
        "Sie erhalten diese Nachricht, weil Sie über Ihre Bestellungen informiert werden "
        "möchten. Wenn Sie eine Frage haben, antworten Sie einfach.\n"
    )
    [row] = notifications()
    assert (row.sequence, row.status, row.previous_status, row.outcome, row.channel) == (
        1,
        "shipped",
        "paid",
        "queued",
        "email",
    )
    [message] = updates()
    assert row.message_id == message.id and row.ticket_id == message.ticket_id
    assert (message.direction, message.channel, message.status, message.recipient) == (
        "out",
        "email",
        "sent",
        "eva@example.com",
    )
    got = ticket(row.ticket_id)
    assert got.subject == "Bestellung 10023: versandt" and f"[#{got.number}]" in mail["Subject"]
    assert (got.status, got.channel, got.contact, got.tags) == (
        "solved",
        "email",
        "eva@example.com",
        ["order-update"],
    )
    assert got.team is not None and got.team.name == "Support"
    assert got.first_response_at is None and got.assignee_id is None
    event = db.session.execute(
        select(TicketEvent).where(
            TicketEvent.ticket_id == got.id, TicketEvent.kind == "order_update"
        )
    ).scalar_one()
    assert event.data == {
        "order": "10023",
        "status": "shipped",
        "notification": row.id,
        "message": message.id,
        "language": "de",
    }


def test_sms_update_through_twilio_from_the_lines_number(opted_in, put_order, twilio_api, office):
    tom = opted_in(
        "Tom", "sms", phones=["+491511234567"], emails=["tom@example.com"], language="en"
    )
    put_order("77001", customer=tom.id, status="processing")
    put_order("77001", status="delayed", expected_delivery="2026-04-02")
    [sent] = twilio_api.messages()
    assert sent.form["To"] == ["+491511234567"] and sent.form["From"] == [OUR_NUMBER]
    assert sent.form["Body"] == [
        "Your order 77001 is delayed; we are sorry for the wait.\n"
        "Expected delivery: 2 April 2026\n\n"
        "You get this message because you asked to hear about your orders. "
        "Just reply if you have a question."
    ]
    [row] = notifications()
    got = ticket(row.ticket_id)
    assert (row.outcome, row.channel) == ("queued", "sms")
    assert (got.subject, got.status, got.channel, got.contact, got.channel_id, got.team_id) == (
        "Order 77001: delayed",
        "solved",
        "sms",
        "+491511234567",
        office.line.id,
        office.team.id,
    )
    assert updates()[0].status == "sent"


def test_a_change_is_told_once_and_only_news_is_told(opted_in, put_order, outbox):
    ada = opted_in("Ada", emails=["ada@example.com"], language="en")
    put_order("10023", customer=ada.id, status="paid")
    put_order("10023", status="shipped")
    put_order("10023", status="shipped")
    put_order("10023", status="processing")  # not news for the customer
    put_order("10023", status="shipped")  # back to what they were told last: nothing new
    put_order("10023", status="delayed")
    put_order("10023", status="shipped")  # shipped again after the delay: news
    put_order("10023", status="returned")  # not one of the told statuses
    assert [(n.sequence, n.status, n.outcome) for n in notifications()] == [
        (1, "shipped", "queued"),
        (2, "delayed", "queued"),
        (3, "shipped", "queued"),
    ]
    assert [text_of(m).splitlines()[0] for m in mails(outbox)] == [
        "Your order 10023 has been shipped.",
        "Your order 10023 is delayed; we are sorry for the wait.",
        "Your order 10023 has been shipped.",
    ]
    # The three updates of one order share its ticket only while it is open: the first
    # one's ticket was born solved, so each update opened its own.
    assert len({n.ticket_id for n in notifications()}) == 3


def test_other_statuses_customers_not_opted_in_and_new_orders_hear_nothing(
    make_customer, opted_in, put_order, outbox, twilio_api
):
    quiet = make_customer("Quiet", emails=["quiet@example.com"], phones=["+491511111111"])
    put_order("1", customer=quiet.id, status="paid")
    for status in ("shipped", "delayed", "delivered", "cancelled"):
        put_order("1", status=status)
    keen = opted_in("Keen", emails=["keen@example.com"])
    put_order("2", customer=keen.id, status="shipped")  # born shipped: no change to tell
    for status in ("pending", "paid", "processing", "returned"):
        put_order("2", status=status)
    assert notifications() == [] and updates() == []
    assert mails(outbox) == [] and twilio_api.messages() == []
    assert count(Ticket) == 0


def test_no_address_records_the_reason_and_sends_nothing(opted_in, put_order, outbox, twilio_api):
    ghost = opted_in("Ghost", "chat")
    put_order("31337", customer=ghost.id, status="paid")
    put_order("31337", status="cancelled")
    [row] = notifications()
    assert (row.outcome, row.channel, row.ticket_id, row.message_id) == (
        "skipped",
        None,
        None,
        None,
    )
    assert row.reason == "no email address; no phone number"
    assert count(Ticket) == count(Message) == 0
    assert mails(outbox) == [] and twilio_api.messages() == []


def test_the_channel_falls_back_when_the_preference_cannot_be_reached(
    opted_in, put_order, outbox, twilio_api, office
):
    # Chat cannot be reached without a live visitor: email first.
    chatty = opted_in("Chatty", "chat", emails=["chatty@example.com"], phones=["+491512222222"])
    # Opted out of SMS (STOP): email instead.
    stopped = opted_in(
        "Stopped", "sms", emails=["stop@example.com"], phones=["+491513333333"], sms_opt_out=True
    )
    # Prefers email but has only a phone: SMS.
    phone_only = opted_in("Phone", "email", phones=["+491514444444"])
    # Only a number, and that opted out: nothing, with the reason.
    nowhere = opted_in("Nowhere", "sms", phones=["+491515555555"], sms_opt_out=True)
    for number, customer in (("A1", chatty), ("A2", stopped), ("A3", phone_only), ("A4", nowhere)):
        put_order(number, customer=customer.id, status="paid")
        put_order(number, status="delivered")
    assert [(n.channel, n.outcome, n.reason) for n in notifications()] == [
        ("email", "queued", None),
        ("email", "queued", None),
        ("sms", "queued", None),
        (None, "skipped", "opted out of SMS; no email address"),
    ]
    assert [r["to"] for r in outbox.handler_obj.received] == [
        ["chatty@example.com"],
        ["stop@example.com"],
    ]
    assert [m.form["To"] for m in twilio_api.messages()] == [["+491514444444"]]


def test_no_mailbox_means_email_is_out_of_reach(opted_in, put_order, twilio_api):
    both = opted_in("Both", "email", emails=["both@example.com"], phones=["+491516666666"])
    put_order("B1", customer=both.id, status="paid")
    put_order("B1", status="shipped")
    [row] = notifications()
    assert row.channel == "sms" and [m.form["To"] for m in twilio_api.messages()] == [
        ["+491516666666"]
    ]


# ----- which ticket -------------------------------------------------------------------


def test_an_open_ticket_about_the_order_gets_the_update(opted_in, put_order, outbox, inbound):
    ada = opted_in("Ada", emails=["ada@example.com"], language="en")
    put_order("10023", customer=ada.id, status="paid")
    put_order("55555", customer=ada.id, status="paid")
    about = inbound(
        "email", "ada@example.com", "Please gift-wrap order 10023 for me.", subject="Gift wrap"
    ).ticket
    other = inbound(
        "email", "ada@example.com", "Do you sell mugs? Not 100234.", subject="Mugs"
    ).ticket
    put_order("10023", **SHIPPED)
    [row] = notifications()
    assert row.ticket_id == about.id
    got = ticket(about.id)
    assert got.status == "new" and got.message_count == 2  # still the agents' to answer
    [mail] = mails(outbox)
    assert mail["Subject"] == f"Re: Gift wrap [#{about.number}]"
    # An open ticket that does not name the order is left alone: a new, solved one.
    put_order("55555", status="cancelled")
    second = notifications()[1]
    assert second.ticket_id not in (about.id, other.id)
    assert ticket(second.ticket_id).status == "solved"
    assert ticket(other.id).message_count == 1
    # The next update of 10023 goes where the first one went, while it is open.
    put_order("10023", status="delivered")
    assert notifications()[2].ticket_id == about.id


# ----- the customer answers -------------------------------------------------------------


@pytest.mark.slow
def test_an_answer_to_the_mail_lands_on_the_update_ticket_and_reopens_it(
    opted_in, put_order, mailbox, imap, smtp_server
):
    ada = opted_in("Ada Lovelace", emails=["ada@example.com"], language="de")
    put_order("10023", customer=ada.id, status="paid")
    put_order("10023", **SHIPPED)
    [mail] = mails(smtp_server)
    [row] = notifications()
    assert ticket(row.ticket_id).status == "solved"
    # The desk starts this conversation: no "Re:", the ticket's token to thread answers.
    update = ticket(row.ticket_id)
    assert mail["Subject"] == f"{update.subject} [#{update.number}]"
    assert not mail["Subject"].lower().startswith("re:") and "In-Reply-To" not in mail
    deliver(
        imap,
        make_mail(
            sender="ada@example.com",
            subject=f"Re: {mail['Subject']}",
            text="Danke! Kann ich die Lieferadresse noch ändern?",
            headers={"In-Reply-To": mail["Message-ID"], "References": mail["Message-ID"]},
        ),
    )
    [result] = email_imap.poll()
    assert (result.stored, result.error) == (1, None)
    got = ticket(row.ticket_id)
    assert got.status == "open" and got.message_count == 2 and count(Ticket) == 1
    events = (
        db.session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == got.id, TicketEvent.kind == "status")
        )
        .scalars()
        .all()
    )
    assert [e.data for e in events] == [{"from": "solved", "to": "open", "why": "customer replied"}]


def test_an_answer_to_the_sms_opens_a_ticket_for_the_lines_team(
    client, opted_in, put_order, twilio_api, office
):
    tom = opted_in("Tom", "sms", phones=["+491511234567"], language="en")
    put_order("77001", customer=tom.id, status="paid")
    put_order("77001", **SHIPPED)
    [row] = notifications()
    response = post_signed(
        client, SMS, sms_params("Thanks! Can you leave it with the neighbour?", "+491511234567")
    )
    assert response.status_code == 200
    db.session.rollback()
    tickets = db.session.execute(select(Ticket).order_by(Ticket.id)).unique().scalars().all()
    # SMS carries no reference: ingest continues only open SMS tickets, so the answer is a
    # new ticket in the line's queue; the solved update stays beside it in the history.
    assert [(t.id == row.ticket_id, t.status, t.team_id, t.customer_id) for t in tickets] == [
        (True, "solved", office.team.id, tom.id),
        (False, "new", office.team.id, tom.id),
    ]
    # The next update of the order goes onto the open conversation only if it is about the
    # order; this one does not name it: a solved ticket of its own again.
    put_order("77001", status="delivered")
    assert notifications()[1].ticket_id not in (t.id for t in tickets)


# ----- races and retries -----------------------------------------------------------------


@pytest.mark.slow
def test_the_same_change_sent_six_times_at_once_is_told_once(
    live_server, admin, make_token, opted_in, outbox
):
    ada = opted_in("Ada", emails=["ada@example.com"])
    headers = {"Authorization": f"Bearer {make_token(admin)}"}
    created = requests.put(
        f"{live_server}{V1}/orders/RACE-1",
        headers=headers,
        json={"customer": ada.id, "status": "paid"},
        timeout=30,
    )
    assert created.status_code == 201
    start, answers = threading.Barrier(6), []

    def send() -> None:
        start.wait()
        answers.append(
            requests.put(
                f"{live_server}{V1}/orders/RACE-1", headers=headers, json=SHIPPED, timeout=30
            )
        )

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {a.status_code for a in answers} <= {200, 409}, [a.status_code for a in answers]
    assert [(n.status, n.outcome) for n in notifications()] == [("shipped", "queued")]
    assert len(updates()) == 1 and len(outbox.handler_obj.received) == 1


def test_the_job_sends_once_when_run_twice_at_once_and_again_later(app, make_customer, outbox):
    ada = make_customer(
        "Ada", emails=["ada@example.com"], consents={"order_updates": {"granted": True}}
    )
    with unit_of_work.write_phase():
        order = Order(number="J-1", customer_id=ada.id, status="shipped")
        db.session.add(order)
        db.session.flush()
        row_id = order_updates.recorded(order, "paid").id  # its job waits for run_ready
        db.session.commit()
    at_once(app, lambda: order_updates.send(row_id))  # two workers run the job together
    unit_of_work.run_ready()  # the job enqueued by the commit, late
    assert len(updates()) == 1 and len(outbox.handler_obj.received) == 1
    assert notifications()[0].outcome == "queued"


def test_a_change_superseded_before_its_job_ran_is_skipped(app, put_order, make_customer, outbox):
    ada = make_customer(
        "Ada",
        emails=["ada@example.com"],
        consents={"order_updates": {"granted": True}},
        language="en",
    )
    put_order("S-1", customer=ada.id, status="paid")
    with unit_of_work.write_phase():
        order = db.session.execute(select(Order).where(Order.number == "S-1")).scalar_one()
        order.status = "shipped"
        db.session.flush()
        order_updates.recorded(order, "paid")  # its job waits for run_ready below
        db.session.commit()
    put_order("S-1", status="delayed")  # told at once
    unit_of_work.run_ready()  # the shipped job runs only now
    assert [(n.status, n.outcome, n.reason) for n in notifications()] == [
        ("shipped", "skipped", "the order changed again (to delayed) before the update went out"),
        ("delayed", "queued", None),
    ]
    [mail] = mails(outbox)
    assert text_of(mail).startswith("Your order S-1 is delayed")


def test_one_change_cannot_be_recorded_twice(app, make_customer):
    ada = make_customer(
        "Ada", emails=["ada@example.com"], consents={"order_updates": {"granted": True}}
    )
    with unit_of_work.write_phase():
        order = Order(number="U-1", customer_id=ada.id, status="shipped")
        db.session.add(order)
        db.session.flush()
        db.session.add(
            OrderNotification(order_id=order.id, sequence=1, status="shipped", outcome="skipped")
        )
        db.session.flush()
        db.session.add(
            OrderNotification(order_id=order.id, sequence=1, status="delayed", outcome="pending")
        )
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


@pytest.mark.redis
def test_with_redis_the_update_is_a_job_that_queues_one_delivery_however_often_it_runs(
    app, redis_url, opted_in, put_order, twilio_api, office
):
    from redis import Redis
    from rq import Queue

    tom = opted_in("Tom", "sms", phones=["+491511234567"])
    put_order("R-1", customer=tom.id, status="paid")
    app.config["REDIS_URL"] = redis_url
    connection = Redis.from_url(redis_url)
    try:
        put_order("R-1", status="shipped")
        [job] = Queue("default", connection=connection).jobs
        [row] = notifications()
        assert job.func_name == "helpdesk.automation.order_updates.send" and job.args == (row.id,)
        assert row.outcome == "pending" and twilio_api.messages() == []
        order_updates.send(row.id)
        order_updates.send(row.id)  # RQ retrying a job it thinks failed
        [delivery] = Queue("outbound", connection=connection).jobs
        [message] = updates()
        assert delivery.func_name == "helpdesk.channels.delivery.deliver"
        assert delivery.args == (message.id,) and message.status == "queued"
        assert notifications()[0].outcome == "queued"
    finally:
        app.config["REDIS_URL"] = None
        connection.close()  # and the app's own, opened by the enqueue: no socket left open
        for opened in app.extensions.pop("helpdesk_redis", {}).values():
            opened.close()
