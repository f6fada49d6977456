"""The CRM API: customers and identities, organizations, merge, export, erase, timeline, lookup."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from helpdesk.channels.inbound import InboundAttachment
from helpdesk.customers.models import Customer, Identity, Note, Order, OrderLine
from helpdesk.extensions import db
from helpdesk.tickets import attachments
from helpdesk.tickets.models import Attachment, Call, Message, Ticket, TicketEvent

V1 = "/api/v1"
PHONE_SPELLINGS = ["0049 30 1234567", "+49 (30) 1234567", "030 1234567", "+49301234567"]


def count(model) -> int:
    """Rows of ``model`` in the database."""
    return db.session.scalar(select(func.count()).select_from(model))


def walk(api, url: str) -> list[dict]:
    """Every item of a paginated list, following ``next`` until it is null."""
    items, seen = [], set()
    while url:
        assert url not in seen, "next points back to a page already read"
        seen.add(url)
        response = api.get(url)
        assert response.status_code == 200, response.json
        items += response.json["items"]
        url = response.json["next"]
    return items


# --- customers and identities -------------------------------------------------


def test_customer_is_created_read_and_patched(api):
    for key, kind in (("plan", "text"), ("seats", "number")):
        field = {"key": key, "label": key.title(), "type": kind, "applies_to": "customer"}
        assert api.post(f"{V1}/custom-fields", json=field).status_code == 201
    created = api.post(
        f"{V1}/customers",
        json={
            "name": " Ada Lovelace ",
            "emails": ["ADA@Example.com"],
            "phones": ["0049 30 1234567"],
            "title": "CTO",
            "tags": ["vip"],
            "language": "de",
            "preferred_channel": "sms",
            "order_updates": True,
            "custom_fields": {"plan": "gold", "seats": 5},
        },
    )
    assert created.status_code == 201, created.json
    ada = created.json
    assert ada["name"] == "Ada Lovelace"
    assert ada["emails"] == ["ada@example.com"] and ada["phones"] == ["+49301234567"]
    assert ada["preferences"] == {
        "language": "de",
        "preferred_channel": "sms",
        "order_updates": True,
        "sms_opt_out": False,
    }
    assert ada["custom_fields"] == {"plan": "gold", "seats": 5}
    assert api.get(f"{V1}/customers/{ada['id']}").json == ada

    patched = api.patch(
        f"{V1}/customers/{ada['id']}",
        json={"title": "CEO", "phones": ["+49 (30) 1234567", "0151 2345678"]},
    )
    assert patched.status_code == 200, patched.json
    assert patched.json["title"] == "CEO"
    assert patched.json["phones"] == ["+49301234567", "+491512345678"]
    assert patched.json["name"] == "Ada Lovelace" and patched.json["tags"] == ["vip"]

    cleared = api.patch(f"{V1}/customers/{ada['id']}", json={"emails": [], "name": None})
    assert cleared.json["emails"] == [] and cleared.json["name"] is None
    assert count(Identity) == 2


@pytest.mark.parametrize("spelling", PHONE_SPELLINGS)
def test_every_spelling_of_a_number_finds_the_same_customer(api, make_customer, spelling):
    ada = make_customer("Ada", phones=["030 1234567"])
    make_customer("Bob", phones=["030 7654321"])
    found = api.get(f"{V1}/customers", query_string={"phone": spelling}).json
    assert [c["id"] for c in found["items"]] == [ada.id]
    card = api.get(f"{V1}/lookup", query_string={"phone": spelling}).json
    assert card["customer"]["id"] == ada.id and card["customer"]["name"] == "Ada"


def test_customers_are_searched_by_name_address_and_both_identities(api, make_customer):
    ada = make_customer("Ada Lovelace", emails=["ada@example.com"], phones=["030 1234567"])
    make_customer("Bob 100% Real", emails=["bob@example.com"])

    def ids(**args):
        response = api.get(f"{V1}/customers", query_string=args)
        assert response.status_code == 200, response.json
        return [c["id"] for c in response.json["items"]]

    assert ids(q="lovelace") == [ada.id]
    assert ids(q="ADA@EXAMPLE") == [ada.id]
    assert ids(email="Ada@Example.com", phone="+49 30 1234567") == [ada.id]
    assert ids(email="bob@example.com", phone="+49 30 1234567") == []
    assert len(ids(q="100%")) == 1  # full text: the words, punctuation aside
    assert ids(q="%") == ids(q="_") == []  # no word: nothing found
    assert api.get(f"{V1}/customers?phone=not-a-number").status_code == 422


def test_an_identity_belongs_to_one_customer_only(api, make_customer):
    make_customer("Ada", emails=["ada@example.com"], phones=["030 1234567"])
    bob = make_customer("Bob", emails=["bob@example.com"])
    before = count(Customer), count(Identity)

    taken = api.post(f"{V1}/customers", json={"name": "Eve", "emails": ["ADA@example.com"]})
    assert taken.status_code == 409
    assert taken.json["error"]["code"] == "conflict" and "email" in taken.json["error"]["fields"]
    moved = api.patch(
        f"{V1}/customers/{bob.id}", json={"name": "Bobby", "phones": ["0049 30 1234567"]}
    )
    assert moved.status_code == 409
    assert (count(Customer), count(Identity)) == before
    db.session.expire_all()
    assert db.session.get(Customer, bob.id).name == "Bob"


@pytest.mark.slow
def test_racing_requests_for_one_identity_make_one_customer_and_no_500(
    live_server, admin, make_token
):
    headers = {"Authorization": f"Bearer {make_token(admin)}"}
    start, answers = threading.Barrier(8), []

    def create(n: int) -> None:
        start.wait()
        answers.append(
            requests.post(
                f"{live_server}{V1}/customers",
                headers=headers,
                timeout=30,
                json={"name": f"Twin {n}", "emails": ["twin@example.com"]},
            )
        )

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 7, [a.text[:200] for a in answers]
    assert all(a.json()["error"]["code"] == "conflict" for a in answers if a.status_code == 409)
    assert count(Customer) == 1 and count(Identity) == 1


# --- organizations -------------------------------------------------------------


def test_organizations_own_domains_and_customers_of_a_domain_join_them(api, make_agent):
    manager = make_agent("max@example.com", role="lead")
    acme = api.post(
        f"{V1}/organizations",
        json={
            "name": "Acme",
            "domains": ["acme.example", "ACME.example", "acme-corp.example"],
            "notes": "pays late",
            "account_manager": manager.id,
        },
    )
    assert acme.status_code == 201, acme.json
    assert sorted(acme.json["domains"]) == ["acme-corp.example", "acme.example"]
    assert acme.json["account_manager"] == manager.id

    bob = api.post(f"{V1}/customers", json={"name": "Bob", "emails": ["bob@ACME.example"]}).json
    eve = api.post(f"{V1}/customers", json={"name": "Eve", "emails": ["eve@other.example"]}).json
    assert bob["organization"] == {"id": acme.json["id"], "name": "Acme"}
    assert eve["organization"] is None

    taken = api.post(f"{V1}/organizations", json={"name": "Rival", "domains": ["acme.example"]})
    assert taken.status_code == 422 and "domains" in taken.json["error"]["fields"]
    rival = api.post(f"{V1}/organizations", json={"name": "Rival"}).json
    stolen = api.patch(f"{V1}/organizations/{rival['id']}", json={"domains": ["acme-corp.example"]})
    assert stolen.status_code == 422

    released = api.patch(
        f"{V1}/organizations/{acme.json['id']}",
        json={"name": "Acme Inc", "domains": ["acme.example"]},
    )
    assert released.status_code == 200, released.json
    assert released.json["name"] == "Acme Inc" and released.json["domains"] == ["acme.example"]
    assert released.json["notes"] == "pays late"
    moved = api.patch(f"{V1}/organizations/{rival['id']}", json={"domains": ["acme-corp.example"]})
    assert moved.status_code == 200 and moved.json["domains"] == ["acme-corp.example"]

    listed = api.get(f"{V1}/organizations", query_string={"q": "acme"}).json
    assert [o["id"] for o in listed["items"]] == [acme.json["id"]]
    mine = api.get(f"{V1}/organizations", query_string={"manager": manager.id}).json
    assert [o["id"] for o in mine["items"]] == [acme.json["id"]]
    assert api.get(f"{V1}/organizations?manager=someone").status_code == 422
    unknown = api.post(f"{V1}/organizations", json={"name": "X", "account_manager": 999999})
    assert unknown.status_code == 422


def test_an_organization_lists_its_key_people_first(api):
    org = api.post(f"{V1}/organizations", json={"name": "Acme", "domains": ["acme.example"]}).json
    for name, key in (("Aaron", False), ("Zoe", True), ("Mia", False)):
        response = api.post(
            f"{V1}/customers",
            json={
                "name": name,
                "key_person": key,
                "title": "CFO" if key else None,
                "emails": [f"{name}@acme.example"],
            },
        )
        assert response.status_code == 201
    people = api.get(f"{V1}/organizations/{org['id']}").json["people"]
    assert [(p["name"], p["key_person"]) for p in people] == [
        ("Zoe", True),
        ("Aaron", False),
        ("Mia", False),
    ]
    assert people[0]["title"] == "CFO"


# --- merge, export, erase --------------------------------------------------------


@pytest.fixture
def pbx(api_as, admin):
    """A phone system's client of the CTI API (a token of scope cti)."""
    return api_as(admin, "cti")


