"""MailChimp: a segment synced to an audience through the batch upsert (against a local
stand-in of the Marketing API), consent as subscription status, and MailChimp's
unsubscribe webhook revoking the consent."""

from __future__ import annotations

from sqlalchemy import select

from helpdesk.audit.models import AuditEvent
from helpdesk.customers import consents
from helpdesk.extensions import db
from helpdesk.integrations.mailchimp import sync


def newsletter(api, make_customer):
    """A segment of four tagged customers: granted, refused, never asked, no address."""
    yes = {"email_marketing": {"granted": True}}
    no = {"email_marketing": {"granted": False}}
    make_customer("Ada Lovelace", emails=["ada@example.com"], tags=["news"], consents=yes)
    make_customer("Bob Byte", emails=["bob@example.com"], tags=["news"], consents=no)
    make_customer("Cy Never", emails=["cy@example.com"], tags=["news"])
    make_customer("Di Nomail", phones=["+491701234567"], tags=["news"], consents=yes)
    make_customer("Ed Other", emails=["ed@example.com"], consents=yes)
    made = api.post("/api/v1/segments", json={"name": "News", "filter": {"tag": "news"}})
    assert made.status_code == 201
    return made.get_json()["id"]


def test_segment_synced_with_consent_as_status(app, api, make_customer, mailchimp_api):
    segment = newsletter(api, make_customer)
    linked = api.post(
        "/api/v1/integrations/mailchimp", json={"segment": segment, "list_id": "a1b2c3"}
    )
    assert linked.status_code == 201, linked.get_json()
    assert "/webhooks/mailchimp/" in linked.get_json()["webhook_url"]
    # Without Redis the first sync ran after the commit, in the process.
    (sent,) = mailchimp_api.requests
    assert sent["path"] == "/3.0/lists/a1b2c3" and sent["body"]["update_existing"] is True
    members = {m["email_address"]: m for m in sent["body"]["members"]}
    assert {e: m["status"] for e, m in members.items()} == {
        "ada@example.com": "subscribed",
        "bob@example.com": "unsubscribed",
    }
    assert members["ada@example.com"]["merge_fields"] == {"FNAME": "Ada", "LNAME": "Lovelace"}
    listed = api.get("/api/v1/integrations/mailchimp").get_json()["items"]
    assert listed[0]["last_result"]["created"] == 2 and listed[0]["last_result"]["skipped"] == 2
    assert "webhook_url" not in listed[0]

    again = api.post(f"/api/v1/integrations/mailchimp/{listed[0]['id']}/sync")
    assert again.status_code == 202
    assert len(mailchimp_api.requests) == 2
    result = api.get("/api/v1/integrations/mailchimp").get_json()["items"][0]["last_result"]
    assert (result["created"], result["updated"], result["error"]) == (0, 2, None)
    assert (
        api.post(
            "/api/v1/integrations/mailchimp", json={"segment": segment, "list_id": "a1b2c3"}
        ).status_code
        == 409
    )


def test_unsubscribe_webhook_revokes_the_consent(app, client, api, make_customer, mailchimp_api):
    segment = newsletter(api, make_customer)
    url = api.post(
        "/api/v1/integrations/mailchimp", json={"segment": segment, "list_id": "a1b2c3"}
    ).get_json()["webhook_url"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert client.get(f"/{path}").status_code == 200  # MailChimp's check of the URL
    form = {"type": "unsubscribe", "data[email]": "Ada@Example.com", "data[list_id]": "a1b2c3"}
    assert client.post(f"/{path[:-3]}xyz", data=form).status_code == 403  # a wrong secret
    assert client.post(f"/{path}", data=form).status_code == 200
    db.session.rollback()
    ada = sync.customers.find_by_identity("email", "ada@example.com")
    consent = consents.of(ada, "email_marketing")
    assert (consent.granted, consent.source) == (False, "mailchimp")
    assert db.session.scalar(
        select(AuditEvent.id)
        .where(AuditEvent.action == "consent.change", AuditEvent.object_id == ada.id)
        .order_by(AuditEvent.id.desc())
    )
    link_id = int(path.split("/")[2])
    sync.sync(link_id)
    members = {
        m["email_address"]: m["status"] for m in mailchimp_api.requests[-1]["body"]["members"]
    }
    assert members["ada@example.com"] == "unsubscribed"

    app.config["MAILCHIMP_API_KEY"] = "wrong-us21"  # a refused key: said on the link
    sync.sync(link_id)
    result = api.get("/api/v1/integrations/mailchimp").get_json()["items"][0]["last_result"]
    assert "401" in result["error"] and "API key" in result["error"]
