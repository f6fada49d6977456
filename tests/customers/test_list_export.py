"""GET /api/v1/customers/export: every matching customer (not one page), CSV or XLSX,
streamed; leads and admins only; recorded in the audit log."""

from __future__ import annotations

import csv
import io
import zipfile

from helpdesk import unit_of_work
from helpdesk.audit.models import AuditEvent
from helpdesk.customers.models import Consent, Customer
from helpdesk.extensions import db
from helpdesk.fields.models import CustomField

V1 = "/api/v1"


def people(make_customer, n: int) -> list[int]:
    """``n`` customers; the even ones in Berlin, tagged, with a consent and a custom field."""
    with unit_of_work.write_phase():
        db.session.add(CustomField(key="plan", label="Plan", type="text", applies_to="customer"))
        db.session.commit()
    ids = []
    for i in range(n):
        customer = make_customer(f"Person {i:03}", emails=[f"p{i}@example.com"], phones=[])
        if i % 2 == 0:
            with unit_of_work.write_phase():
                row = db.session.get(Customer, customer.id)
                row.city, row.country, row.tags = "Berlin", "DE", ["vip", "b2b"]
                row.street, row.postcode = "Alte Straße 5", "10115"
                row.custom_fields = {"plan": "=1+1"}
                db.session.add(Consent(customer_id=row.id, purpose="email_marketing", granted=True))
                db.session.commit()
        ids.append(customer.id)
    return ids


def test_csv_export_holds_every_matching_customer_across_pages(api, make_customer):
    ids = people(make_customer, 7)
    response = api.get(f"{V1}/customers/export?country=DE&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(r["id"]) for r in rows] == ids[::2]
    first = rows[0]
    assert first["name"] == "Person 000" and first["emails"] == "p0@example.com"
    assert first["street"] == "Alte Straße 5" and first["city"] == "Berlin"
    assert first["tags"] == "vip; b2b"
    assert first["consent.email_marketing"] == "true" and first["consent.sms_marketing"] == ""
    assert first["field.plan"] == "=1+1"
    event = db.session.query(AuditEvent).filter_by(action="customers.export").one()
    assert event.after == {"filter": {"country": "DE"}, "format": "csv", "count": 4}


def test_export_streams_in_batches(api, make_customer, monkeypatch):
    from helpdesk.customers.finder import export

    monkeypatch.setattr(export, "BATCH", 2)  # 7 customers: four pages
    ids = people(make_customer, 7)
    response = api.get(f"{V1}/customers/export", buffered=False)
    chunks = list(response.response)
    assert len(chunks) == 1 + 4  # the header, then one chunk per page
    assert [
        int(r["id"])
        for r in csv.DictReader(
            io.StringIO("".join(c.decode() if isinstance(c, bytes) else c for c in chunks))
        )
    ] == ids


def test_xlsx_export_of_a_segment(api, make_customer):
    people(make_customer, 4)
    segment = api.post(f"{V1}/segments", json={"name": "vip", "filter": {"tag": "vip"}}).json
    response = api.get(f"{V1}/customers/export?segment={segment['id']}&format=xlsx")
    assert response.status_code == 200
    book = zipfile.ZipFile(io.BytesIO(response.data))
    text = "".join(book.read(name).decode() for name in book.namelist() if name.startswith("xl/"))
    assert "Person 000" in text and "Person 002" in text and "Person 001" not in text
    assert "<f>" not in text  # "=1+1" stays text, never a formula
    event = db.session.query(AuditEvent).filter_by(action="customers.export").one()
    assert event.after["segment"] == segment["id"] and event.after["count"] == 2


def test_only_leads_and_admins_export(api_as, make_agent, make_customer):
    people(make_customer, 1)
    agent = api_as(make_agent("agent@example.com", role="agent"))
    assert agent.get(f"{V1}/customers/export").status_code == 403
    lead = api_as(make_agent("lead@example.com", role="lead"))
    assert lead.get(f"{V1}/customers/export").status_code == 200
    assert lead.get(f"{V1}/customers/export?format=pdf").status_code == 422
    assert lead.get(f"{V1}/customers/export?segment=999").status_code == 404


def test_export_streams_after_its_request_ended(web_app, admin, make_token, make_customer):
    """Each request in an app context of its own, as in production: the rows are read
    after the view returned and its session ended."""
    people(make_customer, 3)
    client = web_app.test_client()
    response = client.get(
        f"{V1}/customers/export?tag=vip",
        headers={"Authorization": f"Bearer {make_token(admin)}"},
    )
    assert response.status_code == 200
    assert [r["name"] for r in csv.DictReader(io.StringIO(response.get_data(as_text=True)))] == [
        "Person 000",
        "Person 002",
    ]


def test_the_export_writes_times_and_custom_values_as_the_api_does(api, make_customer):
    """The rows are built in SQL (times, tags, addresses, consents): each value as
    ``datetime.isoformat`` and Python's csv module would write it."""
    from datetime import UTC, datetime

    with unit_of_work.write_phase():
        db.session.add(CustomField(key="vip", label="VIP", type="bool", applies_to="customer"))
        db.session.add(
            CustomField(key="seats", label="Seats", type="number", applies_to="customer")
        )
        db.session.commit()
    ada = make_customer("Ada", emails=["ada@example.com", "ada@work.example"], phones=["+4930123"])
    with unit_of_work.write_phase():
        row = db.session.get(Customer, ada.id)
        row.created_at = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
        row.last_contact_at = datetime(2025, 1, 2, 3, 4, 5, 60, tzinfo=UTC)
        row.tags, row.custom_fields = [], {"vip": True, "seats": 2.5}
        db.session.add(Consent(customer_id=row.id, purpose="sms_marketing", granted=False))
        db.session.commit()
    (got,) = csv.DictReader(io.StringIO(api.get(f"{V1}/customers/export").get_data(as_text=True)))
    assert got["created_at"] == "2024-05-06T07:08:09+00:00"
    assert got["last_contact_at"] == "2025-01-02T03:04:05.000060+00:00"
    assert got["emails"] == "ada@example.com; ada@work.example" and got["phones"] == "+4930123"
    assert got["tags"] == "" and got["consent.sms_marketing"] == "false"
    assert got["consent.email_marketing"] == ""
    assert (got["field.vip"], got["field.seats"]) == ("True", "2.5")