def call_from(pbx, number: str, call_id: str) -> None:
    """A call from ``number`` through the CTI API: rings, then the caller hangs up."""
    for name in ("newCall", "hangup"):
        response = pbx.post(
            f"{V1}/cti/events",
            json={
                "event": name,
                "callId": call_id,
                "from": number,
                "to": "+4940999999",
                "direction": "in",
            },
        )
        assert response.status_code in (200, 201), response.json


def test_merge_moves_everything_and_the_other_customer_is_gone(api, pbx, make_customer, inbound):
    ada = make_customer("Ada", emails=["ada@example.com"], tags=["vip"])
    dup = make_customer(
        None, emails=["ada.l@example.com"], phones=["030 1234567"], tags=["newsletter"], title="CTO"
    )
    ticket = inbound("email", "ada.l@example.com", "Where is my order?", subject="Order").ticket
    assert api.put(f"{V1}/orders/A-1", json={"customer": dup.id}).status_code == 201
    assert api.post(f"{V1}/customers/{dup.id}/notes", json={"body": "mornings"}).status_code == 201
    call_from(pbx, "+49301234567", "merge-1")
    dup_id = dup.id

    merged = api.post(f"{V1}/customers/{ada.id}/merge", json={"from": dup_id})
    assert merged.status_code == 200, merged.json
    assert merged.json["emails"] == ["ada@example.com", "ada.l@example.com"]
    assert merged.json["phones"] == ["+49301234567"]
    assert merged.json["tags"] == ["newsletter", "vip"] and merged.json["title"] == "CTO"
    assert api.get(f"{V1}/customers/{dup_id}").status_code == 404
    assert api.get(f"{V1}/lookup?email=ada.l@example.com").json["customer"]["id"] == ada.id
    assert ticket.id in [t["id"] for t in api.get(f"{V1}/tickets?customer={ada.id}").json["items"]]
    exported = api.get(f"{V1}/customers/{ada.id}/export").json
    assert [o["number"] for o in exported["orders"]] == ["A-1"]
    assert [n["body"] for n in exported["notes"]] == ["mornings"]
    assert len(exported["calls"]) == 1
    for model in (Ticket, Order, Note, Call, Identity):
        assert (
            db.session.scalar(
                select(func.count()).select_from(model).where(model.customer_id == dup_id)
            )
            == 0
        )

    itself = api.post(f"{V1}/customers/{ada.id}/merge", json={"from": ada.id})
    assert itself.status_code == 422 and "from" in itself.json["error"]["fields"]
    gone = api.post(f"{V1}/customers/{ada.id}/merge", json={"from": dup_id})
    assert gone.status_code == 422 and "from" in gone.json["error"]["fields"]
    assert api.post(f"{V1}/customers/999999/merge", json={"from": ada.id}).status_code == 404


