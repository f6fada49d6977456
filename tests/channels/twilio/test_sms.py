"""SMS over Twilio: signed webhooks in, REST client out (to a local stand-in), status back."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from helpdesk.channels.twilio import sms as twilio_sms
from helpdesk.customers import consents
from helpdesk.customers.models import Customer, Identity
from helpdesk.extensions import db
from helpdesk.tickets import attachments
from helpdesk.tickets.models import Message, MessageSource, Ticket, TicketEvent
from tests.fixtures.corpora import corpus
from tests.fixtures.twilio import (
    ACCOUNT,
    OUR_NUMBER,
    TOKEN,
    post_signed,
    sign,
    sms_params,
    twilio_config,
)

SMS = "/webhooks/twilio/sms"


@pytest.fixture
def app_config(twilio_api):
    """Every app of these tests talks to the local Twilio stand-in."""
    return twilio_config(twilio_api)


@pytest.fixture
def line(make_line):
    """Our number, routed to team Phones."""
    return make_line("Phones")


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def messages() -> list[Message]:
    return db.session.execute(select(Message).order_by(Message.id)).unique().scalars().all()


def test_signed_sms_creates_a_ticket_for_the_right_customer(client, line, make_customer):
    customer = make_customer("Eva Example", phones=["01711234567"])  # stored in national form
    response = post_signed(client, SMS, sms_params("Wo ist mein Paket 12345?", "+491711234567"))
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.data.decode().endswith("<Response />")
    ticket = db.session.execute(select(Ticket)).unique().scalar_one()
    assert (ticket.customer_id, ticket.channel, ticket.channel_id, ticket.team_id) == (
        customer.id,
        "sms",
        line.id,
        line.team_id,
    )
    assert ticket.contact == "+491711234567"
    [message] = messages()
    assert (message.body_text, message.sender, message.direction) == (
        "Wo ist mein Paket 12345?",
        "+491711234567",
        "in",
    )
    assert count(Customer) == 1


def test_zammad_sequence_threads_dedups_and_opens_a_new_ticket_after_close(client, line, api):
    folder = corpus("twilio", "zammad")
    expectations = json.loads((folder / "expectations.json").read_text())["sequence"]
    payloads = [json.loads((folder / f"inbound_sms{n}.json").read_text()) for n in (1, 2, 3)]
    for payload in payloads:
        payload["To"] = OUR_NUMBER  # the corpus number is theirs; the channel is ours
    assert post_signed(client, SMS, payloads[0]).status_code == 200
    first = db.session.execute(select(Ticket)).unique().scalar_one()
    assert first.subject == expectations[0]["expect"]["ticket.title"]
    assert first.status == "new"
    assert post_signed(client, SMS, payloads[1]).status_code == 200
    assert post_signed(client, SMS, payloads[1]).status_code == 200  # Twilio's retry
    assert count(Ticket) == 1 and count(Message) == expectations[1]["expect"]["ticket.articles"]
    assert messages()[-1].body_text == "Follow-up"
    assert api.patch(f"/api/v1/tickets/{first.id}", json={"status": "closed"}).status_code == 200
    assert post_signed(client, SMS, payloads[2]).status_code == 200
    newest = (
        db.session.execute(select(Ticket).order_by(Ticket.id.desc())).unique().scalars().first()
    )
    assert newest.id != first.id and newest.subject == "new 2"
    assert count(Customer) == 1


def test_same_message_sid_twice_is_stored_once(client, line):
    params = sms_params("hello", sid="SM" + "1" * 32)
    for _ in range(3):
        assert post_signed(client, SMS, params).status_code == 200
    assert count(Message) == 1 and count(Ticket) == 1


@pytest.mark.parametrize(
    "case", ["wrong", "missing", "other_url", "changed_field", "other_token", "added_field"]
)
def test_badly_signed_requests_are_refused_and_store_nothing(client, line, case):
    params = sms_params("hi", "+491711234567")
    signature = sign("http://localhost" + SMS, params)
    headers = {"X-Twilio-Signature": signature}
    if case == "wrong":
        headers["X-Twilio-Signature"] = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    elif case == "missing":
        headers = {}
    elif case == "other_url":
        headers["X-Twilio-Signature"] = sign("http://localhost/webhooks/twilio/voice", params)
    elif case == "changed_field":  # a replay of a genuine request with another text
        params = {**params, "Body": "send the refund to my other account"}
    elif case == "other_token":
        headers["X-Twilio-Signature"] = sign("http://localhost" + SMS, params, "not-our-token")
    elif case == "added_field":
        params = {**params, "MediaUrl0": "http://169.254.169.254/latest", "NumMedia": "1"}
    response = client.post(SMS, data=params, headers=headers)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "invalid_signature"
    assert count(Message) == 0 and count(Customer) == 0 and count(Ticket) == 0


def test_without_an_auth_token_every_webhook_is_refused(make_app, _schema):
    app = make_app(TWILIO_AUTH_TOKEN=None)
    with app.app_context():
        client = app.test_client()
        response = post_signed(client, SMS, sms_params())
        assert response.status_code == 403
        assert count(Message) == 0


def test_public_url_is_what_the_signature_covers(make_app, twilio_api, _schema):
    app = make_app(**twilio_config(twilio_api, PUBLIC_URL="https://help.example.com/desk"))
    with app.app_context():
        client = app.test_client()
        params = sms_params("behind a proxy")
        # Signed for our own URL as the proxy sees it: refused.
        assert post_signed(client, SMS, params).status_code == 403
        response = post_signed(
            client,
            SMS + "?source=console",
            params,
            signature=sign("https://help.example.com/desk" + SMS + "?source=console", params),
        )
        assert response.status_code == 200
        assert count(Message) == 1


def test_mms_media_are_recorded_and_fetched_from_twilio_by_a_job(client, line, twilio_api):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    url = twilio_api.add_media("image/png", png)
    params = sms_params(
        "see photo",
        NumMedia="2",
        MediaUrl0=url,
        MediaContentType0="image/png",
        MediaUrl1="http://169.254.169.254/latest/meta-data",
        MediaContentType1="image/jpeg",
    )
    assert post_signed(client, SMS, params).status_code == 200
    db.session.expire_all()
    [message] = messages()
    fetched, refused = message.attachments
    assert (fetched.filename, fetched.content_type, fetched.size) == (
        "media-1.png",
        "image/png",
        len(png),
    )
    assert attachments.load(fetched.sha256) == png
    assert refused.sha256 is None and refused.source_url.startswith("http://169.254")
    assert message.needs_review and "not on Twilio" in message.review_reason
    media_get = [r for r in twilio_api.requests if r.method == "GET"]
    assert len(media_get) == 1 and media_get[0].auth == (ACCOUNT, TOKEN)


def test_chatwoot_mms_payloads_become_attachments(client, line):
    cases = {
        c["name"]: c
        for c in json.loads((corpus("twilio", "chatwoot") / "twilio_payloads.json").read_text())[
            "inbound_messages"
        ]
    }
    for name, sid in (("mms_one_image", "SM1"), ("mms_two_media", "SM2")):
        params = {**cases[name]["params"], "SmsSid": sid, "To": OUR_NUMBER}
        assert post_signed(client, SMS, params).status_code == 200
    one, two = messages()
    assert [a.content_type for a in one.attachments] == ["image/jpeg"]
    assert [a.content_type for a in two.attachments] == ["image/png", "image/jpeg"]
    assert two.body_text == "testing multiple media"
    assert all(a.source_url.startswith("https://chatwoot-assets.local/") for a in two.attachments)


def test_chatwoot_hostile_bodies(client, line):
    cases = {
        c["name"]: c
        for c in json.loads((corpus("twilio", "chatwoot") / "twilio_payloads.json").read_text())[
            "inbound_messages"
        ]
    }
    for name in (
        "null_bytes_in_body",
        "missing_body",
        "whatsapp_location",
        "whatsapp_profile_name",
    ):
        params = {**cases[name]["params"], "SmsSid": f"SM-{name}", "To": OUR_NUMBER}
        assert post_signed(client, SMS, params).status_code == 200, name
    by_sid = {m.external_id: m for m in messages()}
    assert by_sid["SM-null_bytes_in_body"].body_text == "remove null bytes"
    assert by_sid["SM-missing_body"].body_text == ""
    assert "12.160894393921, 75.265205383301" in by_sid["SM-whatsapp_location"].body_text
    profile = db.session.get(
        Customer, db.session.get(Ticket, by_sid["SM-whatsapp_profile_name"].ticket_id).customer_id
    )
    assert profile.name == "John Doe"


@pytest.mark.parametrize("sender", ["", "client:alice", "anonymous", "+0000"])
def test_senders_that_are_not_phone_numbers_are_kept_for_review(client, line, sender):
    params = sms_params("who am I", sender)
    if not sender:
        del params["From"]
    assert post_signed(client, SMS, params).status_code == 200
    [message] = messages()
    assert message.body_text == "who am I" and message.needs_review
    assert count(Identity) == 0  # no phone identity made up from a non-number


def test_long_unicode_and_emoji_bodies_are_kept_whole(client, line):
    long_text = ("Grüße aus Köln 👋🏽 " * 600)[:10_240]
    assert post_signed(client, SMS, sms_params(long_text, sid="SMlong")).status_code == 200
    emoji = "📦 wo bleibt 包裹? Ünïcödé ✓"
    assert post_signed(client, SMS, sms_params(emoji, sid="SMemoji")).status_code == 200
    kept = {m.external_id: m.body_text for m in messages()}
    assert kept == {"SMlong": long_text, "SMemoji": emoji}


def test_invalid_utf8_is_read_as_windows_1252_and_the_raw_request_kept(client, line):
    params = sms_params("PLACEHOLDER", sid="SMlatin1")
    body = "&".join(f"{k}={v}" for k, v in params.items() if k != "Body").replace("+", "%2B")
    body = (body + "&Body=Caf%E9+%FCber+%80").encode()
    # Signed over the fields as any form parser reads them (Twilio itself sends UTF-8 only).
    from werkzeug.datastructures import MultiDict
    from werkzeug.formparser import parse_form_data
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(
        method="POST", data=body, content_type="application/x-www-form-urlencoded"
    ).get_environ()
    form: MultiDict = parse_form_data(environ)[1]
    response = client.post(
        SMS,
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": sign("http://localhost" + SMS, form)},
    )
    assert response.status_code == 200
    [message] = messages()
    assert message.body_text == "Café über €"
    assert message.needs_review and "not valid UTF-8" in message.review_reason
    assert db.session.get(MessageSource, message.id).raw == body
    forged = client.post(
        SMS,
        data=body.replace(b"%80", b"%81"),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": sign("http://localhost" + SMS, form)},
    )
    assert forged.status_code == 403 and count(Message) == 1


def test_stop_marks_the_customer_and_start_undoes_it(client, line):
    assert post_signed(client, SMS, sms_params("hi", sid="SMa")).status_code == 200
    assert post_signed(client, SMS, sms_params(" stop ", sid="SMb")).status_code == 200
    customer = db.session.execute(select(Customer)).unique().scalar_one()
    assert consents.sms_blocked(customer)
    assert consents.of(customer, "sms_marketing").source == "sms opt-out: stop"
    assert count(Message) == 2  # the STOP itself is kept on the conversation
    assert db.session.scalar(select(TicketEvent.kind).where(TicketEvent.kind == "sms_opt_out"))
    assert post_signed(client, SMS, sms_params("START", sid="SMc")).status_code == 200
    db.session.expire_all()
    customer = db.session.get(Customer, customer.id)
    assert not consents.sms_blocked(customer)
    assert not consents.granted(customer, "sms_marketing")  # START grants no marketing


def test_split_and_segments_follow_twilio():
    assert twilio_sms.segments("a" * 160) == 1 and twilio_sms.segments("a" * 161) == 2
    assert twilio_sms.segments("€" * 80) == 1 and twilio_sms.segments("€" * 81) == 2
    assert twilio_sms.segments("ü" * 70) == 1  # ü is GSM-7
    assert twilio_sms.segments("ł" * 70) == 1 and twilio_sms.segments("ł" * 71) == 2
    assert twilio_sms.segments("👋" * 35) == 1 and twilio_sms.segments("👋" * 36) == 2
    text = "word " * 700
    parts = twilio_sms.split_text(text)
    assert "".join(parts) == text and all(len(p) <= 1600 for p in parts) and len(parts) == 3
    assert all(p.endswith(" ") for p in parts[:-1])
    emoji = "👋" * 1000  # 2000 UTF-16 units
    assert [len(p) for p in twilio_sms.split_text(emoji)] == [800, 200]
    assert twilio_sms.split_text("") == [""]
