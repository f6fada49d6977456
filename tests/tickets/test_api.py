"""The tickets API: filters and search, open, change, reply, note, escalate, bounded queries."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from helpdesk.agents.models import Team
from helpdesk.channels.inbound import InboundAttachment
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.tickets.models import Message

V1 = "/api/v1"


def team_id(name: str) -> int:
    """The id of the team called ``name``."""
    return db.session.execute(select(Team.id).where(Team.name == name)).scalar_one()


def ids(api, **args) -> list[int]:
    """Ids of the tickets GET /tickets answers for these filters, in its order."""
    response = api.get(f"{V1}/tickets", query_string=args)
    assert response.status_code == 200, response.json
    return [t["id"] for t in response.json["items"]]


def kinds(api, ticket_id: int) -> list[str]:
    """The kinds of the ticket's audit-trail entries, oldest first."""
    return [e["kind"] for e in api.get(f"{V1}/tickets/{ticket_id}").json["events"]]


@pytest.fixture
def desk(api, admin, make_agent, make_customer, make_ticket):
    """Two teams, an agent and a lead, two customers and four tickets of different kinds."""

    class Desk:
        pass

    d = Desk()
    d.pat = make_agent("pat@example.com", teams=["Support"], name="Pat")
    d.lea = make_agent("lea@example.com", role="lead", teams=["Support"], name="Lea")
    d.bill = make_agent("bill@example.com", teams=["Billing"], name="Bill")
    d.ada = make_customer("Ada Lovelace", emails=["ada@example.com"], phones=["030 1234567"])
    d.bob = make_customer("Bob 100% Real", emails=["bob@example.com"])

    d.mug = make_ticket(
        d.ada,
        "Broken mug",
        channel="email",
        team=team_id("Support"),
        assignee=d.pat.id,
        tags=["Mug", "vip"],
        body="the handle fell off",
    )
    d.invoice = make_ticket(
        d.bob,
        "Invoice wrong",
        channel="web",
        team=team_id("Billing"),
        assignee=admin.id,
        status="pending",
    )
    d.hello = make_ticket(d.ada, "Hello", channel="chat", status="solved")
    d.sms = make_ticket(customer_phone="+49 30 1234567", subject="Callback", channel="sms")
    return d


def test_tickets_are_filtered_by_every_field(api, desk, admin):
    everything = ids(api)
    assert sorted(everything) == sorted([desk.mug, desk.invoice, desk.hello, desk.sms])
    assert everything[0] == desk.sms  # most recently active first
    assert ids(api, status="pending") == [desk.invoice]
    assert ids(api, status="solved") == [desk.hello]
    assert desk.hello not in ids(api, status="open_all")
    assert ids(api, assignee="me") == [desk.invoice]
    assert ids(api, assignee=desk.pat.id) == [desk.mug]
    assert sorted(ids(api, assignee="none")) == sorted([desk.hello, desk.sms])
    assert ids(api, team=team_id("Billing")) == [desk.invoice]
    assert ids(api, channel="email") == [desk.mug]
    assert sorted(ids(api, customer=desk.ada.id)) == sorted([desk.mug, desk.hello, desk.sms])
    assert ids(api, tag="VIP") == [desk.mug]
    assert ids(api, status="new", customer=desk.ada.id, channel="sms") == [desk.sms]
    for bad in (
        {"status": "lost"},
        {"channel": "fax"},
        {"priority": "asap"},
        {"assignee": "someone"},
        {"team": "x"},
        {"customer": "-1"},
        {"q": "x" * 201},
        {"tag": "t" * 51},
    ):
        response = api.get(f"{V1}/tickets", query_string=bad)
        assert response.status_code == 422, bad
        assert list(response.json["error"]["fields"]) == list(bad), response.json


def test_search_finds_number_subject_customer_address_and_text(api, desk):
    ada = sorted([desk.mug, desk.hello, desk.sms])
    for q, wanted in (
        ("mug", [desk.mug]),
        ("BROKEN", [desk.mug]),
        ("handle fell", [desk.mug]),
        ("Lovelace", ada),
        ("ada@example", ada),
        ("030 1234567", ada),
        ("+49 (30) 1234567", ada),
        ("100%", [desk.invoice]),
        ("_", []),
        ("nothing like this", []),
        (f"#{desk.hello}", [desk.hello]),
    ):
        assert sorted(ids(api, q=q)) == wanted, q
    assert desk.invoice in ids(api, q=str(desk.invoice))


def test_opening_a_ticket(api, desk, admin):
    mug = api.get(f"{V1}/tickets/{desk.mug}").json
    assert mug["team"]["name"] == "Support" and mug["assignee"]["id"] == desk.pat.id
    assert mug["tags"] == ["mug", "vip"] and mug["message_count"] == 1
    assert mug["contact"] == "ada@example.com" and mug["status"] == "new"
    assert [(e["kind"], e["agent"]["id"]) for e in mug["events"]] == [("created", admin.id)]
    first = api.get(f"{V1}/tickets/{desk.mug}/messages").json["items"]
    assert [(m["direction"], m["body_text"]) for m in first] == [("in", "the handle fell off")]
    assert api.get(f"{V1}/tickets/{desk.hello}").json["solved_at"] is not None

    made = api.post(
        f"{V1}/tickets",
        json={"customer_email": "New@Example.com", "customer_name": "Newton", "subject": "Hi"},
    )
    assert made.status_code == 201
    assert made.json["customer"]["name"] == "Newton" and made.json["message_count"] == 0
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 3


