"""HubSpot, Pipedrive and Insightly exports: recognised by their header, dry-run without
writing, imported as a job, reported row by row (samples in tests/imports/samples)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpdesk import unit_of_work
from helpdesk.audit.models import AuditEvent
from helpdesk.customers.models import Customer, Identity, Organization, OrganizationDomain
from helpdesk.extensions import db
from helpdesk.imports import formats, services
from helpdesk.imports.csvfile import CsvFile
from helpdesk.imports.models import Import

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> str:
    """A sample file's text."""
    return (SAMPLES / name).read_text(encoding="utf-8")


def count(model) -> int:
    """Rows of a model."""
    return db.session.scalar(select(func.count()).select_from(model))


def by_email(address: str) -> Customer | None:
    """The customer owning an email address."""
    return db.session.scalar(
        select(Customer).join(Identity).where(Identity.kind == "email", Identity.value == address)
    )


@pytest.fixture
def world(make_agent, make_customer):
    """What the samples meet: Eve (a customer already), an organization, Lena (a lead)."""
    lena = make_agent("lena@example.com", role="lead", name="Lena Lead")
    eve = make_customer(
        "Eve Existing", emails=["eve@example.com"], phones=["040 5550100"], tags=["newsletter"]
    )
    clinic = Organization(name="Ärztehaus Nord", custom_fields={})
    db.session.add(clinic)
    db.session.commit()
    return {"lena": lena, "eve": eve, "clinic": clinic}


@pytest.mark.parametrize(
    "name, source, kind",
    [
        ("hubspot-contacts.csv", "hubspot", "customers"),
        ("hubspot-companies.csv", "hubspot", "organizations"),
        ("pipedrive-people.csv", "pipedrive", "customers"),
        ("pipedrive-organizations.csv", "pipedrive", "organizations"),
        ("insightly-contacts.csv", "insightly", "customers"),
        ("insightly-organizations.csv", "insightly", "organizations"),
    ],
)
def test_the_source_is_detected_from_the_header(app, name, source, kind):
    header = CsvFile(io.StringIO(sample(name))).header
    assert formats.detect(header) == (source, kind)
    mapping = formats.mapping_for(source, kind, header, {})
    assert set(mapping) == set(header)
    assert "name" in mapping.values() or {"first_name", "last_name"} <= set(mapping.values())


def test_our_own_and_other_files_are_told_apart(app):
    assert formats.detect(["name", "email", "field.tier"]) == ("helpdesk", "customers")
    assert formats.detect(["name", "domains", "industry"]) == ("helpdesk", "organizations")
    assert formats.detect(["Vorname", "Nachname", "E-Mail"]) == ("custom", "customers")


def dry_run(agent, name: str, **upload) -> Import:
    """Upload a sample and dry-run it (the job runs in-process after the commit)."""
    imp = services.upload(agent, name, sample(name), **upload)
    services.start(imp, dry_run=True)
    unit_of_work.commit()  # the job runs now, without Redis
    db.session.refresh(imp)
    return imp


def report(imp: Import) -> dict[int, tuple[str, str, str]]:
    """The stored report by line: (outcome, id, reason)."""
    rows = list(csv.DictReader(io.StringIO(imp.report)))
    key = "organization_id" if imp.kind == "organizations" else "customer_id"
    return {int(r["line"]): (r["outcome"], r[key], r["reason"]) for r in rows}