def test_export_holds_everything_about_the_person(api, pbx, make_customer, inbound, admin):
    ada = make_customer("Ada", emails=["ada@example.com"], phones=["030 1234567"])
    first = inbound("email", "ada@example.com", "My mug broke", subject="Broken mug")
    api.post(f"{V1}/tickets/{first.ticket.id}/messages", json={"body": "Sorry!", "internal": True})
    api.patch(f"{V1}/tickets/{first.ticket.id}", json={"status": "pending", "tags": ["mug"]})
    api.put(
        f"{V1}/orders/B-7", json={"customer": ada.id, "lines": [{"name": "Mug", "quantity": 2}]}
    )
    api.post(f"{V1}/customers/{ada.id}/notes", json={"body": "VIP since 2019"})
    call_from(pbx, "030 1234567", "export-1")

    export = api.get(f"{V1}/customers/{ada.id}/export")
    assert export.status_code == 200
    data = export.json
    assert data["customer"]["id"] == ada.id
    assert {(i["kind"], i["value"]) for i in data["identities"]} == {
        ("email", "ada@example.com"),
        ("phone", "+49301234567"),
    }
    mug = next(t for t in data["tickets"] if t["id"] == first.ticket.id)
    assert [m["body_text"] for m in mug["messages"]] == ["My mug broke", "Sorry!"]
    assert {"created", "status", "tags"} <= {e["kind"] for e in mug["events"]}
    assert len(data["tickets"]) == 2  # the mail and the filed phone call
    assert [c["provider_id"] for c in data["calls"]] == ["export-1"]
    assert data["orders"][0]["lines"] == [
        {"sku": None, "name": "Mug", "quantity": 2, "unit_price": None}
    ]
    assert [(n["body"], n["author"]["id"]) for n in data["notes"]] == [("VIP since 2019", admin.id)]


