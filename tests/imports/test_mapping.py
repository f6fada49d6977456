"""Any other CSV file: its columns shown with values and a guessed mapping, the mapping
changed and dry-run again, then imported; ``field.KEY`` columns checked against the custom
field definitions; who may import, and refusals that write nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from helpdesk.customers.models import Customer, Identity
from helpdesk.extensions import db
from helpdesk.fields.models import CustomField
from helpdesk.imports.models import Import

OTHER_TOOL = (
    "Vorname;Nachname;E-Mail;Telefon;PLZ;Ort;Kundennummer;Stufe;Notiz\r\n"
    "Jürgen;Müller;juergen@example.de;030 1234567;10115;Berlin;K-1;gold;netter Kunde\r\n"
    "Zoë;Ärger;zoe@example.de;;80331;München;K-2;blech;\r\n"
    "Ada;Lovelace;ada@example.com;;;;K-3;silver;\r\n"
)


def count(model) -> int:
    """Rows of a model."""
    return db.session.scalar(select(func.count()).select_from(model))


def by_email(address: str) -> Customer | None:
    """The customer owning an email address."""
    return db.session.scalar(
        select(Customer).join(Identity).where(Identity.kind == "email", Identity.value == address)
    )


@pytest.fixture
def fields(app):
    """Two custom fields of customers: a text and a select."""
    db.session.add_all(
        [
            CustomField(
                key="customer_number", label="Kundennummer", type="text", applies_to="customer"
            ),
            CustomField(
                key="tier",
                label="Tier",
                type="select",
                options=["gold", "silver"],
                applies_to="customer",
                position=1,
            ),
            CustomField(key="since", label="Since", type="date", applies_to="customer", position=2),
        ]
    )
    db.session.commit()


def test_the_mapping_step_guesses_shows_samples_and_takes_changes(fields, api, make_customer):
    make_customer("Ada L.", emails=["ada@example.com"])
    upload = api.post(
        "/api/v1/imports",
        json={"filename": "export.csv", "content": OTHER_TOOL, "dry_run": True},
    )
    assert upload.status_code == 201, upload.json
    item = upload.json
    assert (item["source"], item["kind"], item["status"], item["total"]) == (
        "custom",
        "customers",
        "checked",
        3,
    )
    columns = {c["name"]: c for c in item["columns"]}
    assert [c["name"] for c in item["columns"]][:3] == ["Vorname", "Nachname", "E-Mail"]
    assert {name: c["target"] for name, c in columns.items()} == {
        "Vorname": "first_name",
        "Nachname": "last_name",
        "E-Mail": "email",
        "Telefon": "phone",
        "PLZ": "postcode",
        "Ort": "city",
        "Kundennummer": "field.customer_number",  # by the field's label
        "Stufe": "ignore",
        "Notiz": "ignore",
    }
    assert columns["Vorname"]["samples"] == ["Jürgen", "Zoë", "Ada"]
    assert "field.tier" in item["targets"] and "ignore" in item["targets"]
    assert [r["outcome"] for r in item["rows"]] == ["created", "created", "merged"]

    # Stufe holds the tier: map it, and check again; the bad value refuses its row.
    rerun = api.post(f"/api/v1/imports/{item['id']}/run", json={"mapping": {"Stufe": "field.tier"}})
    assert rerun.status_code == 202, rerun.json
    rows = {r["line"]: r for r in rerun.json["rows"]}
    assert rows[3]["outcome"] == "refused"
    assert rows[3]["reason"].startswith("field.tier: must be one of: gold, silver")
    assert rerun.json["mapping"]["Stufe"] == "field.tier" and count(Customer) == 1

    done = api.post(f"/api/v1/imports/{item['id']}/run", json={"dry_run": False}).json
    assert done["status"] == "done" and done["counts"]["refused"] == 1
    juergen = by_email("juergen@example.de")
    assert juergen.name == "Jürgen Müller" and juergen.values("phone") == ["+49301234567"]
    assert juergen.custom_fields == {"customer_number": "K-1", "tier": "gold"}
    assert (juergen.postcode, juergen.city) == ("10115", "Berlin")
    assert by_email("zoe@example.de") is None
    ada = by_email("ada@example.com")
    assert ada.name == "Ada Lovelace" and ada.custom_fields == {
        "customer_number": "K-3",
        "tier": "silver",
    }
    assert api.get("/api/v1/imports").json["items"][0]["id"] == item["id"]


def test_field_columns_of_our_own_format(fields, api):
    content = (
        "name,email,field.tier,field.since,country,sms_marketing\n"
        "Ada,ada@example.com,gold,2020-01-31,de,ja\n"
        "Bob,bob@example.com,bronze,,,\n"
        "Cy,cy@example.com,,31.01.2020,,\n"
        "Di,di@example.com,,,Atlantis,\n"
        "Ed,ed@example.com,,,,vielleicht\n"
    )
    item = api.post(
        "/api/v1/imports", json={"filename": "ours.csv", "content": content, "dry_run": False}
    ).json
    assert item["source"] == "helpdesk" and item["mapping"]["field.tier"] == "field.tier"
    rows = {r["line"]: r for r in item["rows"]}
    assert [rows[n]["outcome"] for n in (2, 3, 4, 5)] == [
        "created",
        "refused",
        "refused",
        "refused",
    ]
    assert rows[3]["reason"].startswith("field.tier:")
    assert rows[4]["reason"].startswith("field.since: must be a date")
    assert rows[5]["reason"] == "country: unknown country 'Atlantis'"
    assert rows[6]["reason"] == "sms_marketing: write yes or no (got 'vielleicht')"
    ada = by_email("ada@example.com")
    assert ada.custom_fields == {"tier": "gold", "since": "2020-01-31"} and ada.country == "DE"
    assert [(c.purpose, c.granted, c.source) for c in ada.consents] == [
        ("sms_marketing", True, "import")
    ]
    assert count(Customer) == 1


def test_bad_uploads_and_mappings_answer_422_and_write_nothing(fields, api):
    empty = api.post("/api/v1/imports", json={"filename": "a.csv", "content": " \n"})
    assert empty.status_code == 422 and "content" in empty.json["error"]["fields"]
    twice = api.post("/api/v1/imports", json={"filename": "a.csv", "content": "name,Name\nA,B\n"})
    assert twice.status_code == 422 and "twice" in twice.json["error"]["message"]
    bad = api.post(
        "/api/v1/imports",
        json={
            "filename": "a.csv",
            "content": OTHER_TOOL,
            "mapping": {"Stufe": "field.nope", "Nix": "name", "Ort": "planet"},
        },
    )
    assert bad.status_code == 422
    assert bad.json["error"]["fields"] == {
        "mapping.Stufe": "no custom field 'nope' is defined",
        "mapping.Nix": "no such column in the file",
        "mapping.Ort": "unknown target 'planet'",
    }
    nothing = api.post(
        "/api/v1/imports",
        json={
            "filename": "a.csv",
            "content": "a,b\n1,2\n",
            "mapping": {"a": "ignore", "b": "ignore"},
        },
    )
    assert nothing.status_code == 422 and "mapping" in nothing.json["error"]["fields"]
    assert count(Import) == 0 and count(Customer) == 0


def test_leads_and_admins_import_each_sees_their_own(api, api_as, make_agent, admin):
    agent = make_agent("agent@example.com")
    lead = make_agent("lead@example.com", role="lead")
    other = make_agent("other@example.com", role="lead")
    body = {"filename": "a.csv", "content": "name,email\nAda,ada@example.com\n"}
    assert api_as(agent).post("/api/v1/imports", json=body).status_code == 403
    assert api_as(agent).get("/api/v1/imports").status_code == 403
    created = api_as(lead).post("/api/v1/imports", json=body)
    assert created.status_code == 201
    mine = created.json["id"]
    assert api_as(other).get(f"/api/v1/imports/{mine}").status_code == 404
    assert api_as(other).get(f"/api/v1/imports/{mine}/report").status_code == 404
    assert api_as(other).post(f"/api/v1/imports/{mine}/run", json={}).status_code == 404
    assert api_as(other).get("/api/v1/imports").json["items"] == []
    assert api.get(f"/api/v1/imports/{mine}").json["agent"] == lead.id  # admins see all
    assert api.get("/api/v1/imports/999999").status_code == 404
