"""Segments: saved filters, checked by the list's parser, private or shared, evaluated now."""

from __future__ import annotations

from helpdesk import unit_of_work
from helpdesk.audit.models import AuditEvent
from helpdesk.customers.models import Customer
from helpdesk.extensions import db

V1 = "/api/v1"


def tag(customer_id: int, *tags: str, city: str | None = None) -> None:
    with unit_of_work.write_phase():
        customer = db.session.get(Customer, customer_id)
        customer.tags = list(tags)
        customer.city = city
        db.session.commit()


def test_a_segment_is_saved_read_and_evaluated_now(api, make_customer):
    ada = make_customer("Ada", emails=["ada@example.com"])
    tag(ada.id, "vip", city="Berlin")
    made = api.post(
        f"{V1}/segments",
        json={"name": "VIP in Berlin", "filter": {"tag": ["vip"], "q": "berlin"}, "shared": True},
    )
    assert made.status_code == 201, made.json
    segment = made.json
    assert segment["filter"] == {"q": "berlin", "tag": ["vip"]} and segment["shared"] is True
    first = api.get(f"{V1}/segments/{segment['id']}/customers")
    assert first.json["count"] == 1 and first.json["items"][0]["name"] == "Ada"
    bob = make_customer("Bob", emails=["bob@example.com"])
    tag(bob.id, "vip", city="Berlin")  # joins the segment without anyone saving it again
    now = api.get(f"{V1}/segments/{segment['id']}/customers?sort=name&per_page=1")
    assert now.json["count"] == 2 and now.json["next"]
    assert [s["name"] for s in api.get(f"{V1}/segments").json["items"]] == ["VIP in Berlin"]
    renamed = api.patch(f"{V1}/segments/{segment['id']}", json={"name": "Berlin VIPs"})
    assert renamed.json["name"] == "Berlin VIPs"
    assert api.delete(f"{V1}/segments/{segment['id']}").status_code == 204
    assert api.get(f"{V1}/segments/{segment['id']}").status_code == 404


def test_a_bad_filter_is_refused_naming_its_key(api):
    for bad, field in [
        ({"country": "Germany"}, "filter.country"),
        ({"colour": "red"}, "filter.colour"),
        ({"field.nope": "1"}, "filter.field.nope"),
        ({"has_open_tickets": "perhaps"}, "filter.has_open_tickets"),
    ]:
        response = api.post(f"{V1}/segments", json={"name": "x", "filter": bad})
        assert response.status_code == 422, response.json
        assert field in response.json["error"]["fields"], response.json
    response = api.post(f"{V1}/segments", json={"name": "x", "filter": {"tag": 3}})
    assert response.status_code == 422


def test_private_segments_are_their_owners_alone(api, api_as, make_agent):
    anna, ben = make_agent("anna@example.com"), make_agent("ben@example.com")
    private = api_as(anna).post(f"{V1}/segments", json={"name": "mine", "filter": {}}).json
    shared = (
        api_as(anna)
        .post(f"{V1}/segments", json={"name": "ours", "filter": {"tag": "vip"}, "shared": True})
        .json
    )
    as_ben = api_as(ben)
    assert as_ben.get(f"{V1}/segments/{private['id']}").status_code == 404
    assert as_ben.get(f"{V1}/segments/{private['id']}/customers").status_code == 404
    assert as_ben.patch(f"{V1}/segments/{private['id']}", json={"name": "x"}).status_code == 404
    assert as_ben.get(f"{V1}/segments/{shared['id']}").status_code == 200
    assert as_ben.get(f"{V1}/segments/{shared['id']}/customers").status_code == 200
    assert as_ben.patch(f"{V1}/segments/{shared['id']}", json={"name": "x"}).status_code == 403
    assert as_ben.delete(f"{V1}/segments/{shared['id']}").status_code == 403
    assert [s["name"] for s in as_ben.get(f"{V1}/segments").json["items"]] == ["ours"]
    # admins read and change every segment
    assert api.patch(f"{V1}/segments/{private['id']}", json={"shared": True}).status_code == 200


def test_bulk_tagging_by_filter_and_by_ids_is_audited(api, api_as, make_agent, make_customer):
    people = [make_customer(f"P{n}", emails=[f"p{n}@example.com"]) for n in range(5)]
    for person in people[:3]:
        tag(person.id, "lead", city="Berlin")
    done = api.post(
        f"{V1}/customers/bulk",
        json={"action": "tag", "filter": {"q": "berlin"}, "tag": "newsletter"},
    )
    assert done.status_code == 200, done.json
    assert done.json["changed"] == 3
    assert api.get(f"{V1}/customers?tag=newsletter").json["total"] == 3
    again = api.post(
        f"{V1}/customers/bulk",
        json={"action": "untag", "ids": [people[0].id, people[4].id], "tag": "newsletter"},
    )
    assert again.json["changed"] == 1
    assert api.get(f"{V1}/customers?tag=newsletter&tag=lead").json["total"] == 2
    manager = make_agent("am@example.com")
    moved = api.post(
        f"{V1}/customers/bulk",
        json={
            "action": "set_account_manager",
            "ids": [p.id for p in people],
            "account_manager": manager.id,
        },
    )
    assert moved.json["changed"] == 5
    assert api.get(f"{V1}/customers?account_manager={manager.id}").json["total"] == 5
    events = db.session.query(AuditEvent).filter_by(action="customers.bulk").all()
    assert [e.after["count"] for e in events] == [3, 1, 5]
    assert events[0].after["filter"] == {"q": "berlin"} and events[0].after["tag"] == "newsletter"
    # agents tag, but only leads and admins hand out accounts
    agent = api_as(make_agent("plain@example.com"))
    refused = agent.post(
        f"{V1}/customers/bulk",
        json={"action": "set_account_manager", "ids": [people[0].id], "account_manager": None},
    )
    assert refused.status_code == 403


def test_bulk_refuses_ids_and_filter_together_or_neither(api):
    for body in (
        {"action": "tag", "tag": "x"},
        {"action": "tag", "tag": "x", "ids": [1], "filter": {}},
        {"action": "tag", "tag": "x", "ids": []},
        {"action": "tag", "ids": [1]},
        {"action": "explode", "ids": [1]},
    ):
        assert api.post(f"{V1}/customers/bulk", json=body).status_code == 422, body
