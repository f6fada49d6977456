"""The order-status bot: answers order questions at once on the customer's channel, with
their own orders only; anything else (another customer's order, none at all) gets one
neutral answer and goes to an agent. End to end through the real channel code: mail
through Dovecot and the SMTP server, SMS through a signed webhook and the Twilio REST
client (to the local stand-in), chat through a real Socket.IO visitor."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.automation import bot
from helpdesk.channels.chat.services import create_chat_channel, identity_hash
from helpdesk.channels.email import imap as email_imap
from helpdesk.channels.models import Channel
from helpdesk.customers import consents
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.tickets import ingest as ingest_module
from helpdesk.tickets.models import Message, Ticket, TicketEvent
from tests.fixtures.concurrency import at_once
from tests.fixtures.email import deliver, make_mail
from tests.fixtures.sockets import Listener, Visitor
from tests.fixtures.twilio import OUR_NUMBER, post_signed, sms_params, twilio_config

SMS = "/webhooks/twilio/sms"
SHOP = "https://shop.example"
NEUTRAL_EN = (
    "We could not find that order under your contact details; a colleague will look into it."
)
SHIPPED = {
    "status": "shipped",
    "carrier": "DHL",
    "tracking_number": "JJD0099887766",
    "tracking_url": "https://tracking.example/dhl?piece=JJD0099887766",
    "expected_delivery": "2026-03-12",
}


@pytest.fixture
def app_config(twilio_api):
    """Every app of these tests texts through the local Twilio stand-in."""
    return twilio_config(twilio_api)


@pytest.fixture
def put_order(api):
    """Create or update an order through the API, as the shop does."""

    def put(number: str, customer, **fields):
        response = api.put(f"/api/v1/orders/{number}", json={"customer": customer.id, **fields})
        assert response.status_code in (200, 201), response.json
        return response.json

    return put


@pytest.fixture
def line(make_line):
    """Our SMS number as a channel row (the bot is on unless its settings say otherwise)."""
    return make_line()


def bot_messages(ticket_id: int | None = None) -> list[Message]:
    """The bot's answers (of one ticket), oldest first."""
    db.session.rollback()  # see what other transactions committed
    query = select(Message).where(Message.author_kind == "bot").order_by(Message.id)
    if ticket_id is not None:
        query = query.where(Message.ticket_id == ticket_id)
    return db.session.execute(query).unique().scalars().all()


def only_answer(ticket_id: int) -> Message:
    """The one answer the bot gave on a ticket."""
    [message] = bot_messages(ticket_id)
    return message


def ticket(ticket_id: int) -> Ticket:
    """A ticket as committed now."""
    db.session.rollback()
    return db.session.get(Ticket, ticket_id)


# ----- what the bot says ---------------------------------------------------------


def test_german_question_gets_status_carrier_tracking_and_date_in_german(
    inbound, make_customer, put_order, twilio_api
):
    eva = make_customer("Eva Example", phones=["+491711234567"], language="de")
    put_order("10023", eva, **SHIPPED)
    result = inbound("sms", "+491711234567", "Wo ist meine Bestellung 10023?")
    answer = only_answer(result.ticket.id)
    assert answer.body_text == (
        "Ihre Bestellung 10023 ist versandt.\n"
        "Versand mit DHL, Sendungsnummer JJD0099887766\n"
        "Sendungsverfolgung: https://tracking.example/dhl?piece=JJD0099887766\n"
        "Voraussichtliche Zustellung: 12.03.2026\n\n"
        "Dies ist eine automatische Antwort. Wenn Sie noch etwas brauchen, antworten Sie "
        "einfach; jemand aus unserem Team hilft Ihnen weiter."
    )
    assert (answer.direction, answer.author_kind, answer.author_id, answer.channel) == (
        "out",
        "bot",
        None,
        "sms",
    )
    assert answer.recipient == "+491711234567" and answer.status == "sent"
    [sent] = twilio_api.messages()
    assert sent.form["To"] == ["+491711234567"] and sent.form["From"] == [OUR_NUMBER]
    assert "https://tracking.example/dhl?piece=JJD0099887766" in sent.form["Body"][0]
    # The answer is part of the conversation; the ticket still waits for its agent.
    got = ticket(result.ticket.id)
    assert got.message_count == 2 and got.status == "new" and got.assignee_id is None
    assert got.first_response_at is None and got.tags == []
    event = db.session.execute(
        select(TicketEvent).where(TicketEvent.kind == "order_bot")
    ).scalar_one()
    assert event.data["outcome"] == "answered" and event.data["reply"] == answer.id