def test_erase_removes_the_person_and_files_nothing_else_uses(api, make_customer, inbound):
    ada = make_customer("Ada", emails=["ada@example.com"])
    bob = make_customer("Bob", emails=["bob@example.com"])
    own, shared = os.urandom(64), os.urandom(64)
    inbound(
        "email",
        "ada@example.com",
        "see attached",
        subject="Photos",
        attachments=[
            InboundAttachment("own.jpg", "image/jpeg", own),
            InboundAttachment("shared.pdf", "application/pdf", shared),
        ],
    )
    inbound(
        "email",
        "bob@example.com",
        "same file",
        subject="Terms",
        attachments=[InboundAttachment("terms.pdf", "application/pdf", shared)],
    )
    api.put(f"{V1}/orders/C-1", json={"customer": ada.id, "lines": [{"name": "Mug"}]})
    api.post(f"{V1}/customers/{ada.id}/notes", json={"body": "erase me"})
    hashes = {a.filename: a.sha256 for a in db.session.execute(select(Attachment)).scalars()}
    assert attachments.load(hashes["own.jpg"]) == own
    ada_id = ada.id
    db.session.rollback()

    erased = api.delete(f"{V1}/customers/{ada_id}")
    assert erased.status_code == 204
    db.session.expire_all()
    assert api.get(f"{V1}/customers/{ada_id}").status_code == 404
    assert count(Customer) == 1 and db.session.get(Customer, bob.id) is not None
    assert [i.value for i in db.session.execute(select(Identity)).scalars()] == ["bob@example.com"]
    assert count(Ticket) == 1 and count(Message) == 1 and count(Attachment) == 1
    assert count(Order) == count(OrderLine) == count(Note) == 0
    assert count(TicketEvent) == 1
    with pytest.raises(FileNotFoundError):
        attachments.load(hashes["own.jpg"])
    assert attachments.load(hashes["shared.pdf"]) == shared
    assert api.delete(f"{V1}/customers/{ada_id}").status_code == 404


# --- timeline and lookup --------------------------------------------------------


