"""Campaigns through the API and the services: drafts and their placeholders, preview,
who may use them, sending to consenting customers only (real SMTP), unsubscribing by
one-click POST and by the page's button, cancel, replies and bounces."""

from __future__ import annotations

import re
import time

import pytest

from helpdesk import unit_of_work
from helpdesk.campaigns import content, recovery, sending, services
from helpdesk.campaigns.models import BouncedAddress, Campaign, CampaignRecipient
from helpdesk.channels.inbound import InboundMessage
from helpdesk.customers import consents
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.tickets.ingest import ingest
from helpdesk.tickets.models import TicketEvent
from tests.campaigns.helpers import bulk_customers, mailbox_on, mails
from tests.fixtures.agents import login

V1 = "/api/v1"


@pytest.fixture
def app_config():
    """No throttle in tests (the throttle has a test of its own)."""
    return {"CAMPAIGN_EMAIL_RATE": 0, "CAMPAIGN_SMS_RATE": 0}


def segment_of_everyone(api) -> int:
    made = api.post(f"{V1}/segments", json={"name": "Everyone", "filter": {}, "shared": True})
    assert made.status_code == 201, made.json
    return made.json["id"]


def draft(api, segment: int, **fields) -> dict:
    body = {
        "name": "Recall",
        "segment": segment,
        "channel": "email",
        "subject": "About your order, {first_name}",
        "body": "Dear {customer_name} of {organization},\n\nplease return the kettle.",
        **fields,
    }
    made = api.post(f"{V1}/campaigns", json=body)
    assert made.status_code == 201, made.json
    return made.json


def test_placeholders_are_checked_and_only_leads_and_admins_see_campaigns(api, api_as, make_agent):
    segment = segment_of_everyone(api)
    for bad in (
        "{customer_name.__class__}",
        "{0}",
        "{customer_name!r}",
        "{x}",
        "{first_name:>9}",
        "{",
    ):
        answer = api.post(
            f"{V1}/campaigns", json={"name": "x", "segment": segment, "body": f"Hi {bad}"}
        )
        assert answer.status_code == 422, (bad, answer.json)
        assert "body" in answer.json["error"]["fields"]
    assert db.session.query(Campaign).count() == 0
    made = draft(api, segment)
    assert made["status"] == "draft" and made["counts"]["recipients"] == 0
    agent = make_agent("plain@example.com")
    assert api_as(agent).get(f"{V1}/campaigns/{made['id']}").status_code == 404
    assert api_as(agent).get(f"{V1}/campaigns").status_code == 404
    lead = make_agent("lead@example.com", role="lead")
    assert api_as(lead).get(f"{V1}/campaigns").json["items"][0]["id"] == made["id"]


