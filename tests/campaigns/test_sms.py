"""An SMS campaign through the Twilio stand-in: consent respected, the opt-out line,
STOP revokes, a reply within days lands linked to the campaign, and a text a dead
worker may have sent is looked up in Twilio's list instead of being sent again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpdesk import unit_of_work
from helpdesk.campaigns import recovery
from helpdesk.campaigns.models import Campaign, CampaignRecipient
from helpdesk.customers import consents
from helpdesk.customers.models import Customer
from helpdesk.db import utcnow
from helpdesk.extensions import db
from tests.campaigns.helpers import bulk_customers
from tests.fixtures.twilio import post_signed, sms_params, twilio_config

V1 = "/api/v1"


@pytest.fixture
def app_config(twilio_api):
    return twilio_config(twilio_api, CAMPAIGN_SMS_RATE=0, CAMPAIGN_LEASE_SECONDS=1)


def test_an_sms_campaign_respects_consent_stop_and_replies(api, app, client, twilio_api):
    segment = api.post(f"{V1}/segments", json={"name": "All", "filter": {}, "shared": True}).json
    bulk_customers(6, consenting=lambda n: n < 4, kind="phone")
    made = api.post(
        f"{V1}/campaigns",
        json={
            "name": "Delay",
            "segment": segment["id"],
            "channel": "sms",
            "body": "Hi {first_name}, your delivery is late.",
        },
    ).json
    assert api.post(f"{V1}/campaigns/{made['id']}/send").status_code == 202
    counts = api.get(f"{V1}/campaigns/{made['id']}").json
    assert counts["status"] == "sent", counts
    assert counts["counts"]["sent"] == 4 and counts["counts"]["skipped_no_consent"] == 2
    texts = twilio_api.messages()
    assert sorted(t.form["To"][0] for t in texts) == [f"+4915190{n:06d}" for n in range(4)]
    assert all("Reply STOP to opt out." in t.form["Body"][0] for t in texts)
    assert "Hi Customer, your delivery is late." in texts[0].form["Body"][0]
    rows = db.session.query(CampaignRecipient).filter_by(state="sent").all()
    assert {r.provider_id for r in rows} == {m["sid"] for m in twilio_api.created}

    # A reply from a recipient within days: a ticket linked to the campaign.
    answer = post_signed(
        client, "/webhooks/twilio/sms", sms_params("Which order?", "+4915190000001")
    )
    assert answer.status_code == 200
    replied = db.session.query(CampaignRecipient).filter_by(address="+4915190000001").one()
    assert replied.reply_ticket_id is not None
    # STOP revokes the SMS consent (as for any SMS).
    post_signed(client, "/webhooks/twilio/sms", sms_params("STOP", "+4915190000002"))
    stopped = db.session.query(CampaignRecipient).filter_by(address="+4915190000002").one()
    customer = db.session.get(Customer, stopped.customer_id)
    db.session.refresh(customer)
    assert consents.sms_blocked(customer) and not consents.granted(customer, "sms_marketing")


def test_a_text_a_dead_worker_sent_is_found_in_twilios_list_not_sent_again(api, app, twilio_api):
    segment = api.post(f"{V1}/segments", json={"name": "All", "filter": {}, "shared": True}).json
    bulk_customers(2, kind="phone")
    made = api.post(
        f"{V1}/campaigns",
        json={"name": "Delay", "segment": segment["id"], "channel": "sms", "body": "Late."},
    ).json
    assert api.post(f"{V1}/campaigns/{made['id']}/send").status_code == 202
    assert len(twilio_api.messages()) == 2
    # As if the worker died after Twilio took the first text, before recording it, and
    # before it claimed the second one.
    first, second = db.session.query(CampaignRecipient).order_by(CampaignRecipient.id).all()
    with unit_of_work.write_phase():
        long_ago = utcnow() - timedelta(seconds=5)
        first.state, first.provider_id, first.claimed_at = "sending", None, long_ago
        second.state, second.provider_id, second.claimed_at = "sending", None, long_ago
        twilio_api.created.pop()  # Twilio never got the second one
        campaign = db.session.get(Campaign, made["id"])
        campaign.status, campaign.heartbeat_at = "sending", long_ago
        db.session.commit()
    recovery.resume()
    db.session.expire_all()
    assert first.state == "sent" and first.provider_id == twilio_api.created[0]["sid"]
    assert second.state == "sent"  # sent again: Twilio's list did not have it
    assert len(twilio_api.messages()) == 3  # the first one not twice
    assert [m.form["To"][0] for m in twilio_api.messages()].count(first.address) == 1
