"""The audit log: what is recorded (logins, logouts, merges, exports, erasures, settings)
and how admins read it (GET /api/v1/audit, /settings/audit)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.audit import services as audit
from helpdesk.audit.models import AuditEvent
from helpdesk.extensions import db
from tests.fixtures.agents import PASSWORD, form_csrf, login

V1 = "/api/v1"


def events(action: str) -> list[AuditEvent]:
    """The stored events of ``action``, oldest first."""
    db.session.expire_all()
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list(db.session.execute(query).scalars())


def test_logins_failed_logins_and_logouts_are_recorded_without_passwords(client, make_agent):
    agent = make_agent("ann@example.com", name="Ann")
    csrf = form_csrf(client)
    wrong = client.post(
        "/login", data={"email": "Ann@Example.com", "password": "guess-1234", "csrf_token": csrf}
    )
    assert wrong.status_code == 200
    client.post(
        "/login",
        data={"email": "nobody@example.com", "password": "guess-5678", "csrf_token": csrf},
    )
    login(client, "ann@example.com")

    failed = events("login.failed")
    assert [(e.after["email"], e.object_id, e.agent_id) for e in failed] == [
        ("ann@example.com", agent.id, None),
        ("nobody@example.com", None, None),
    ]
    assert all(e.ip == "127.0.0.1" for e in failed)
    [ok] = events("login")
    assert (ok.agent_id, ok.after) == (agent.id, {"email": "ann@example.com"})
    stored = repr([(e.before, e.after) for e in db.session.scalars(select(AuditEvent))])
    assert "guess" not in stored and PASSWORD not in stored


def test_logout_is_recorded(client, make_agent):
    agent = make_agent("bo@example.com")
    login(client, "bo@example.com")
    page = client.get("/inbox").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    [event] = events("logout")
    assert (event.agent_id, event.object_type, event.object_id) == (agent.id, "agent", agent.id)


def test_merge_export_and_erase_are_recorded(api, admin, make_customer, inbound):
    ada = make_customer("Ada", emails=["ada@example.com"], title="CTO")
    dup = make_customer("Ada L.", emails=["ada.l@example.com"], phones=["030 1234567"])
    inbound("email", "ada.l@example.com", "Where is my order?", subject="Order")
    dup_id = dup.id

    assert api.post(f"{V1}/customers/{ada.id}/merge", json={"from": dup_id}).status_code == 200
    [merge] = events("customer.merge")
    assert merge.agent_id == admin.id and merge.customer_id == ada.id
    assert merge.before["into"]["name"] == "Ada" and merge.before["into"]["title"] == "CTO"
    assert merge.before["from"]["id"] == dup_id
    assert merge.before["from"]["emails"] == ["ada.l@example.com"]
    assert merge.before["from"]["phones"] == ["+49301234567"]
    assert merge.after["moved"]["tickets"] == 1
    assert merge.after["customer"]["emails"] == ["ada@example.com", "ada.l@example.com"]
    [gone] = events("customer.merged_into")
    assert (gone.customer_id, gone.after["into"]) == (dup_id, ada.id)

    assert api.get(f"{V1}/customers/{ada.id}/export").status_code == 200
    [export] = events("customer.export")
    assert (export.customer_id, export.agent_id) == (ada.id, admin.id)

    ada_id = ada.id
    assert api.delete(f"{V1}/customers/{ada_id}").status_code == 204
    [erase] = events("customer.erase")
    assert erase.customer_id == ada_id
    assert erase.before == {
        "counts": {
            "tickets": 1,
            "messages": 1,
            "calls": 0,
            "orders": 0,
            "notes": 0,
            "identities": 3,
        }
    }
    assert "ada" not in repr((erase.before, erase.after)).lower()
    # The erased customer's events are still found by their id.
    listed = api.get(f"{V1}/audit?customer={ada_id}").json["items"]
    assert [e["action"] for e in listed if e["action"] != "customer.create"] == [
        "customer.erase",
        "customer.export",
        "customer.merge",
    ]


def test_settings_changes_are_recorded(api, admin, make_agent):
    macro = api.post(f"{V1}/macros", json={"name": "Hi", "body": "Hello {customer_name}"})
    assert macro.status_code == 201, macro.json
    mid = macro.json["id"]
    assert api.patch(f"{V1}/macros/{mid}", json={"name": "Hello"}).status_code == 200
    assert api.delete(f"{V1}/macros/{mid}").status_code == 204
    assert [(e.action, e.before, e.after) for e in events("macro.update")] == [
        ("macro.update", {"name": "Hi"}, {"name": "Hello"})
    ]
    assert events("macro.delete")[0].before["name"] == "Hello"

    policy = api.post(
        f"{V1}/sla-policies",
        json={"name": "Gold", "priority": "high", "first_response_minutes": 30},
    )
    assert policy.status_code == 201, policy.json
    pid = policy.json["id"]
    api.patch(f"{V1}/sla-policies/{pid}", json={"first_response_minutes": 20})
    api.delete(f"{V1}/sla-policies/{pid}")
    update = events("sla_policy.update")[0]
    assert (update.before, update.after) == (
        {"first_response_minutes": 30},
        {"first_response_minutes": 20},
    )
    assert [e.object_id for e in events("sla_policy.delete")] == [pid]

    team = admin.teams[0]
    other = api.patch(
        f"{V1}/teams/{team.id}",
        json={"calendar": {"timezone": "UTC", "hours": {"mon": [["09:00", "17:00"]]}}},
    )
    assert other.status_code == 200, other.json
    [team_event] = events("team.update")
    assert team_event.object_id == team.id and "calendar" in team_event.after

    bob = make_agent("bob@example.com")
    [created] = [e for e in events("agent.create") if e.object_id == bob.id]
    assert created.after["email"] == "bob@example.com" and created.after["role"] == "agent"


def test_only_admins_read_the_log(api_as, make_agent):
    lead = make_agent("lead@example.com", role="lead")
    response = api_as(lead).get(f"{V1}/audit")
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


def test_filters_and_pagination(api, admin, make_agent):
    other = make_agent("other@example.com")
    with unit_of_work.write_phase():
        old = audit.record(
            "customer.update", object_type="customer", customer_id=7, agent_id=other.id
        )
        old.at = datetime(2026, 1, 1, 12, tzinfo=UTC)
        for n in range(5):
            audit.record(
                "customer.update",
                object_type="customer",
                customer_id=8,
                agent_id=admin.id,
                after={"n": n},
            )
        db.session.commit()

    by_customer = api.get(f"{V1}/audit?customer=8&per_page=2")
    assert [e["after"]["n"] for e in by_customer.json["items"]] == [4, 3]
    assert by_customer.json["items"][0]["agent"] == {"id": admin.id, "name": "Admin"}
    following = api.get(by_customer.json["next"]).json
    assert [e["after"]["n"] for e in following["items"]] == [2, 1]

    assert [
        e["customer_id"]
        for e in api.get(f"{V1}/audit?agent={other.id}&action=customer.update").json["items"]
    ] == [7]
    assert [
        e["customer_id"]
        for e in api.get(f"{V1}/audit?action=customer.update&before=2026-01-01").json["items"]
    ] == [7]
    after = api.get(f"{V1}/audit?action=customer.update&after=2026-01-02T00:00:00Z").json["items"]
    assert len(after) == 5
    assert api.get(f"{V1}/audit?object_type=nothing").json["items"] == []

    for bad in ("before=yesterday", "after=2026-13-01", "customer=x", "before=9999-12-31"):
        response = api.get(f"{V1}/audit?{bad}")
        assert response.status_code == 422, bad
        assert response.json["error"]["fields"]


def test_the_audit_page(client, admin, make_agent, make_customer):
    ada = make_customer("Ada")
    with unit_of_work.write_phase():
        audit.record(
            "customer.update",
            object_type="customer",
            object_id=ada.id,
            customer_id=ada.id,
            agent_id=admin.id,
            before={"name": "Ada"},
            after={"name": "Ada Lovelace"},
        )
        db.session.commit()
    login(client, "admin@example.com")
    page = client.get(f"/settings/audit?customer={ada.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<del>Ada</del> → <ins>Ada Lovelace</ins>" in html
    assert "customer.update" in html and "Admin" in html
    assert client.get("/settings/audit?after=nonsense").status_code == 422


def test_the_audit_page_is_for_admins_only(client, make_agent):
    make_agent("plain@example.com")
    login(client, "plain@example.com")
    assert client.get("/settings/audit").status_code == 403