def grow_history(api, pbx, inbound, customer, start: datetime, n: int) -> None:
    """``n`` rounds of everything that can happen with a customer, each round a minute apart."""
    email, phone = customer.values("email")[0], customer.values("phone")[0]
    for i in range(n):
        at = start + timedelta(minutes=i)
        result = inbound(
            "email",
            email,
            f"question {i}",
            subject=f"Question {i}",
            received_at=at,
            attachments=[InboundAttachment(f"{i}.txt", "text/plain", b"x%d" % i)],
        )
        ticket = result.ticket.id
        api.post(f"{V1}/tickets/{ticket}/messages", json={"body": f"answer {i}", "internal": True})
        api.patch(f"{V1}/tickets/{ticket}", json={"tags": [f"t{i}"], "assignee": None})
        api.put(
            f"{V1}/orders/O-{customer.id}-{i}",
            json={
                "customer": customer.id,
                "ordered_at": (at + timedelta(seconds=30)).isoformat(),
                "lines": [{"name": "Mug", "sku": "M1"}, {"name": "Tea"}],
            },
        )
        api.post(f"{V1}/customers/{customer.id}/notes", json={"body": f"note {i}"})
        call_from(pbx, phone, f"{customer.id}-{i}")


def history_of(customer_id: int) -> set[tuple[str, int]]:
    """(kind, id) of everything stored about a customer, read straight from the tables."""
    tickets = select(Ticket.id).where(Ticket.customer_id == customer_id)
    found = {("ticket", i) for i in db.session.scalars(tickets)}
    found |= {
        ("message", i)
        for i in db.session.scalars(select(Message.id).where(Message.ticket_id.in_(tickets)))
    }
    for kind, model in (("call", Call), ("order", Order), ("note", Note)):
        found |= {
            (kind, i)
            for i in db.session.scalars(select(model.id).where(model.customer_id == customer_id))
        }
    return found


def test_timeline_is_newest_first_and_pages_without_gaps_or_repeats(
    api, pbx, make_customer, inbound
):
    ada = make_customer("Ada", emails=["ada@example.com"], phones=["030 1234567"])
    other = make_customer("Bob", emails=["bob@example.com"], phones=["030 7654321"])
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    grow_history(api, pbx, inbound, ada, start, 3)
    grow_history(api, pbx, inbound, other, start, 1)

    whole = api.get(f"{V1}/customers/{ada.id}/timeline?per_page=200").json
    assert whole["next"] is None
    got = [(item["type"], item[item["type"]]["id"]) for item in whole["items"]]
    assert len(set(got)) == len(got)
    assert set(got) == history_of(ada.id)
    assert {kind for kind, _ in got} == {"call", "message", "note", "order", "ticket"}
    stamps = [datetime.fromisoformat(item["at"]) for item in whole["items"]]
    assert stamps == sorted(stamps, reverse=True)
    assert all(
        item.get("order", {}).get("customer_id", ada.id) == ada.id for item in whole["items"]
    )

    paged = walk(api, f"{V1}/customers/{ada.id}/timeline?per_page=4")
    assert paged == whole["items"]
    assert api.get(f"{V1}/customers/{ada.id}/timeline?page=99").json == {"items": [], "next": None}


@pytest.mark.parametrize("per_page", ["0", "201", "abc", "-1"])
def test_timeline_page_size_is_bounded(api, make_customer, per_page):
    ada = make_customer("Ada")
    response = api.get(f"{V1}/customers/{ada.id}/timeline?per_page={per_page}")
    assert response.status_code == 422
    assert "per_page" in response.json["error"]["fields"]


def test_lookup_of_an_unknown_number_answers_an_empty_card(api, make_customer):
    make_customer("Ada", phones=["030 1234567"])
    for args in (
        {"phone": "+1 202 555 0143"},
        {"phone": "not a number"},
        {"email": "nobody@example.com"},
        {"email": "not an address"},
    ):
        response = api.get(f"{V1}/lookup", query_string=args)
        assert response.status_code == 200
        assert response.json["customer"] is None
        assert response.json["open_tickets"] == [] and response.json["recent_orders"] == []
        assert response.json["last_contact"] is None
    assert api.get(f"{V1}/lookup").status_code == 422


def test_lookup_card_shows_open_tickets_orders_and_last_contact(api, make_customer, inbound):
    ada = make_customer("Ada", emails=["ada@example.com"], phones=["030 1234567"])
    open_one = inbound("email", "ada@example.com", "hello", subject="Open").ticket.id
    solved = inbound("email", "ada@example.com", "bye", subject="Solved").ticket.id
    api.patch(f"{V1}/tickets/{solved}", json={"status": "solved"})
    api.put(f"{V1}/orders/L-1", json={"customer": ada.id, "status": "shipped"})
    card = api.get(f"{V1}/lookup?phone=030%201234567").json
    assert [t["id"] for t in card["open_tickets"]] == [open_one]
    assert [o["number"] for o in card["recent_orders"]] == ["L-1"]
    assert card["last_contact"]["channel"] == "email"
    assert card["last_contact"]["ticket_id"] == solved


