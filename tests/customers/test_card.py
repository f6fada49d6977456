"""The CRM card: consents per purpose (and what replaced the two old flags), addresses,
account managers, organizations' new fields, and the audit log of every change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from helpdesk import unit_of_work
from helpdesk.audit.models import AuditEvent
from helpdesk.customers import consents
from helpdesk.customers.models import Consent, Customer
from helpdesk.extensions import db

V1 = "/api/v1"
NEVER = {"granted": False, "at": None, "source": None}


def audit(action: str) -> list[AuditEvent]:
    """The audit events of one action, oldest first."""
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def test_consents_are_given_per_purpose_and_every_change_is_audited(api, admin):
    ada = api.post(
        f"{V1}/customers",
        json={
            "name": "Ada",
            "consents": {"email_marketing": {"granted": True, "source": "newsletter form"}},
        },
    ).json
    assert ada["consents"]["sms_marketing"] == NEVER == ada["consents"]["order_updates"]
    given = ada["consents"]["email_marketing"]
    assert given["granted"] is True and given["source"] == "newsletter form" and given["at"]
    patched = api.patch(
        f"{V1}/customers/{ada['id']}",
        json={
            "consents": {
                "sms_marketing": {"granted": True, "source": "phone call"},
                "email_marketing": {"granted": False, "at": "2026-11-30T10:00:00Z"},
            }
        },
    )
    assert patched.status_code == 200, patched.json
    out = patched.json["consents"]
    assert (
        out["sms_marketing"]["granted"] is True and out["sms_marketing"]["source"] == "phone call"
    )
    assert out["email_marketing"] == {
        "granted": False,
        "at": "2026-11-30T10:00:00+00:00",
        "source": "api",  # a token's change, unless the caller says where it came from
    }
    changes = {(e.after["purpose"], e.after["granted"]): e for e in audit("consent.change")}
    assert set(changes) == {
        ("email_marketing", True),
        ("sms_marketing", True),
        ("email_marketing", False),
    }
    revoked, sms = changes["email_marketing", False], changes["sms_marketing", True]
    assert revoked.before["granted"] is True and revoked.agent_id == admin.id
    assert sms.before is None and sms.customer_id == ada["id"]
    # The same statement again is no change.
    again = {"consents": {"sms_marketing": {"granted": True, "source": "phone call"}}}
    api.patch(f"{V1}/customers/{ada['id']}", json=again)
    assert len(audit("consent.change")) == 3
    bad = api.patch(f"{V1}/customers/{ada['id']}", json={"consents": {"fax": {"granted": True}}})
    assert bad.status_code == 422
    assert [*bad.json["error"]["fields"]][0].startswith("consents.fax")


def test_the_order_updates_shorthand_is_the_consent(api, make_customer):
    ada = make_customer("Ada", emails=["ada@example.com"])
    patched = api.patch(f"{V1}/customers/{ada.id}", json={"order_updates": True}).json
    assert patched["preferences"]["order_updates"] is True
    assert patched["consents"]["order_updates"]["granted"] is True
    assert patched["consents"]["order_updates"]["source"] == "api"


def test_stop_refuses_sms_marketing_and_start_lifts_only_the_block(app, make_customer):
    ada = make_customer(
        "Ada", phones=["+491711111111"], consents={"sms_marketing": {"granted": True}}
    )
    with unit_of_work.write_phase():
        assert consents.sms_opt_out(ada, True, "STOP") is True
        assert consents.sms_opt_out(ada, True, "STOP") is False  # already stopped
        db.session.commit()
    assert consents.sms_blocked(ada) and not consents.granted(ada, "sms_marketing")
    with unit_of_work.write_phase():
        assert consents.sms_opt_out(ada, False, "START") is True
        db.session.commit()
    assert not consents.sms_blocked(ada) and not consents.granted(ada, "sms_marketing")
    assert consents.of(ada, "sms_marketing").source == "sms opt-in: START"
    assert [e.after["source"] for e in audit("consent.change")][-2:] == [
        "sms opt-out: STOP",
        "sms opt-in: START",
    ]


def test_merging_keeps_the_later_statement_of_each_purpose(api, make_customer):
    old = datetime(2025, 1, 1, tzinfo=UTC)
    new = datetime(2026, 1, 1, tzinfo=UTC)
    a = make_customer("A", consents={"email_marketing": {"granted": True, "at": old}})
    b = make_customer(
        "B",
        consents={
            "email_marketing": {"granted": False, "at": new, "source": "unsubscribe link"},
            "order_updates": {"granted": True, "at": old},
        },
    )
    merged = api.post(f"{V1}/customers/{a.id}/merge", json={"from": b.id}).json
    assert merged["consents"]["email_marketing"]["granted"] is False
    assert merged["consents"]["email_marketing"]["source"] == "unsubscribe link"
    assert merged["consents"]["order_updates"]["granted"] is True


@pytest.mark.parametrize(
    "address, field",
    [
        ({"country": "XX"}, "address.country"),
        ({"country": "DEU"}, "address.country"),
        ({"postcode": "1" * 21}, "address.postcode"),
        ({"planet": "Mars"}, "address.planet"),
    ],
)
def test_bad_addresses_are_refused(api, address, field):
    response = api.post(f"{V1}/customers", json={"name": "Ada", "address": address})
    assert response.status_code == 422 and field in response.json["error"]["fields"]


def test_address_and_account_manager_in_and_out(api, make_agent):
    manager, org_manager = make_agent(), make_agent()
    org = api.post(
        f"{V1}/organizations",
        json={
            "name": "Acme",
            "industry": "Retail",
            "account_manager": org_manager.id,
            "address": {
                "street": "Hauptstr. 1",
                "postcode": "10115",
                "city": "Berlin",
                "country": "de",
            },
        },
    ).json
    assert org["industry"] == "Retail" and org["account_manager"] == org_manager.id
    assert org["address"] == {
        "street": "Hauptstr. 1",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
    }
    ada = api.post(
        f"{V1}/customers",
        json={
            "name": "Ada",
            "organization": org["id"],
            "address": {"city": "Wien", "country": "at"},
        },
    ).json
    assert ada["address"] == {"street": None, "postcode": None, "city": "Wien", "country": "AT"}
    assert (ada["account_manager"], ada["account_manager_effective"]) == (None, org_manager.id)
    patched = api.patch(
        f"{V1}/customers/{ada['id']}",
        json={"account_manager": manager.id, "address": {"street": "Ring 1", "city": None}},
    ).json
    assert patched["address"] == {
        "street": "Ring 1",
        "postcode": None,
        "city": None,
        "country": "AT",
    }
    assert (patched["account_manager"], patched["account_manager_effective"]) == (
        manager.id,
        manager.id,
    )
    with unit_of_work.write_phase():
        manager.active = False
        db.session.commit()
    refused = api.patch(f"{V1}/customers/{ada['id']}", json={"account_manager": manager.id})
    assert refused.status_code == 422 and "account_manager" in refused.json["error"]["fields"]
    refused = api.patch(f"{V1}/organizations/{org['id']}", json={"account_manager": 99999})
    assert refused.status_code == 422 and "account_manager" in refused.json["error"]["fields"]


def test_customer_and_organization_changes_are_audited_with_the_changed_fields(api, admin):
    org = api.post(f"{V1}/organizations", json={"name": "Acme", "domains": ["acme.example"]}).json
    api.patch(f"{V1}/organizations/{org['id']}", json={"name": "Acme Inc", "industry": "Retail"})
    ada = api.post(f"{V1}/customers", json={"name": "Ada", "emails": ["ada@acme.example"]}).json
    api.patch(f"{V1}/customers/{ada['id']}", json={"title": "CTO", "name": "Ada"})
    api.patch(f"{V1}/customers/{ada['id']}", json={"name": "Ada"})  # no change: no event
    [created] = audit("organization.create")
    assert created.after == {"name": "Acme", "domains": ["acme.example"]}
    [updated] = audit("organization.update")
    assert (updated.before, updated.after) == (
        {"name": "Acme", "industry": None},
        {"name": "Acme Inc", "industry": "Retail"},
    )
    assert updated.object_type == "organization" and updated.object_id == org["id"]
    [created] = audit("customer.create")
    assert created.after == {
        "name": "Ada",
        "emails": ["ada@acme.example"],
        "organization_id": org["id"],
    }
    [updated] = audit("customer.update")
    assert (updated.before, updated.after) == ({"title": None}, {"title": "CTO"})
    assert (updated.customer_id, updated.agent_id) == (ada["id"], admin.id)


def test_organizations_list_sorts_and_counts(api):
    for name in ("beta", "Alpha", "gamma"):
        api.post(f"{V1}/organizations", json={"name": name})

    def names(sort):
        return [o["name"] for o in api.get(f"{V1}/organizations?sort={sort}").json["items"]]

    assert names("name") == ["Alpha", "beta", "gamma"]
    assert names("-name") == ["gamma", "beta", "Alpha"]
    assert api.get(f"{V1}/organizations?sort=size").status_code == 422


def test_an_account_manager_sees_only_the_organizations_they_manage(api, api_as, make_agent):
    manager = make_agent()
    with unit_of_work.write_phase():
        manager.own_accounts_only = True
        db.session.commit()
    mine = api.post(f"{V1}/organizations", json={"name": "Mine", "account_manager": manager.id})
    theirs = api.post(f"{V1}/organizations", json={"name": "Theirs"})
    as_manager = api_as(manager)
    listed = as_manager.get(f"{V1}/organizations").json["items"]
    assert [o["name"] for o in listed] == ["Mine"]
    assert as_manager.get(f"{V1}/organizations/{mine.json['id']}").status_code == 200
    assert as_manager.get(f"{V1}/organizations/{theirs.json['id']}").status_code == 404
    patch = as_manager.patch(f"{V1}/organizations/{theirs.json['id']}", json={"name": "X"})
    assert patch.status_code == 404


def test_the_migration_turns_the_two_flags_into_consents_and_back(app):
    downgrade(revision="h16a0001")
    try:
        now = "2026-01-02 03:04:05"
        for n, (updates, stop) in enumerate([(True, False), (False, True), (False, False)]):
            db.session.execute(
                text(
                    "INSERT INTO customers (id, name, key_person, language, order_updates, "
                    "sms_opt_out, tags, custom_fields, created_at, updated_at) VALUES "
                    "(:id, :name, :f, NULL, :u, :s, '[]', '{}', :now, :now)"
                ),
                {"id": 100 + n, "name": f"C{n}", "f": False, "u": updates, "s": stop, "now": now},
            )
        # A child row: the table rebuild must not cascade to it (SQLite's DROP TABLE).
        db.session.execute(
            text(
                "INSERT INTO identities (customer_id, kind, value, created_at) "
                "VALUES (102, 'email', 'c2@example.com', :now)"
            ),
            {"now": now},
        )
        db.session.commit()
    finally:
        upgrade()
    db.session.expire_all()
    rows = db.session.scalars(select(Consent).order_by(Consent.customer_id)).all()
    assert [(c.customer_id, c.purpose, c.granted) for c in rows] == [
        (100, "order_updates", True),
        (101, "sms_marketing", False),
    ]
    assert consents.sms_blocked(db.session.get(Customer, 101))
    assert consents.granted(db.session.get(Customer, 100), "order_updates")
    assert db.session.get(Customer, 102).values("email") == ["c2@example.com"]
    db.session.rollback()  # (SQLite: no read snapshot from before the downgrade)
    downgrade(revision="h16a0001")
    try:
        flags = db.session.execute(
            text("SELECT id, order_updates, sms_opt_out FROM customers ORDER BY id")
        ).all()
        assert [(i, bool(u), bool(s)) for i, u, s in flags] == [
            (100, True, False),
            (101, False, True),
            (102, False, False),
        ]
        db.session.rollback()
    finally:
        upgrade()


def test_the_models_and_the_migrations_agree(app):
    from helpdesk.customers.finder.fulltext import include_object  # migration-only objects

    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        diffs = compare_metadata(context, db.metadata)
    assert diffs == []
