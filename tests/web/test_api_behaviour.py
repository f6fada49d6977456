"""REST API v1 behaviour: CRM operations, data minimisation, access, pagination, query counts."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from helpdesk.channels.inbound import InboundAttachment
from helpdesk.customers.models import Customer, Identity, Note, Order
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket


def test_duplicate_identity_is_a_conflict_and_changes_nothing(api):
    assert api.post("/api/v1/customers", json={"emails": ["ada@example.com"]}).status_code == 201
    again = api.post("/api/v1/customers", json={"name": "Other", "emails": ["ADA@example.com"]})
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"
    assert db.session.scalar(select(func.count(Customer.id))) == 1


def test_organization_domains_link_customers_and_cannot_be_shared(api):
    org = api.post("/api/v1/organizations", json={"name": "Acme", "domains": ["acme.example"]})
    assert org.status_code == 201
    person = api.post(
        "/api/v1/customers",
        json={"name": "Wile", "emails": ["wile@acme.example"], "key_person": True},
    ).json
    assert person["organization"]["id"] == org.json["id"]
    clash = api.post("/api/v1/organizations", json={"name": "Other", "domains": ["acme.example"]})
    assert clash.status_code == 422 and "domains" in clash.json["error"]["fields"]
    shown = api.get(f"/api/v1/organizations/{org.json['id']}").json
    assert [p["name"] for p in shown["people"]] == ["Wile"]


def test_merge_moves_everything_and_removes_the_duplicate(api, inbound):
    a = inbound("email", "ada@example.com", "one", subject="A").customer.id
    b = inbound("sms", "+4915112345678", "two").customer.id
    api.post(f"/api/v1/customers/{b}/notes", json={"body": "called twice"})
    api.put("/api/v1/orders/10023", json={"customer": b, "status": "paid"})
    merged = api.post(f"/api/v1/customers/{a}/merge", json={"from": b})
    assert merged.status_code == 200, merged.json
    assert merged.json["emails"] == ["ada@example.com"]
    assert merged.json["phones"] == ["+4915112345678"]
    assert db.session.get(Customer, b) is None
    for model in (Ticket, Order, Note):
        assert set(db.session.scalars(select(model.customer_id))) == {a}
    assert api.post(f"/api/v1/customers/{a}/merge", json={"from": a}).status_code == 422


def test_export_holds_everything_and_needs_a_lead(api, api_as, make_agent, inbound):
    result = inbound("email", "ada@example.com", "my data please", subject="GDPR")
    api.post(f"/api/v1/tickets/{result.ticket.id}/messages", json={"body": "x", "internal": True})
    api.post(f"/api/v1/customers/{result.customer.id}/notes", json={"body": "asked for export"})
    api.put("/api/v1/orders/A-1", json={"customer": result.customer.id})
    path = f"/api/v1/customers/{result.customer.id}/export"
    assert api_as(make_agent(role="agent")).get(path).status_code == 403
    data = api_as(make_agent(role="lead")).get(path).json
    assert data["identities"][0]["value"] == "ada@example.com"
    assert [m["body_text"] for m in data["tickets"][0]["messages"]] == ["my data please", "x"]
    assert data["tickets"][0]["events"][0]["kind"] == "created"
    assert data["orders"][0]["number"] == "A-1" and data["notes"][0]["body"] == "asked for export"


def test_erase_removes_the_person_and_their_files(app, api, api_as, make_agent, inbound):
    content = b"passport scan"
    result = inbound(
        "email",
        "ada@example.com",
        "see attached",
        attachments=[InboundAttachment("id.pdf", "application/pdf", content)],
    )
    keep = inbound("email", "bob@example.com", "unrelated")
    sha = db.session.scalars(select(Message).order_by(Message.id)).first().attachments[0].sha256
    stored = Path(app.config["ATTACHMENT_DIR"]) / sha[:2] / sha
    assert stored.read_bytes() == content
    path = f"/api/v1/customers/{result.customer.id}"
    assert api_as(make_agent(role="lead")).delete(path).status_code == 403
    assert api.delete(path).status_code == 204
    db.session.expire_all()
    assert db.session.get(Customer, result.customer.id) is None
    assert not db.session.scalar(select(Identity).where(Identity.value == "ada@example.com"))
    assert db.session.scalars(select(Ticket.customer_id)).all() == [keep.customer.id]
    assert not stored.exists()
    assert api.get(path).status_code == 404


def test_timeline_pages_through_every_kind_newest_first(api, inbound):
    first = inbound("email", "ada@example.com", "hello", subject="Hi")
    customer = first.customer.id
    for n in range(6):
        inbound("email", "ada@example.com", f"more {n}", subject="Re: Hi")
    api.post(f"/api/v1/customers/{customer}/notes", json={"body": "nice person"})
    api.put("/api/v1/orders/77", json={"customer": customer, "status": "shipped"})
    seen, url, pages = [], f"/api/v1/customers/{customer}/timeline?per_page=3", 0
    while url:
        page = api.get(url).json
        seen += page["items"]
        url = page["next"] and page["next"].replace("http://localhost", "")
        pages += 1
    assert pages == 4 and len(seen) == 10  # 1 ticket, 7 messages, 1 note, 1 order
    assert {item["type"] for item in seen} == {"ticket", "message", "note", "order"}
    keys = [(item["type"], item.get(item["type"], {}).get("id")) for item in seen]
    assert len(set(keys)) == len(keys)
    stamps = [item["at"] for item in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_orders_upsert_replaces_lines_and_creates_unknown_customers(api):
    body = {
        "customer_email": "new@shop.example",
        "status": "paid",
        "total": "30.00",
        "currency": "EUR",
        "lines": [{"sku": "A", "name": "Mug", "quantity": 2}],
    }
    created = api.put("/api/v1/orders/10023", json=body)
    assert created.status_code == 201
    updated = api.put(
        "/api/v1/orders/10023",
        json={"status": "shipped", "carrier": "DHL", "lines": [{"name": "Lamp"}]},
    )
    assert updated.status_code == 200
    assert updated.json["status"] == "shipped" and updated.json["total"] == "30.00"
    assert [line["name"] for line in updated.json["lines"]] == ["Lamp"]
    customer = api.get("/api/v1/customers?email=new@shop.example").json["items"][0]
    orders = api.get(f"/api/v1/customers/{customer['id']}/orders").json
    assert [o["number"] for o in orders["items"]] == ["10023"] and orders["next"] is None


def test_agents_see_only_tickets_they_may_open(api, api_as, make_agent, inbound):
    support = make_agent(teams=["Support"])
    billing = make_agent(teams=["Billing"])
    result = inbound("email", "ada@example.com", "refund please", subject="Refund")
    billing_team = billing.teams[0].id
    assert (
        api.patch(f"/api/v1/tickets/{result.ticket.id}", json={"team": billing_team}).status_code
        == 200
    )
    outsider, insider = api_as(support), api_as(billing)
    path = f"/api/v1/tickets/{result.ticket.id}"
    for call in (
        outsider.get(path),
        outsider.patch(path, json={"status": "open"}),
        outsider.get(path + "/messages"),
        outsider.post(path + "/messages", json={"body": "hi"}),
    ):
        assert call.status_code == 404
    assert outsider.get("/api/v1/tickets?q=Refund").json["items"] == []
    assert [t["id"] for t in insider.get("/api/v1/tickets?q=refund").json["items"]] == [
        result.ticket.id
    ]


def test_only_leads_assign_tickets_to_someone_else(api_as, make_agent, inbound):
    agent = make_agent(teams=["Support"])
    colleague = make_agent(teams=["Support"])
    lead = make_agent(role="lead", teams=["Support"])
    result = inbound("email", "ada@example.com", "help")
    path = f"/api/v1/tickets/{result.ticket.id}"
    team = agent.teams[0].id
    assert api_as(lead).patch(path, json={"team": team}).status_code == 200
    assert api_as(agent).patch(path, json={"assignee": colleague.id}).status_code == 403
    assert api_as(agent).patch(path, json={"assignee": agent.id}).status_code == 200
    moved = api_as(lead).patch(path, json={"assignee": colleague.id})
    assert moved.status_code == 200 and moved.json["assignee"]["id"] == colleague.id
    trail = api_as(lead).get(path).json["events"]
    assert [e["kind"] for e in trail] == ["created", "team", "assigned", "assigned"]


def test_escalation_raises_priority_and_hands_to_the_lead(api, make_agent, inbound):
    lead = make_agent(role="lead", teams=["Support"])
    result = inbound("email", "ada@example.com", "urgent!")
    path = f"/api/v1/tickets/{result.ticket.id}"
    api.patch(path, json={"team": lead.teams[0].id})
    escalated = api.post(path + "/escalate", json={"reason": "customer threatens to leave"})
    assert escalated.status_code == 200
    assert escalated.json["priority"] == "high" and escalated.json["assignee"]["id"] == lead.id
    event = api.get(path).json["events"][-1]
    assert event["kind"] == "escalated" and event["data"]["reason"].startswith("customer")


def test_reply_without_transport_fails_visibly_and_note_is_not_sent(
    api, make_customer, make_ticket
):
    customer = make_customer("Ada", emails=["ada@example.com"])
    ticket = make_ticket(customer, "Hi", body="phoned in")
    reply = api.post(f"/api/v1/tickets/{ticket}/messages", json={"body": "answer"}).json
    assert reply["status"] == "failed" and "no outbound transport" in reply["error"]
    note = api.post(
        f"/api/v1/tickets/{ticket}/messages", json={"body": "internal", "internal": True}
    ).json
    assert note["internal"] and note["status"] == "received" and note["error"] is None


def test_pagination_bounds_are_checked(api):
    for bad in ("0", "201", "abc"):
        response = api.get(f"/api/v1/customers?per_page={bad}")
        assert response.status_code == 422 and "per_page" in response.json["error"]["fields"]


def test_reading_paths_run_bounded_queries(api, inbound, count_queries):
    def statements(path):
        with count_queries() as seen:
            assert api.get(path).status_code == 200
        return len(seen)

    first = inbound("sms", "+4915112345678", "one")
    cid = first.customer.id
    paths = [
        f"/api/v1/customers/{cid}/timeline",
        "/api/v1/lookup?phone=015112345678",
        "/api/v1/tickets",
        f"/api/v1/tickets/{first.ticket.id}/messages",
    ]

    def grow(start, count):
        for n in range(start, start + count):
            inbound("sms", "+4915112345678", f"again {n}")
            inbound("email", f"c{n}@example.com", f"other {n}")
            api.put(f"/api/v1/orders/{n}", json={"customer": cid})
            api.post(f"/api/v1/customers/{cid}/notes", json={"body": f"note {n}"})

    grow(0, 5)
    small = [statements(p) for p in paths]
    grow(5, 40)
    large = [statements(p) for p in paths]
    # A page loads each kind of item once: never more statements for a longer history.
    assert all(big <= few for big, few in zip(large, small, strict=True)), (small, large)
    assert max(small) <= 15