@pytest.mark.parametrize(
    "text", ["where is my order #10023", "Where is my order 10023?", "Order status 10023 please"]
)
def test_english_questions_get_the_status_in_english(text, inbound, make_customer, put_order):
    oliver = make_customer("Oliver Smith", emails=["oliver@example.co.uk"], language="en")
    put_order(
        "10023",
        oliver,
        status="delayed",
        carrier="UPS",
        tracking_url="https://ups.example/track?n=1Z999",
        expected_delivery="2026-04-02",
    )
    result = inbound("email", "oliver@example.co.uk", text, subject="My parcel")
    body = only_answer(result.ticket.id).body_text
    assert body.startswith(
        "Your order 10023 is delayed; we are sorry for the wait.\n"
        "Carrier: UPS\nTrack it here: https://ups.example/track?n=1Z999\n"
        "Expected delivery: 2 April 2026\n\n"
    ), body


def test_language_is_guessed_from_the_words_when_the_customer_has_none(
    inbound, make_customer, put_order
):
    anna = make_customer("Anna", phones=["+491511111111"])
    put_order("55501", anna, status="processing")
    german = inbound("sms", "+491511111111", "Lieferstatus 55501")
    assert only_answer(german.ticket.id).body_text.startswith(
        "Ihre Bestellung 55501 wird gerade für den Versand vorbereitet."
    )
    tom = make_customer("Tom", phones=["+491522222222"])
    put_order("55502", tom, status="paid")
    bare = inbound("sms", "+491522222222", " #55502 ")  # a bare number: English by default
    assert only_answer(bare.ticket.id).body_text.startswith(
        "Your order 55502 is paid and will be prepared for shipping soon."
    )


def test_another_customers_order_and_a_missing_one_get_the_same_answer_and_an_agent(
    inbound, make_customer, put_order, twilio_api
):
    owner = make_customer("Owner", emails=["owner@example.com"], phones=["+491700000001"])
    put_order("10023", owner, **SHIPPED)
    make_customer("Stranger", phones=["+491700000002"])
    make_customer("Other stranger", phones=["+491700000003"])
    theirs = inbound("sms", "+491700000002", "Wo ist meine Bestellung 10023?")
    missing = inbound("sms", "+491700000003", "Wo ist meine Bestellung 10024?")
    first, second = only_answer(theirs.ticket.id), only_answer(missing.ticket.id)
    assert first.body_text.encode() == second.body_text.encode()
    assert first.body_text == (
        "Wir konnten diese Bestellung unter Ihren Kontaktdaten nicht "
        "finden; jemand aus unserem Team kümmert sich darum."
    )
    bodies = [m.form["Body"][0] for m in twilio_api.messages()]
    assert bodies == [first.body_text, second.body_text]
    for ticket_id in (theirs.ticket.id, missing.ticket.id):
        got = ticket(ticket_id)
        assert (got.status, got.assignee_id, got.tags) == ("new", None, ["order-bot-unknown"])
    events = db.session.execute(
        select(TicketEvent.ticket_id, TicketEvent.data)
        .where(TicketEvent.kind == "order_bot")
        .order_by(TicketEvent.id)
    ).all()
    assert [e.data["outcome"] for e in events] == ["unknown", "unknown"]
    assert set(events[0].data) == set(events[1].data)
    # The owner asking gets the status.
    own = inbound("email", "owner@example.com", "Where is my order 10023?", subject="Order")
    assert "JJD0099887766" in only_answer(own.ticket.id).body_text


def test_own_and_foreign_numbers_in_one_message_answer_only_the_own_one(
    inbound, make_customer, put_order
):
    ada = make_customer("Ada", emails=["ada@example.com"], language="en")
    bob = make_customer("Bob", emails=["bob@example.com"])
    put_order("20001", ada, status="delivered", carrier="GLS")
    put_order("20002", bob, **SHIPPED)
    result = inbound(
        "email", "ada@example.com", "Where are my orders 20001 and 20002?", subject="Two orders"
    )
    body = only_answer(result.ticket.id).body_text
    assert body == (
        "Your order 20001 has been delivered.\nCarrier: GLS\n\n"
        "We could not find the other order number you gave under your contact "
        "details; a colleague will look into it."
    )
    assert ticket(result.ticket.id).tags == ["order-bot-unknown"]