def test_changes_are_recorded_on_the_trail(api, desk):
    solved = api.patch(
        f"{V1}/tickets/{desk.mug}",
        json={"status": "solved", "priority": "high", "tags": [" VIP ", "refund"]},
    )
    assert solved.status_code == 200, solved.json
    assert solved.json["solved_at"] is not None and solved.json["tags"] == ["refund", "vip"]
    solved_at = solved.json["solved_at"]
    closed = api.patch(f"{V1}/tickets/{desk.mug}", json={"status": "closed"}).json
    assert closed["solved_at"] == solved_at
    reopened = api.patch(f"{V1}/tickets/{desk.mug}", json={"status": "open"}).json
    assert reopened["solved_at"] is None
    same = api.patch(f"{V1}/tickets/{desk.mug}", json={"tags": ["Refund", "vip"]})
    assert same.status_code == 200

    moved = api.patch(f"{V1}/tickets/{desk.mug}", json={"team": team_id("Billing")}).json
    assert moved["team"]["name"] == "Billing"
    assert moved["assignee"] is None  # Pat is not in Billing
    given = api.patch(f"{V1}/tickets/{desk.mug}", json={"assignee": desk.bill.id}).json
    assert given["assignee"]["id"] == desk.bill.id
    assert kinds(api, desk.mug) == [
        "created",
        "status",
        "priority",
        "tags",
        "status",
        "status",
        "team",
        "assigned",
        "assigned",
    ]
    trail = api.get(f"{V1}/tickets/{desk.mug}").json["events"]
    assert trail[-1]["data"] == {"from": None, "to": desk.bill.id}
    assert trail[-3]["data"] == {"from": team_id("Support"), "to": team_id("Billing")}

    outsider = api.patch(f"{V1}/tickets/{desk.mug}", json={"assignee": desk.pat.id})
    assert outsider.status_code == 422 and "assignee" in outsider.json["error"]["fields"]
    for body, field in (
        ({"team": 999999}, "team"),
        ({"assignee": 999999}, "assignee"),
        ({"status": "lost"}, "status"),
        ({"tags": "vip"}, "tags"),
    ):
        response = api.patch(f"{V1}/tickets/{desk.mug}", json=body)
        assert response.status_code == 422 and field in response.json["error"]["fields"]
    assert len(kinds(api, desk.mug)) == 9


def test_a_reply_without_a_transport_fails_visibly(api, desk):
    reply = api.post(f"{V1}/tickets/{desk.invoice}/messages", json={"body": "We fixed it."})
    assert reply.status_code == 201, reply.json
    assert reply.json["direction"] == "out" and reply.json["status"] == "failed"
    assert "no outbound transport" in reply.json["error"]
    mail = api.post(f"{V1}/tickets/{desk.mug}/messages", json={"body": "A new one is on its way"})
    assert mail.json["status"] == "failed" and "mailbox" in mail.json["error"]
    listed = api.get(f"{V1}/tickets/{desk.mug}/messages").json["items"]
    assert [(m["direction"], m["status"]) for m in listed] == [
        ("in", "received"),
        ("out", "failed"),
    ]
    ticket = api.get(f"{V1}/tickets/{desk.mug}").json
    assert ticket["status"] == "open" and ticket["first_response_at"] is not None
    assert ticket["message_count"] == 2


def test_an_internal_note_is_kept_and_not_delivered(api, desk, admin):
    note = api.post(
        f"{V1}/tickets/{desk.mug}/messages", json={"body": "customer is upset", "internal": True}
    )
    assert note.status_code == 201, note.json
    assert note.json["internal"] is True and note.json["direction"] == "note"
    assert note.json["status"] == "received" and note.json["error"] is None
    assert note.json["sent_at"] is None and note.json["author"]["agent"]["id"] == admin.id
    ticket = api.get(f"{V1}/tickets/{desk.mug}").json
    assert ticket["status"] == "new" and ticket["first_response_at"] is None
    api.patch(f"{V1}/tickets/{desk.mug}", json={"status": "closed"})
    refused = api.post(f"{V1}/tickets/{desk.mug}/messages", json={"body": "hello again"})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "conflict"
    late = api.post(f"{V1}/tickets/{desk.mug}/messages", json={"body": "fyi", "internal": True})
    assert late.status_code == 201