def test_hubspot_contacts_dry_run_writes_nothing_then_the_job_imports(world, app, client, api):
    before = (count(Customer), count(Organization), count(Identity), count(AuditEvent))
    imp = dry_run(world["lena"], "hubspot-contacts.csv")

    assert (imp.status, imp.source, imp.kind, imp.progress) == (
        "checked",
        "hubspot",
        "customers",
        100,
    )
    assert (count(Customer), count(Organization), count(Identity), count(AuditEvent)) == before
    rows = report(imp)
    assert [rows[n][0] for n in (2, 3, 4, 5)] == ["created", "created", "refused", "merged"]
    assert rows[4][2].startswith("email") and "mallory(at)example.de" in rows[4][2]
    assert rows[5][1] == str(world["eve"].id) and "Nobody Known" in rows[5][2]
    assert imp.counts == {"created": 2, "updated": 0, "merged": 1, "refused": 1}

    answer = api.post(f"/api/v1/imports/{imp.id}/run", json={"dry_run": False})
    assert answer.status_code == 202, answer.json
    done = api.get(f"/api/v1/imports/{imp.id}").json
    assert (done["status"], done["progress"], done["processed"]) == ("done", 100, 4)
    assert done["counts"] == imp.counts and [r["outcome"] for r in done["rows"]] == [
        "created",
        "created",
        "refused",
        "merged",
    ]

    juergen = by_email("juergen.mueller@example.de")
    assert juergen.name == "Jürgen Müller" and juergen.title == "Inhaber"
    assert juergen.values("phone") == ["+49301234567", "+4915123456789"]
    assert (juergen.street, juergen.postcode, juergen.city, juergen.country) == (
        "Hauptstraße 5",
        "10115",
        "Berlin",
        "DE",
    )
    assert juergen.created_at.isoformat() == "2024-03-05T14:22:00+00:00"
    assert juergen.account_manager_id == world["lena"].id and juergen.tags == ["customer"]
    zoe = by_email("zoe.aerger@example.de")
    assert zoe.organization_id == juergen.organization_id
    assert zoe.organization.name == "Bäckerei Müller GmbH" and zoe.country == "DE"
    eve = db.session.get(Customer, world["eve"].id)
    db.session.refresh(eve)
    assert (eve.title, eve.city, eve.tags) == ("Buyer", "Hamburg", ["newsletter", "customer"])
    assert eve.created_at.year != 2023  # a merge keeps the customer's own created date
    assert count(Customer) == before[0] + 2

    download = api.get(f"/api/v1/imports/{imp.id}/report")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "hubspot-contacts-report.csv" in download.headers["Content-Disposition"]
    lines = download.get_data(as_text=True).splitlines()
    assert lines[0] == "line,outcome,customer_id,reason"
    assert lines[1] == f"2,created,{juergen.id},"
    audit = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "customers.import")
    ).one()
    assert audit.after["counts"] == imp.counts and audit.after["file"] == "hubspot-contacts.csv"
    assert audit.object_id == imp.id

    again = api.post(f"/api/v1/imports/{imp.id}/run", json={"dry_run": False})
    assert again.status_code == 409 and count(Customer) == before[0] + 2


def test_pipedrive_people_labels_phones_and_a_merge_by_phone(world, api):
    answer = api.post(
        "/api/v1/imports",
        json={
            "filename": "pipedrive-people.csv",
            "content": sample("pipedrive-people.csv"),
            "dry_run": False,
        },
    )
    assert answer.status_code == 201, answer.json
    item = answer.json
    assert (item["source"], item["status"], item["progress"]) == ("pipedrive", "done", 100)
    rows = {r["line"]: r for r in item["rows"]}
    assert [rows[n]["outcome"] for n in (2, 3, 4, 5)] == ["created", "created", "refused", "merged"]
    assert rows[4]["reason"].startswith("phone") and "unbekannt" in rows[4]["reason"]
    assert rows[5]["id"] == world["eve"].id  # matched on the normalised phone
    anna = by_email("anna.schaefer@example.at")
    assert anna.values("phone") == ["+4315123456"] and anna.tags == ["Hot lead"]
    assert anna.title == "Geschäftsführerin" and anna.account_manager_id == world["lena"].id
    assert anna.created_at.isoformat() == "2024-03-05T14:22:10+00:00"
    bjoern = by_email("bjoern@example.com")
    assert bjoern.values("phone") == ["+491712345678"]
    assert bjoern.organization_id == anna.organization_id
    eve = db.session.get(Customer, world["eve"].id)
    db.session.refresh(eve)
    assert "VIP" in eve.tags and eve.name == "Eve Existing"