NUMBERS = st.integers(min_value=100_000, max_value=999_999).map(str)
PHRASES = st.sampled_from(
    [
        "Wo ist meine Bestellung {n}?",
        "where is my order #{n}",
        "Lieferstatus {n}",
        "{n}",
        "Order status {n}?",
        "Hallo, wann kommt Bestellung Nr. {n}? Danke",
    ]
)
_run = itertools.count()


@pytest.mark.slow
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    numbers=st.lists(NUMBERS, min_size=1, max_size=4, unique=True),
    owners=st.lists(st.integers(min_value=0, max_value=2), min_size=4, max_size=4),
    asker=st.integers(min_value=0, max_value=2),
    asked=st.integers(min_value=0, max_value=5),
    phrase=PHRASES,
    channel=st.sampled_from(["sms", "email"]),
    carrier=st.text(alphabet="ABCDEFGHKLMNPRSTUVWXYZ", min_size=6, max_size=12),
    status=st.sampled_from(
        [
            "pending",
            "paid",
            "processing",
            "shipped",
            "delayed",
            "delivered",
            "cancelled",
            "returned",
        ]
    ),
)
def test_bot_never_puts_another_customers_order_data_into_a_reply(
    inbound,
    make_customer,
    put_order,
    numbers,
    owners,
    asker,
    asked,
    phrase,
    channel,
    carrier,
    status,
):
    run = next(_run)
    people = [
        make_customer(
            f"P{run}-{i}",
            emails=[f"p{run}x{i}@example.com"],
            phones=[f"+49151{run:04d}{i:04d}"],
            language="en",
        )
        for i in range(3)
    ]
    orders = {}
    for number, owner in zip(numbers, owners, strict=False):
        number = f"{run:04d}{number}"  # unique across examples, 10 digits
        tracking = f"TRK{run}X{owner}Q{number}"
        put_order(
            number,
            people[owner],
            status=status,
            carrier=f"{carrier}-{number}",
            tracking_number=tracking,
            tracking_url=f"https://t.example/{tracking}",
        )
        orders[number] = (owner, tracking)
    listed = list(orders)
    number = listed[asked] if asked < len(listed) else f"{run:04d}9{asked:02d}9"  # no order
    sender = people[asker]
    address = sender.values("email" if channel == "email" else "phone")[0]
    result = inbound(channel, address, phrase.format(n=number), subject="Question")
    if phrase == "{n}" and channel == "email":  # a bare number counts on SMS and chat only
        assert bot_messages(result.ticket.id) == []
        return
    [reply] = bot_messages(result.ticket.id)
    owner, tracking = orders.get(number, (None, None))
    if owner == asker:
        assert number in reply.body_text and tracking in reply.body_text
        assert reply.body_text.endswith("a colleague will help you.")
    else:
        assert reply.body_text == NEUTRAL_EN
        assert ticket(result.ticket.id).tags == ["order-bot-unknown"]
    for other_number, (other_owner, other_tracking) in orders.items():
        if other_owner != asker:
            for secret in (other_number, other_tracking, f"{carrier}-{other_number}"):
                assert secret not in reply.body_text


# ----- when the bot stays quiet ----------------------------------------------------


def test_messages_that_do_not_ask_about_an_order_are_left_alone(inbound, make_customer, put_order):
    ada = make_customer("Ada", emails=["ada@example.com"], phones=["+491712222222"])
    put_order("123456", ada, **SHIPPED)
    inbound(
        "email",
        "ada@example.com",
        "Hello, please find attached invoice 123456 for your order. Regards",
        subject="Invoice 123456",
    )
    inbound("email", "ada@example.com", "My customer number is 123456.", subject="Hi")
    inbound(
        "email",
        "ada@example.com",
        "Please change the delivery address of order 123456?",
        subject="Address",
    )
    inbound("sms", "+491712222222", "Call me back on 030 123456 please")
    inbound("email", "ada@example.com", "Where is my order?", subject="No number")
    assert bot_messages() == []


