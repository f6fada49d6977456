"""Custom fields: definitions through the API, their values checked on every write of
customers, organizations and tickets, and a deleted definition's values taken away."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk.audit.models import AuditEvent
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.fields import services
from helpdesk.fields.models import CustomField

V1 = "/api/v1"


@pytest.fixture
def define(api):
    """Define a field as the admin: ``define("plan", "select", options=[...])``."""

    def make(key, kind="text", applies_to="customer", **more):
        body = {"key": key, "label": key.title(), "type": kind, "applies_to": applies_to, **more}
        response = api.post(f"{V1}/custom-fields", json=body)
        assert response.status_code == 201, response.json
        return response.json

    return make


def test_admins_define_fields_and_everyone_reads_them(api, api_as, make_agent, define):
    plan = define("plan", "select", options=["gold", "silver", "gold"])
    assert plan["options"] == ["gold", "silver"] and plan["applies_to"] == "customer"
    define("plan", "text", applies_to="ticket")  # the same key for other records is fine
    agent = api_as(make_agent())
    listed = agent.get(f"{V1}/custom-fields?applies_to=customer").json
    assert [f["key"] for f in listed["items"]] == ["plan"] and listed["next"] is None
    assert len(agent.get(f"{V1}/custom-fields").json["items"]) == 2
    body = {"key": "x", "label": "X", "type": "text", "applies_to": "customer"}
    assert agent.post(f"{V1}/custom-fields", json=body).status_code == 403
    assert agent.patch(f"{V1}/custom-fields/{plan['id']}", json={"label": "Y"}).status_code == 403
    assert agent.delete(f"{V1}/custom-fields/{plan['id']}").status_code == 403
    patched = api.patch(f"{V1}/custom-fields/{plan['id']}", json={"label": "Plan", "position": 2})
    assert (patched.json["label"], patched.json["position"]) == ("Plan", 2)
    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.action.like("custom_field.%"))
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["custom_field.create", "custom_field.create", "custom_field.update"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"key": "Plan"}, "key"),  # a slug: lower case
        ({"key": "plan-b"}, "key"),
        ({"type": "colour"}, "type"),
        ({"applies_to": "agent"}, "applies_to"),
        ({"type": "select"}, "options"),  # a select needs options
        ({"options": ["a"]}, "options"),  # a text takes none
    ],
)
def test_bad_definitions_are_refused(api, body, field):
    base = {"key": "plan", "label": "Plan", "type": "text", "applies_to": "customer"}
    response = api.post(f"{V1}/custom-fields", json={**base, **body})
    assert response.status_code == 422 and field in response.json["error"]["fields"]
    assert db.session.scalar(select(CustomField.id)) is None


def test_a_key_is_unique_per_kind_of_record(api, define):
    define("plan")
    body = {"key": "plan", "label": "Again", "type": "number", "applies_to": "customer"}
    response = api.post(f"{V1}/custom-fields", json=body)
    assert response.status_code == 409 and "key" in response.json["error"]["fields"]


def test_customer_values_are_checked_and_patched_key_by_key(api, define):
    define("plan", "select", options=["gold", "silver"])
    define("seats", "number")
    define("renewal", "date")
    define("vip", "bool")
    bad = api.post(
        f"{V1}/customers",
        json={"name": "Ada", "custom_fields": {"plan": "bronze", "seats": "many", "nope": 1}},
    )
    assert bad.status_code == 422
    assert set(bad.json["error"]["fields"]) == {
        "custom_fields.plan",
        "custom_fields.seats",
        "custom_fields.nope",
    }
    assert db.session.scalar(select(Customer.id)) is None  # nothing written on a 422
    ada = api.post(
        f"{V1}/customers",
        json={"name": "Ada", "custom_fields": {"plan": "gold", "seats": "12", "vip": True}},
    ).json
    assert ada["custom_fields"] == {"plan": "gold", "seats": 12, "vip": True}
    patched = api.patch(
        f"{V1}/customers/{ada['id']}",
        json={"custom_fields": {"seats": None, "renewal": "2027-01-31"}},
    )
    assert patched.status_code == 200, patched.json
    assert patched.json["custom_fields"] == {"plan": "gold", "vip": True, "renewal": "2027-01-31"}
    wrong = api.patch(f"{V1}/customers/{ada['id']}", json={"custom_fields": {"renewal": "31.1."}})
    assert wrong.status_code == 422
    assert list(wrong.json["error"]["fields"]) == ["custom_fields.renewal"]
    assert api.get(f"{V1}/customers/{ada['id']}").json["custom_fields"]["renewal"] == "2027-01-31"
    exported = api.get(f"{V1}/customers/{ada['id']}/export").json
    assert exported["customer"]["custom_fields"] == patched.json["custom_fields"]


def test_organization_and_ticket_values_are_checked(api, define, make_customer, make_ticket):
    define("tier", "select", applies_to="organization", options=["A", "B"])
    define("rma", "text", applies_to="ticket")
    bad = api.post(f"{V1}/organizations", json={"name": "Acme", "custom_fields": {"tier": "C"}})
    assert bad.status_code == 422 and "custom_fields.tier" in bad.json["error"]["fields"]
    org = api.post(f"{V1}/organizations", json={"name": "Acme", "custom_fields": {"tier": "A"}})
    assert org.status_code == 201 and org.json["custom_fields"] == {"tier": "A"}
    ada = make_customer("Ada", emails=["ada@example.com"])
    refused = api.post(
        f"{V1}/tickets", json={"customer": ada.id, "subject": "x", "custom_fields": {"tier": "A"}}
    )
    assert refused.status_code == 422 and "custom_fields.tier" in refused.json["error"]["fields"]
    ticket_id = make_ticket(ada, "Broken", custom_fields={"rma": "R-1"})
    assert api.get(f"{V1}/tickets/{ticket_id}").json["custom_fields"] == {"rma": "R-1"}
    patched = api.patch(f"{V1}/tickets/{ticket_id}", json={"custom_fields": {"rma": "R-2"}})
    assert patched.status_code == 200 and patched.json["custom_fields"] == {"rma": "R-2"}
    trail = api.get(f"{V1}/tickets/{ticket_id}").json["events"]
    assert any(e["kind"] == "custom_fields" and e["data"]["to"] == {"rma": "R-2"} for e in trail)


def test_deleting_a_definition_takes_its_values_off_every_record(
    api, define, make_customer, monkeypatch
):
    monkeypatch.setattr(services, "BATCH", 2)  # several batches for a few rows
    plan = define("plan")
    define("seats", "number")
    ids = [make_customer(f"C{n}", custom_fields={"plan": f"p{n}", "seats": n}).id for n in range(5)]
    other = make_customer("Plain", custom_fields={"seats": 1})
    assert api.delete(f"{V1}/custom-fields/{plan['id']}").status_code == 204
    db.session.expire_all()
    for n, customer_id in enumerate(ids):
        assert db.session.get(Customer, customer_id).custom_fields == {"seats": n}
    assert db.session.get(Customer, other.id).custom_fields == {"seats": 1}
    assert api.get(f"{V1}/custom-fields/{plan['id']}").status_code == 404
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "custom_field.delete")
    ).one()
    assert event.before["values_removed"] == 5
    # The key is free again, and an old value does not come back with it.
    define("plan", "number")
    assert db.session.get(Customer, ids[0]).custom_fields == {"seats": 0}