def test_insightly_contacts_us_dates_and_tags(world, api):
    acme = Organization(name="ACME Incorporated", custom_fields={})
    acme.domains = [OrganizationDomain(domain="acme.example")]
    db.session.add(acme)
    db.session.commit()
    item = api.post(
        "/api/v1/imports",
        json={
            "filename": "insightly-contacts.csv",
            "content": sample("insightly-contacts.csv"),
            "dry_run": False,
        },
    ).json
    rows = {r["line"]: r for r in item["rows"]}
    assert [rows[n]["outcome"] for n in (2, 3, 4, 5)] == ["created", "created", "refused", "merged"]
    assert rows[4]["reason"].startswith("created_at") and "31/12/2024" in rows[4]["reason"]
    kaethe = by_email("kaethe.gross@example.de")
    assert kaethe.name == "Käthe Groß" and kaethe.tags == ["vip", "newsletter"]
    assert kaethe.created_at.isoformat() == "2024-03-05T00:00:00+00:00"  # March 5th
    assert (kaethe.city, kaethe.postcode, kaethe.country) == ("München", "80802", "DE")
    tom = by_email("tom.smith@acme.example")
    assert tom.values("phone") == ["+16175550134"] and tom.country == "US"
    assert tom.organization_id == acme.id  # "Acme Inc": no such name, but its domain
    assert tom.created_at.isoformat() == "2024-03-15T14:15:00+00:00"


@pytest.mark.parametrize(
    "name, outcomes",
    [
        ("hubspot-companies.csv", ["created", "updated", "created", "refused"]),
        ("pipedrive-organizations.csv", ["created", "updated", "refused", "refused"]),
        ("insightly-organizations.csv", ["created", "created", "refused"]),
    ],
)
def test_company_files_create_or_update_organizations(world, app, name, outcomes):
    imp = dry_run(world["lena"], name)
    assert imp.kind == "organizations" and count(Organization) == 1  # the dry run wrote none
    assert [outcome for outcome, _, _ in report(imp).values()] == outcomes
    services.start(imp, dry_run=False)
    unit_of_work.commit()
    db.session.refresh(imp)
    assert imp.status == "done" and [o for o, _, _ in report(imp).values()] == outcomes
    clinic = db.session.get(Organization, world["clinic"].id)
    db.session.refresh(clinic)
    if name == "hubspot-companies.csv":
        assert [d.domain for d in clinic.domains] == ["aerztehaus-nord.example"]
        assert (clinic.industry, clinic.street, clinic.city) == (
            "Hospital & Health Care",
            "Nordallee 3",
            "Hamburg",
        )
        fritz = db.session.scalar(select(Organization).where(Organization.name == "Freemail Fritz"))
        assert fritz.domains == [] and "free-mail" in report(imp)[4][2]
        assert "name" in report(imp)[5][2]
    if name == "pipedrive-organizations.csv":
        wien = db.session.scalar(
            select(Organization).where(Organization.name == "Wiener Würstel OG")
        )
        assert (wien.street, wien.postcode, wien.city, wien.country) == (
            "Mariahilfer Straße 12",
            "1060",
            "Wien",
            "AT",
        )
        assert [d.domain for d in wien.domains] == ["wiener-wuerstel.example"]
        assert wien.account_manager_id == world["lena"].id
        assert (clinic.street, clinic.country) == ("Nordallee 3", "DE")  # matched by name
        assert "Narnia" in report(imp)[5][2]
    if name == "insightly-organizations.csv":
        acme = db.session.scalar(select(Organization).where(Organization.name == "Acme Inc"))
        assert acme.country == "US" and acme.created_at.isoformat() == "2024-02-28T09:30:00+00:00"


def test_a_dry_run_counts_a_person_twice_in_the_file_as_merged_across_batches(app, admin):
    # Line 2's customer is rolled back with the first batch of 500 rows; line 503 is
    # still the same person, as the real run would find.
    people = [f"P{n},p{n}@example.com" for n in range(500)]
    content = "\r\n".join(["name,email", "Ada,ada@example.com", *people, "Ada L.,ADA@example.com"])
    imp = services.upload(admin, "people.csv", content)
    services.start(imp, dry_run=True)
    unit_of_work.commit()
    db.session.refresh(imp)
    assert imp.counts == {"created": 501, "updated": 0, "merged": 1, "refused": 0}
    assert report(imp)[503] == ("merged", "", "the same person as line 2")
    assert count(Customer) == 0