def test_auto_replies_bounces_lists_and_backdated_messages_get_no_answer(
    app, inbound, make_customer, put_order
):
    from helpdesk.channels.email.inbound import receive

    ada = make_customer("Ada", emails=["ada@example.com"])
    put_order("10023", ada, **SHIPPED)
    inbound(
        "email",
        "ada@example.com",
        "Where is my order 10023?",
        subject="Out of office",
        is_auto=True,
    )
    inbound(
        "email",
        "ada@example.com",
        "Where is my order 10023?",
        subject="History",
        received_at=utcnow() - timedelta(days=2),
    )
    mailbox_row = Channel(
        kind="email",
        name="Shop",
        address="shop@example.com",
        settings={},
        secrets={},
        state={},
        active=False,
    )
    db.session.add(mailbox_row)
    db.session.commit()
    for headers in (
        {"List-Id": "<customers.shop.example>"},
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
    ):
        raw = make_mail(
            sender="ada@example.com",
            to="shop@example.com",
            subject="Where is my order 10023?",
            text="Where is my order 10023?",
            headers=headers,
        )
        assert receive(mailbox_row, raw).outcome == "stored"
    assert bot_messages() == []


def test_no_answer_once_an_agent_has_taken_over(
    inbound, make_customer, put_order, api, admin, twilio_api
):
    ada = make_customer("Ada", phones=["+491713333333"], language="en")
    put_order("10023", ada, **SHIPPED)
    first = inbound("sms", "+491713333333", "Where is my order 10023?")
    assert len(bot_messages(first.ticket.id)) == 1
    # An agent assigns the ticket to themselves: the bot steps back.
    assert (
        api.patch(f"/api/v1/tickets/{first.ticket.id}", json={"assignee": admin.id}).status_code
        == 200
    )
    again = inbound("sms", "+491713333333", "And where is my order 10023 now?")
    assert again.ticket.id == first.ticket.id
    assert len(bot_messages(first.ticket.id)) == 1

    # An agent answered (unassigned ticket): the bot stays quiet too.
    bob = make_customer("Bob", phones=["+491714444444"])
    put_order("10024", bob, **SHIPPED)
    hello = inbound("sms", "+491714444444", "Hallo?")
    assert (
        api.post(
            f"/api/v1/tickets/{hello.ticket.id}/messages",
            json={"body": "Hallo, wie können wir helfen?"},
        ).status_code
        == 201
    )
    asked = inbound("sms", "+491714444444", "Wo ist meine Bestellung 10024?")
    assert asked.ticket.id == hello.ticket.id and bot_messages(hello.ticket.id) == []
    assert [m.form["Body"][0] for m in twilio_api.messages()][-1] == "Hallo, wie können wir helfen?"


def test_the_bot_can_be_switched_off_per_channel(
    client, line, make_customer, put_order, twilio_api
):
    ada = make_customer("Ada", phones=["+491715555555"])
    put_order("10023", ada, **SHIPPED)
    line.settings = {**line.settings, "order_bot": False}
    db.session.commit()
    assert (
        post_signed(
            client, SMS, sms_params("Wo ist meine Bestellung 10023?", "+491715555555")
        ).status_code
        == 200
    )
    assert bot_messages() == [] and twilio_api.messages() == []
    stored = db.session.execute(select(Message)).unique().scalar_one()
    assert stored.meta["order_bot"]["outcome"] == "skipped"
    # Switched on again: the next question is answered.
    db.session.get(Channel, line.id).settings = {"order_bot": True}
    db.session.commit()
    post_signed(client, SMS, sms_params("Lieferstatus 10023", "+491715555555"))
    assert len(bot_messages()) == 1 and len(twilio_api.messages()) == 1


def test_opted_out_sms_customers_get_no_bot_text(
    client, line, make_customer, put_order, twilio_api
):
    ada = make_customer("Ada", phones=["+491716666666"])
    with unit_of_work.write_phase():
        consents.sms_opt_out(ada, True, "STOP")
        db.session.commit()
    put_order("10023", ada, **SHIPPED)
    post_signed(client, SMS, sms_params("Wo ist meine Bestellung 10023?", "+491716666666"))
    assert bot_messages() == [] and twilio_api.messages() == []