def test_last_contact_is_the_newest_call_or_message_and_never_a_note(
    api, pbx, make_customer, inbound
):
    ada = make_customer("Ada", emails=["ada@example.com"], phones=["030 1234567"])
    mail = inbound("email", "ada@example.com", "hello", subject="Open").ticket.id

    def last() -> dict:
        return api.get(f"{V1}/lookup?email=ada@example.com").json["last_contact"]

    assert (last()["channel"], last()["ticket_id"], last()["direction"]) == ("email", mail, "in")
    call_from(pbx, "+49301234567", "last-contact-call")
    shown = last()  # the call, or the voice entry it left on a ticket
    assert (shown["channel"], shown["direction"]) == ("voice", "in"), shown
    api.post(f"{V1}/tickets/{mail}/messages", json={"body": "internal", "internal": True})
    assert last() == shown  # a note is not a contact with the customer
    reply = api.post(f"{V1}/tickets/{mail}/messages", json={"body": "answer"}).json
    assert (last()["message_id"], last()["direction"]) == (reply["id"], "out")
    # A call on no ticket (a missed call a phone system logged) is a contact of its own.
    missed = Call(
        provider="cti",
        provider_id="missed-1",
        direction="in",
        status="no-answer",
        customer_id=ada.id,
        started_at=datetime.now(UTC) + timedelta(minutes=1),
    )
    db.session.add(missed)
    db.session.commit()
    assert last() == {
        "at": missed.started_at.isoformat(),
        "channel": "voice",
        "direction": "in",
        "ticket_id": None,
        "call_id": missed.id,
        "status": "no-answer",
    }


def test_customer_and_organization_lists_page_with_next_urls(api, make_customer):
    for i in range(5):
        make_customer(f"Customer {i}")
        api.post(f"{V1}/organizations", json={"name": f"Org {i}"})
    names = [c["name"] for c in walk(api, f"{V1}/customers?per_page=2")]
    assert names == [f"Customer {i}" for i in range(4, -1, -1)]
    orgs = [o["name"] for o in walk(api, f"{V1}/organizations?per_page=2&q=org")]
    assert orgs == [f"Org {i}" for i in range(5)]
    for path in ("/organizations", "/customers"):
        for per_page in ("0", "201", "abc"):
            response = api.get(f"{V1}{path}?per_page={per_page}")
            assert response.status_code == 422 and "per_page" in response.json["error"]["fields"]
        assert api.get(f"{V1}{path}?page=0").status_code == 422


def test_timeline_and_lookup_run_a_bounded_number_of_statements(
    api, pbx, make_customer, inbound, count_queries
):
    small = make_customer("Small", emails=["small@example.com"], phones=["030 1111111"])
    large = make_customer("Large", emails=["large@example.com"], phones=["030 2222222"])
    start = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    grow_history(api, pbx, inbound, small, start, 1)  # 5+ entries of every kind of history
    grow_history(api, pbx, inbound, large, start, 12)  # 96 entries

    def statements(path: str) -> int:
        api.get(path)  # warm: the token's last-used time is written once
        db.session.expunge_all()  # a request of its own finds nothing loaded
        with count_queries() as seen:
            response = api.get(path)
        assert response.status_code == 200
        return len(seen)

    for customer, entries in ((small, 8), (large, 50)):
        page = api.get(f"{V1}/customers/{customer.id}/timeline").json["items"]
        assert len(page) == entries
    paths = [
        (f"{V1}/customers/{c.id}/timeline", f"{V1}/lookup?phone={c.values('phone')[0]}")
        for c in (small, large)
    ]
    timeline = [statements(path) for path, _ in paths]
    lookup = [statements(path) for _, path in paths]
    assert timeline[0] == timeline[1] and timeline[1] <= 18, timeline
    assert lookup[0] == lookup[1] and lookup[1] <= 12, lookup