def test_an_account_manager_gets_404_from_every_campaign_route(app, api, api_as, make_agent):
    """A campaign goes to a whole segment: an account manager, who sees only their own
    customers, has no campaigns at all, not even a lead (agents.access.can_use_campaigns).
    Every campaign route, API and page, found in the URL map, answers 404 and writes nothing."""
    made = draft(api, segment_of_everyone(api))
    manager = make_agent("konto@example.com", role="lead", own_accounts_only=True)
    as_manager = api_as(manager)
    web = app.test_client()
    login(web, manager.email)
    walked = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in ("campaigns", "campaigns_api"):
            continue
        path = rule.build({"campaign_id": made["id"]}, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if path.startswith(V1):
                answer = as_manager.open(path, method=method, json={} if method != "GET" else None)
            else:
                answer = web.open(path, method=method)
            assert answer.status_code == 404, (method, path, answer.status_code)
            walked.append(rule.endpoint)
    assert len(set(walked)) >= 11, walked  # the three pages and the eight API routes
    db.session.expire_all()
    assert db.session.get(Campaign, made["id"]).status == "draft"
    assert db.session.query(Campaign).count() == 1


def test_preview_fills_in_one_customer(api, make_customer):
    segment = segment_of_everyone(api)
    ada = make_customer("Ada Lovelace", emails=["ada@example.com"])
    made = draft(api, segment, body="Hello {first_name} ({customer_name}), {{literally}}")
    shown = api.post(f"{V1}/campaigns/{made['id']}/preview", json={"customer": ada.id})
    assert shown.status_code == 200, shown.json
    assert shown.json["body"] == "Hello Ada (Ada Lovelace), {literally}"
    assert shown.json["subject"] == "About your order, Ada"


def test_an_email_campaign_reaches_consenting_customers_once_with_unsubscribe(
    api, app, smtp_server, client
):
    segment = segment_of_everyone(api)
    mailbox_on(smtp_server)
    ids = bulk_customers(30, consenting=lambda n: n % 3 != 0)  # 20 say yes, 10 never did
    made = draft(api, segment)
    sent = api.post(f"{V1}/campaigns/{made['id']}/send")  # in-process without Redis
    assert sent.status_code == 202, sent.json
    campaign = api.get(f"{V1}/campaigns/{made['id']}").json
    assert campaign["status"] == "sent"
    assert campaign["counts"]["recipients"] == 30
    assert campaign["counts"]["sent"] == 20 and campaign["counts"]["skipped_no_consent"] == 10
    got = mails(smtp_server)
    to = sorted(m["To"].addresses[0].addr_spec for m in got)
    assert to == sorted(f"c{n}@example.com" for n in range(30) if n % 3 != 0)
    first = got[0]
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.fullmatch(r"<(https?://[^>]+)>", first["List-Unsubscribe"].strip()).group(1)
    text = first.get_body(("plain",)).get_content()
    assert link in text and "please return the kettle" in text
    assert first.get_body(("html",)).get_content().count(link) >= 1
    assert first["Subject"].startswith("About your order, Customer")
    row = db.session.query(CampaignRecipient).filter_by(provider_id=first["Message-ID"]).one()
    assert row.state == "sent" and row.address == first["To"].addresses[0].addr_spec
    # Built from what the campaign's mails share (content.Mails), the same bytes as the
    # one-mail writer gives (apart from the MIME boundary and the Date).
    customer = db.session.get(Customer, row.customer_id)
    alone = content.email(
        sender="news@example.com",
        sender_name="News",
        to=row.address,
        to_name=customer.name,
        subject=f"About your order, {customer.name.split()[0]}",
        body=f"Dear {customer.name} of ,\n\nplease return the kettle.",
        msgid=first["Message-ID"],
        link=content.unsubscribe_url(row.id),
        language=None,
        campaign_id=made["id"],
    )
    raw = smtp_server.handler_obj.received[0]["data"]

    def same(data: bytes) -> bytes:
        data = re.sub(rb"==hd-[0-9a-f]+==", b"B", data)
        return re.sub(rb"\r\nDate: [^\r]+", b"", data).replace(b"\r\n", b"\n")

    assert same(raw) == same(alone)

    # One-click (RFC 8058): a POST with List-Unsubscribe=One-Click, no session, no CSRF.
    path = link.split("://", 1)[1].split("/", 1)[1]
    answer = client.post("/" + path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    customer = db.session.get(Customer, row.customer_id)
    db.session.refresh(customer)
    consent = consents.of(customer, "email_marketing")
    assert consent.granted is False and consent.source == f"unsubscribe: campaign {made['id']}"
    assert api.get(f"{V1}/campaigns/{made['id']}").json["counts"]["unsubscribed"] == 1
    assert client.post("/unsubscribe/forged-token").status_code == 404

    # The link: the page, then its button (a POST of the page's form).
    other = got[1]
    other_link = re.fullmatch(r"<(https?://[^>]+)>", other["List-Unsubscribe"].strip()).group(1)
    other_path = "/" + other_link.split("://", 1)[1].split("/", 1)[1]
    page = client.get(other_path)
    assert page.status_code == 200 and b'method="post"' in page.data
    assert client.post(other_path).status_code == 200
    other_row = db.session.query(CampaignRecipient).filter_by(provider_id=other["Message-ID"]).one()
    assert not consents.granted(db.session.get(Customer, other_row.customer_id), "email_marketing")
    assert ids  # (made in bulk)

    # A reply threads to the campaign mail: a ticket linked to the campaign.
    result = ingest(
        InboundMessage(
            channel="email",
            sender_kind="email",
            sender=other_row.address,
            text="Which kettle?",
            subject="Re: About your order",
            external_id="<reply-1@example.com>",
            references=[other["Message-ID"]],
        )
    )
    db.session.refresh(other_row)
    assert other_row.reply_ticket_id == result.ticket.id
    trail = db.session.query(TicketEvent).filter_by(
        ticket_id=result.ticket.id, kind="campaign_reply"
    )
    assert trail.one().data == {"campaign": made["id"]}

    # A bounce naming a campaign mail: failed, the address marked, skipped next time.
    bounced = got[2]
    ingest(
        InboundMessage(
            channel="email",
            sender_kind="email",
            sender="mailer-daemon@example.net",
            text="550 no such user",
            subject="Undelivered Mail Returned to Sender",
            external_id="<dsn-1@example.net>",
            is_auto=True,
            references=[bounced["Message-ID"]],
            undelivered=[bounced["Message-ID"]],
            undelivered_reason="550 5.1.1 no such user",
        )
    )
    counts = api.get(f"{V1}/campaigns/{made['id']}").json["counts"]
    assert counts["failed"] == 1 and counts["sent"] == 19
    address = bounced["To"].addresses[0].addr_spec
    assert db.session.query(BouncedAddress).filter_by(address=address).count() == 1


@pytest.mark.parametrize("pipelining", [False, True])
def test_cancel_stops_sending(api, app, smtp_server, pipelining):
    segment = segment_of_everyone(api)
    mailbox_on(smtp_server)
    bulk_customers(40)
    made = draft(api, segment)
    handler = smtp_server.handler_obj
    handler.pipelining = (
        pipelining  # the dots of a batch and the next batch's commands in one write
    )

    def cancel_at_the_fifth(raw, rcpts):
        """Cancel while the first batch is in flight (the sender waits for this answer)."""
        if len(handler.received) == 5:
            with app.app_context(), unit_of_work.writing():
                services.cancel(db.session.get(Campaign, made["id"]))
                unit_of_work.commit()
                db.session.remove()

    handler.relay = cancel_at_the_fifth
    assert api.post(f"{V1}/campaigns/{made['id']}/send").status_code == 202
    counts = api.get(f"{V1}/campaigns/{made['id']}").json
    assert counts["status"] == "cancelled"
    got = len(handler.received)
    assert got == sending.CONNECTIONS  # the batch in flight, and nothing after it
    assert counts["counts"]["sent"] == got and counts["counts"]["cancelled"] == 40 - got
    recovery.resume()  # nothing restarts a cancelled campaign
    assert db.session.get(Campaign, made["id"]).status == "cancelled"


def test_refusals_over_pipelining_fail_or_retry_and_the_rest_is_sent_once(api, smtp_server):
    """With PIPELINING each connection carries the last mail's dot and the next mail's
    MAIL, RCPT and DATA in one write; a refused recipient (for good, 550; for now, 451,
    tried three times) leaves the connection usable (RSET) for the mails after it."""
    segment = segment_of_everyone(api)
    mailbox_on(smtp_server)
    bulk_customers(sending.CONNECTIONS + 15)  # more than a batch: connections reused
    made = draft(api, segment)
    handler = smtp_server.handler_obj
    handler.pipelining = True
    answers = {"c3@example.com": "550 5.1.1 no such user", "c25@example.com": "451 4.3.0 later"}
    handler.refuse_rcpt = lambda address: answers.get(address)
    assert api.post(f"{V1}/campaigns/{made['id']}/send").status_code == 202
    counts = api.get(f"{V1}/campaigns/{made['id']}").json["counts"]
    total = sending.CONNECTIONS + 15
    assert counts["sent"] == total - 2 and counts["failed"] == 2 and counts["pending"] == 0
    got = mails(smtp_server)
    to = sorted(m["To"].addresses[0].addr_spec for m in got)
    assert to == sorted(f"c{n}@example.com" for n in range(total) if n not in (3, 25))
    for mail in got:  # each filled in for its own customer (batches after the first too)
        n = mail["To"].addresses[0].addr_spec.split("@")[0][1:]
        assert f"Dear Customer {n} of ," in mail.get_body(("plain",)).get_content()
    rows = {
        r.address: r
        for r in db.session.query(CampaignRecipient).filter(CampaignRecipient.address.in_(answers))
    }
    assert rows["c3@example.com"].error.startswith("550") and rows["c3@example.com"].attempts == 1
    assert rows["c25@example.com"].error.startswith("451")
    assert rows["c25@example.com"].attempts == sending.MAX_ATTEMPTS


def test_the_throttle_keeps_the_channels_rate(api, app, smtp_server):
    segment = segment_of_everyone(api)
    mailbox_on(smtp_server)
    bulk_customers(20)
    made = draft(api, segment)
    app.config["CAMPAIGN_EMAIL_RATE"] = 20  # 20 mails at 20 a second: at least a second
    started = time.monotonic()
    assert api.post(f"{V1}/campaigns/{made['id']}/send").status_code == 202
    assert time.monotonic() - started >= 1.0
    assert len(smtp_server.handler_obj.received) == 20