def test_each_question_is_answered_once_even_when_the_job_runs_twice_at_once(
    app, inbound, make_customer, put_order, monkeypatch, twilio_api
):
    ada = make_customer("Ada", phones=["+491717777777"])
    put_order("10023", ada, **SHIPPED)
    with monkeypatch.context() as patched:  # store the question without running the bot
        patched.setattr(ingest_module, "_FOLLOW_UPS", [])
        result = inbound("sms", "+491717777777", "Wo ist meine Bestellung 10023?")
    message_id = result.message.id
    db.session.commit()
    at_once(app, lambda: bot.answer(message_id))  # two workers run the job together
    bot.answer(message_id)  # and a late retry
    assert len(bot_messages()) == 1 and len(twilio_api.messages()) == 1
    # Twilio retrying the webhook of a question stores nothing and answers nothing new.
    again = inbound("sms", "+491717777777", "Lieferstatus 10023", external_id="SMretry1")
    inbound("sms", "+491717777777", "Lieferstatus 10023", external_id="SMretry1")
    assert len(bot_messages(again.ticket.id)) == 2 and len(twilio_api.messages()) == 2


def test_the_order_number_pattern_is_configurable(app, inbound, make_customer, put_order):
    app.config["ORDER_NUMBER_PATTERN"] = r"\b(A-\d{4})\b"
    ada = make_customer("Ada", emails=["ada@example.com"], language="en")
    put_order("A-1234", ada, status="shipped")
    put_order("77777", ada, status="shipped")
    first = inbound("email", "ada@example.com", "Where is my order A-1234?", subject="A")
    assert only_answer(first.ticket.id).body_text.startswith("Your order A-1234 has been shipped")
    second = inbound("email", "ada@example.com", "Where is my order 77777?", subject="B")
    assert bot_messages(second.ticket.id) == []
    app.config["ORDER_NUMBER_PATTERN"] = r"(unclosed"  # a broken pattern turns the bot off
    third = inbound("email", "ada@example.com", "Where is my order A-1234?", subject="C")
    assert bot_messages(third.ticket.id) == []


def test_shop_data_cannot_inject_template_syntax_or_links(inbound, make_customer, put_order):
    ada = make_customer("Ada", emails=["ada@example.com"], language="en")
    put_order(
        "10023",
        ada,
        status="shipped",
        carrier="$number ${tracking_url} {{ config }}\nX",
        tracking_number="<b>1</b>",
    )
    body = only_answer(
        inbound("email", "ada@example.com", "Where is my order 10023?", subject="Order").ticket.id
    ).body_text
    assert "Carrier: $number ${tracking_url} {{ config }} X, tracking number <b>1</b>" in body
    assert "Track it here" not in body


# ----- end to end on every channel -------------------------------------------------


@pytest.mark.slow
def test_email_question_through_imap_is_answered_by_smtp_in_the_thread(
    mailbox, imap, smtp_server, make_customer, put_order
):
    ada = make_customer("Ada Lovelace", emails=["ada@example.com"], language="de")
    put_order("10023", ada, **SHIPPED)
    make_customer("Eve", emails=["eve@example.com"])
    deliver(
        imap,
        make_mail(
            sender="ada@example.com",
            subject="Wo ist meine Bestellung 10023?",
            text="Hallo,\n\nwo bleibt meine Bestellung 10023?\n\nGruß Ada",
            message_id="<q1@mail.example.com>",
        ),
    )
    deliver(
        imap,
        make_mail(
            sender="eve@example.com",
            name="Eve",
            subject="Bestellung 10023",
            text="Wo ist meine Bestellung 10023?",
            message_id="<q2@mail.example.com>",
        ),
    )
    [result] = email_imap.poll()
    assert (result.stored, result.error) == (2, None)
    received = smtp_server.handler_obj.received
    assert [r["to"] for r in received] == [["ada@example.com"], ["eve@example.com"]]
    to_ada = message_from_bytes(received[0]["data"], policy=policy.default)
    assert to_ada["In-Reply-To"] == "<q1@mail.example.com>"
    assert to_ada["Auto-Submitted"] == "auto-replied"  # RFC 3834: no reply loops
    assert to_ada["Subject"].startswith("Re: Wo ist meine Bestellung 10023?")
    text = to_ada.get_body(("plain",)).get_content()
    assert "Ihre Bestellung 10023 ist versandt." in text
    assert "https://tracking.example/dhl?piece=JJD0099887766" in text
    assert "12.03.2026" in text
    to_eve = message_from_bytes(received[1]["data"], policy=policy.default)
    eve_text = to_eve.get_body(("plain",)).get_content()
    assert "10023" not in eve_text
    assert "JJD0099887766" not in eve_text and "DHL" not in eve_text
    assert "nicht finden" in eve_text
    assert all(m.status == "sent" for m in bot_messages())
    # Ada's thanks, quoting the bot, is not a new question.
    reply = make_mail(
        sender="ada@example.com",
        subject="Re: Wo ist meine Bestellung 10023?",
        text="Danke!\n\n> Ihre Bestellung 10023 ist versandt.",
        headers={"In-Reply-To": to_ada["Message-ID"], "References": to_ada["Message-ID"]},
    )
    deliver(imap, reply)
    assert email_imap.poll()[0].stored == 1
    assert len(smtp_server.handler_obj.received) == 2