def test_escalation_raises_priority_and_hands_the_ticket_to_the_lead(api, desk, admin):
    escalated = api.post(f"{V1}/tickets/{desk.mug}/escalate", json={"reason": "VIP, third time"})
    assert escalated.status_code == 200, escalated.json
    assert escalated.json["priority"] == "high" and escalated.json["assignee"]["id"] == desk.lea.id
    assert escalated.json["status"] == "open"
    event = api.get(f"{V1}/tickets/{desk.mug}").json["events"][-1]
    assert event["kind"] == "escalated" and event["agent"]["id"] == admin.id
    assert event["data"]["reason"] == "VIP, third time"
    assert event["data"]["priority"] == {"from": "normal", "to": "high"}
    assert event["data"]["assignee"] == {"from": desk.pat.id, "to": desk.lea.id}
    for step in ("urgent", "urgent"):
        again = api.post(f"{V1}/tickets/{desk.mug}/escalate", json={"reason": "still broken"})
        assert again.json["priority"] == step

    teamless = api.post(f"{V1}/tickets/{desk.hello}/escalate", json={"reason": "angry"}).json
    assert teamless["priority"] == "high" and teamless["assignee"] is None
    assert teamless["status"] == "open" and teamless["solved_at"] is None
    for body in ({}, {"reason": "   "}, {"reason": "x" * 2001}):
        assert api.post(f"{V1}/tickets/{desk.hello}/escalate", json=body).status_code == 422
    assert api.get(f"{V1}/tickets/{desk.hello}").json["priority"] == "high"


def test_ticket_and_message_lists_page(api, desk):
    seen, url = [], f"{V1}/tickets?per_page=3"
    while url:
        page = api.get(url).json
        seen += [t["id"] for t in page["items"]]
        url = page["next"]
    assert seen == ids(api)
    for path in (f"{V1}/tickets", f"{V1}/tickets/{desk.mug}/messages"):
        for per_page in ("0", "201", "abc", "2.5"):
            response = api.get(f"{path}?per_page={per_page}")
            assert response.status_code == 422 and "per_page" in response.json["error"]["fields"]
        assert api.get(f"{path}?per_page=200").status_code == 200
    for n in range(4):
        api.post(f"{V1}/tickets/{desk.mug}/messages", json={"body": f"note {n}", "internal": True})
    first = api.get(f"{V1}/tickets/{desk.mug}/messages?per_page=2").json
    second = api.get(first["next"]).json
    third = api.get(second["next"]).json
    texts = [m["body_text"] for m in first["items"] + second["items"] + third["items"]]
    assert texts == ["the handle fell off", "note 0", "note 1", "note 2", "note 3"]
    assert third["next"] is None


def statements(api, count_queries, path: str) -> tuple[int, dict]:
    """How many SQL statements one GET of ``path`` runs, as a request of its own would."""
    api.get(path)  # warm: the token's last-used time is written once
    db.session.expunge_all()
    with count_queries() as seen:
        response = api.get(path)
    assert response.status_code == 200
    return len(seen), response.json


def test_a_page_of_fifty_tickets_runs_a_bounded_number_of_statements(
    api, make_agent, count_queries
):
    agents = [make_agent(f"a{n}@example.com", teams=[f"Team {n % 3}"]).id for n in range(6)]
    teams = [team_id(f"Team {n}") for n in range(3)]

    def open_tickets(start: int, n: int) -> None:
        for i in range(start, start + n):
            response = api.post(
                f"{V1}/tickets",
                json={
                    "customer_email": f"c{i}@example.com",
                    "customer_name": f"C {i}",
                    "subject": f"Ticket {i}",
                    "body": "help",
                    "tags": [f"t{i}", "all"],
                    "team": teams[i % 3],
                    "assignee": agents[i % len(agents)],
                },
            )
            assert response.status_code == 201, response.json

    open_tickets(0, 5)
    few, page = statements(api, count_queries, f"{V1}/tickets")
    assert len(page["items"]) == 5
    open_tickets(5, 55)
    many, page = statements(api, count_queries, f"{V1}/tickets")
    assert len(page["items"]) == 50 and page["next"]
    assert few == many and many <= 10, (few, many)


def test_a_ticket_with_sixty_messages_lists_them_in_bounded_statements(
    api, api_as, make_agent, inbound, count_queries
):
    helpers = [api_as(make_agent(f"h{n}@example.com", role="lead")) for n in range(3)]
    ticket = inbound("email", "ada@example.com", "first", subject="Long thread").ticket.id

    def grow(n: int) -> None:
        for i in range(n):
            inbound(
                "email",
                "ada@example.com",
                f"more {i}",
                subject="Re: Long thread",
                attachments=[InboundAttachment(f"{i}.txt", "text/plain", b"%d" % i)],
            )
            note = helpers[i % len(helpers)].post(
                f"{V1}/tickets/{ticket}/messages", json={"body": f"n{i}", "internal": True}
            )
            assert note.status_code == 201, note.json

    grow(2)
    few, page = statements(api, count_queries, f"{V1}/tickets/{ticket}/messages")
    assert len(page["items"]) == 5
    grow(28)
    many, page = statements(api, count_queries, f"{V1}/tickets/{ticket}/messages?per_page=200")
    assert len(page["items"]) == 61
    assert len({m["author"]["agent"]["id"] for m in page["items"] if m["internal"]}) == 3
    assert db.session.scalar(select(func.count()).select_from(Message)) == 61
    assert few == many and many <= 10, (few, many)