def test_sms_question_through_a_signed_webhook_is_texted_back(
    client, line, make_customer, put_order, twilio_api
):
    eva = make_customer("Eva", phones=["01711234567"], language="de")  # national form
    put_order("10023", eva, **SHIPPED)
    response = post_signed(
        client, SMS, sms_params("Wo ist meine Bestellung 10023?", "+491711234567")
    )
    assert response.status_code == 200
    [sent] = twilio_api.messages()
    assert sent.form["To"] == ["+491711234567"] and sent.form["From"] == [OUR_NUMBER]
    body = sent.form["Body"][0]
    assert "versandt" in body and "DHL" in body and "12.03.2026" in body
    assert "https://tracking.example/dhl?piece=JJD0099887766" in body
    # A stranger texting the same number learns nothing.
    post_signed(client, SMS, sms_params("Wo ist meine Bestellung 10023?", "+491719999999"))
    stranger = twilio_api.messages()[-1]
    assert stranger.form["To"] == ["+491719999999"]
    assert stranger.form["Body"] == [
        "Wir konnten diese Bestellung unter Ihren Kontaktdaten "
        "nicht finden; jemand aus unserem Team kümmert sich darum."
    ]


def impostor_call(visitor):
    """The visitor types a known customer's email into the chat (unverified)."""
    return visitor.call("identify", {"name": "Ada", "email": "ada@example.com"})


@pytest.mark.slow
def test_chat_question_is_answered_to_the_visitor_by_the_bot(
    live_server, make_customer, put_order, make_agent, make_token
):
    channel, secret = create_chat_channel("Shop chat", team="Support", origins=[SHOP])
    db.session.commit()
    ada = make_customer("Ada", emails=["ada@example.com"], language="en")
    put_order("10023", ada, **SHIPPED)
    pat = make_agent("pat@example.com", teams=["Support"])
    agent = Listener(live_server, auth={"token": make_token(pat)})  # someone is online
    token = f"ada@example.com:{identity_hash(secret, 'ada@example.com')}"
    visitor = Visitor(live_server, channel.address, SHOP, identity=token)
    stranger = Visitor(live_server, channel.address, SHOP)
    try:
        assert visitor.wait_for("session")["identified"] is True
        sent = visitor.call("message", {"text": "Where is my order #10023?", "client_id": "c1"})
        got = visitor.wait_for("message", where=lambda d: d["author"] == "bot")
        assert got["text"].startswith("Your order 10023 has been shipped.\nCarrier: DHL")
        assert "https://tracking.example/dhl?piece=JJD0099887766" in got["text"]
        assert got["name"] is None
        created = agent.wait_for(
            "message.created", where=lambda d: d["message"]["author"]["kind"] == "bot"
        )
        assert created["ticket"]["id"] == sent["ticket"]
        stranger.wait_for("session")
        stranger.call("message", {"text": "10023"})
        neutral = stranger.wait_for("message", where=lambda d: d["author"] == "bot")
        assert neutral["text"] == NEUTRAL_EN
        assert "10023" not in " ".join(t for t in stranger.texts() if t != "10023")
        assert all("JJD" not in t for t in stranger.texts())
        # Typing Ada's email into the chat proves nothing: still the neutral answer.
        assert impostor_call(stranger)["ok"] is True
        stranger.call("message", {"text": "Where is my order #10023?"})
        answers = [d for e, d in list(stranger.events) if e == "message" and d["author"] == "bot"]
        for _ in range(250):
            if len(answers) >= 2:
                break
            threading.Event().wait(0.02)
            answers = [
                d for e, d in list(stranger.events) if e == "message" and d["author"] == "bot"
            ]
        assert [a["text"] for a in answers] == [NEUTRAL_EN, NEUTRAL_EN]
        assert all("JJD" not in t and "shipped" not in t for t in stranger.texts())
    finally:
        visitor.close()
        stranger.close()
        agent.close()
    assert ticket(sent["ticket"]).customer_id == ada.id
