"""Macros (canned replies): who sees and changes which, placeholders rendered by a whitelist
and never evaluated, ticket changes audited like PATCH /tickets/ID, sending as a reply."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from helpdesk.agents.models import Team
from helpdesk.automation.macros import services as macros
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, TicketEvent
from tests.fixtures.browser import WAIT_MS, assert_not_reloaded, log_in, mark_page, wait_for_socket

V1 = "/api/v1"


def team_id(name: str) -> int:
    """The id of the team called ``name``."""
    return db.session.execute(select(Team.id).where(Team.name == name)).scalar_one()


@pytest.fixture
def desk(api, admin, make_agent, make_customer, api_as, make_ticket):
    """Support has agent Pat and lead Lea; Billing has agent Bill and lead Ben;
    customer Ada has a Support ticket (mug), and a Billing ticket (invoice) exists."""

    class Desk:
        pass

    d = Desk()
    d.pat = make_agent("pat@example.com", teams=["Support"], name="Pat")
    d.lea = make_agent("lea@example.com", role="lead", teams=["Support"], name="Lea")
    d.bill = make_agent("bill@example.com", teams=["Billing"], name="Bill")
    d.ben = make_agent("ben@example.com", role="lead", teams=["Billing"], name="Ben")
    d.admin = admin
    d.ada = make_customer("Ada Lovelace", emails=["ada@example.com"])
    d.support, d.billing = team_id("Support"), team_id("Billing")
    for who in ("pat", "lea", "bill", "ben"):
        setattr(d, "as_" + who, api_as(getattr(d, who)))
    d.api = api

    d.mug = make_ticket(
        d.ada, "Broken mug", channel="web", team=d.support, body="the handle fell off"
    )
    d.invoice = make_ticket(d.ada, "Invoice wrong", channel="web", team=d.billing)
    return d


def create(caller, status=201, **body):
    """POST /macros as ``caller``; the answer's JSON."""
    body.setdefault("name", "Thanks")
    body.setdefault("body", "Hello {{customer_name}}")
    response = caller.post(f"{V1}/macros", json=body)
    assert response.status_code == status, response.json
    return response.json


def listed(caller) -> list[str]:
    """Names of the macros ``caller`` may use, in the list's order."""
    response = caller.get(f"{V1}/macros")
    assert response.status_code == 200, response.json
    return [m["name"] for m in response.json["items"]]


def apply(caller, ticket, macro, status=200, **body):
    """POST /tickets/ID/macros/MID/apply; the answer's JSON."""
    response = caller.post(f"{V1}/tickets/{ticket}/macros/{macro}/apply", json=body)
    assert response.status_code == status, response.json
    return response.json


def events(ticket_id: int) -> list[tuple[str, dict, int | None]]:
    """The ticket's audit trail: (kind, data, agent id)."""
    db.session.expire_all()
    rows = (
        db.session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
        .unique()
        .scalars()
        .all()
    )
    found = [(e.kind, e.data, e.agent_id) for e in rows]
    db.session.rollback()
    return found


# --- create, list, update, delete, and who sees what ---------------------------------


def test_personal_and_team_macros_are_seen_by_the_right_agents(desk):
    mine = create(desk.as_pat, name="Pat's greeting")
    assert mine["scope"] == "personal" and mine["owner"]["id"] == desk.pat.id
    assert mine["team"] is None and mine["editable"] is True
    assert mine["actions"] == {"status": None, "priority": None, "tags": [], "assignee": None}
    team = create(
        desk.as_lea,
        name="Support: refund",
        team=desk.support,
        actions={"status": "pending", "tags": ["Refund"]},
    )
    assert team["scope"] == "team" and team["owner"] is None
    assert team["team"] == {"id": desk.support, "name": "Support"}
    assert team["actions"]["tags"] == ["refund"]
    billing = create(desk.as_ben, name="Billing: invoice copy", team=desk.billing)
    create(desk.as_lea, name="Lea's own")

    assert listed(desk.as_pat) == ["Pat's greeting", "Support: refund"]
    assert listed(desk.as_lea) == ["Lea's own", "Support: refund"]
    assert listed(desk.as_bill) == ["Billing: invoice copy"]
    # Admins see every team's macros, but not the agents' personal ones.
    assert listed(desk.api) == ["Billing: invoice copy", "Support: refund"]

    assert desk.as_pat.get(f"{V1}/macros/{team['id']}").json["editable"] is False
    assert desk.as_lea.get(f"{V1}/macros/{team['id']}").json["editable"] is True
    for caller, macro in (
        (desk.as_bill, mine),
        (desk.as_lea, mine),
        (desk.api, mine),
        (desk.as_bill, team),
        (desk.as_pat, billing),
    ):
        response = caller.get(f"{V1}/macros/{macro['id']}")
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_the_list_is_paginated(desk):
    for n in range(5):
        create(desk.as_pat, name=f"m{n}")
    first = desk.as_pat.get(f"{V1}/macros?per_page=2").json
    assert [m["name"] for m in first["items"]] == ["m0", "m1"] and first["next"]
    second = desk.as_pat.get(first["next"]).json
    assert [m["name"] for m in second["items"]] == ["m2", "m3"]
    assert desk.as_pat.get(f"{V1}/macros?per_page=0").status_code == 422


def test_only_leads_of_the_team_and_admins_make_team_macros(desk):
    refused = create(desk.as_pat, status=403, team=desk.support)
    assert refused["error"]["code"] == "forbidden"
    create(desk.as_lea, status=403, team=desk.billing)  # a lead of another team
    create(desk.as_lea, status=422, team=999)
    create(desk.api, team=desk.billing, name="by the admin")
    assert listed(desk.as_bill) == ["by the admin"]
    assert db.session.execute(select(macros.Macro.name)).scalars().all() == ["by the admin"]
    db.session.rollback()


def test_update_and_delete_follow_the_same_rules(desk):
    mine = create(desk.as_pat, name="Mine")
    team = create(desk.as_lea, name="Team", team=desk.support)

    changed = desk.as_pat.patch(
        f"{V1}/macros/{mine['id']}",
        json={"name": " Renamed ", "body": "Hi {{ agent_name }}", "actions": {"priority": "high"}},
    )
    assert changed.status_code == 200, changed.json
    assert (changed.json["name"], changed.json["body"]) == ("Renamed", "Hi {{ agent_name }}")
    assert changed.json["actions"]["priority"] == "high"
    # Someone else's personal macro does not exist for them; a member may not edit the team's.
    assert desk.as_lea.patch(f"{V1}/macros/{mine['id']}", json={"name": "x"}).status_code == 404
    assert desk.api.delete(f"{V1}/macros/{mine['id']}").status_code == 404
    assert desk.as_pat.patch(f"{V1}/macros/{team['id']}", json={"name": "x"}).status_code == 403
    assert desk.as_pat.delete(f"{V1}/macros/{team['id']}").status_code == 403
    assert desk.as_bill.delete(f"{V1}/macros/{team['id']}").status_code == 404
    assert desk.as_ben.patch(f"{V1}/macros/{team['id']}", json={"name": "x"}).status_code == 404
    assert (
        desk.as_lea.patch(f"{V1}/macros/{team['id']}", json={"name": "Team v2"}).json["name"]
        == "Team v2"
    )
    assert (
        desk.api.patch(f"{V1}/macros/{team['id']}", json={"body": "{{ticket_number}}"}).status_code
        == 200
    )
    # The scope cannot be changed by a patch.
    moved = desk.as_lea.patch(f"{V1}/macros/{team['id']}", json={"team": desk.billing})
    assert moved.status_code == 422 and "team" in moved.json["error"]["fields"]

    assert desk.as_lea.delete(f"{V1}/macros/{team['id']}").status_code == 204
    assert desk.as_pat.delete(f"{V1}/macros/{mine['id']}").status_code == 204
    assert desk.as_pat.delete(f"{V1}/macros/{mine['id']}").status_code == 404
    assert listed(desk.as_pat) == []


# --- templates -------------------------------------------------------------------------


def test_placeholders_render_for_the_ticket(desk):
    macro = create(
        desk.as_pat,
        body="Dear {{customer_name}}, ticket #{{ ticket_number }}: "
        "your order is {{order_status}}. {{agent_name}}",
    )
    before = apply(desk.as_pat, desk.mug, macro["id"])
    assert before["text"] == f"Dear Ada Lovelace, ticket #{desk.mug}: your order is . Pat"
    assert before["message"] is None and before["ticket"]["id"] == desk.mug
    for number, status, at in (
        ("10023", "shipped", "2026-11-20T10:00:00Z"),
        ("10001", "delivered", "2026-10-01T10:00:00Z"),
    ):
        response = desk.api.put(
            f"{V1}/orders/{number}",
            json={"customer": desk.ada.id, "status": status, "ordered_at": at},
        )
        assert response.status_code in (200, 201), response.json
    # The most recent order counts, not the one changed last.
    assert apply(desk.as_pat, desk.mug, macro["id"])["text"].endswith("is shipped. Pat")
    # Another customer's order is not theirs.
    other = desk.api.post(f"{V1}/customers", json={"name": "Bob", "emails": ["bob@example.com"]})
    desk.api.put(
        f"{V1}/orders/20000",
        json={
            "customer": other.json["id"],
            "status": "cancelled",
            "ordered_at": "2026-12-01T10:00:00Z",
        },
    )
    assert apply(desk.as_pat, desk.mug, macro["id"])["text"].endswith("is shipped. Pat")
    # Nothing was applied: no actions, not sent, so no trail entry.
    assert "macro" not in [kind for kind, _, _ in events(desk.mug)]


@pytest.mark.parametrize(
    "name",
    [
        "{{agent_name}}",
        "{{7*7}}",
        "{% raw %}{{7*7}}{% endraw %}",
        "{{ticket_number}}",
        "${agent_name} %(agent_name)s {0} {agent_name}",
        "{{config.SECRET_KEY}}",
        "<script>alert(1)</script> & Co",
        "\\1 \\g<0> $1",
    ],
)
def test_hostile_customer_names_come_out_literally(desk, make_customer, name):
    customer = make_customer(name, emails=["hostile@example.com"])
    ticket = desk.api.post(
        f"{V1}/tickets", json={"customer": customer.id, "subject": "x", "team": desk.support}
    ).json["id"]
    macro = create(desk.as_pat, body="Hi {{customer_name}}, {{agent_name}} here.")
    result = apply(desk.as_pat, ticket, macro["id"], send=True, internal=True)
    assert result["text"] == f"Hi {name}, Pat here."
    assert result["message"]["body_text"] == f"Hi {name}, Pat here."
    db.session.expire_all()
    stored = db.session.get(Message, result["message"]["id"])
    assert stored.body_text == f"Hi {name}, Pat here."
    db.session.rollback()


@pytest.mark.parametrize(
    "body",
    [
        "{{7*7}}",
        "Hi {{ customer }}",
        "{{customer_name.__class__}}",
        "{{ config }}",
        "{{customer_name|upper}}",
        "{{ request.environ }}",
        "{{}}",
        "{{\nagent_name\n}} {{x}}",
        "{{CUSTOMER_NAME}}",
        "{{ customer_name }} {{ lipsum.__globals__ }}",
    ],
)
def test_unknown_placeholders_are_refused_when_saved(desk, body):
    refused = create(desk.as_pat, status=422, body=body)
    assert refused["error"]["code"] == "invalid" and "body" in refused["error"]["fields"]
    mine = create(desk.as_pat, name="ok")
    patched = desk.as_pat.patch(f"{V1}/macros/{mine['id']}", json={"body": body})
    assert patched.status_code == 422 and "body" in patched.json["error"]["fields"]
    assert desk.as_pat.get(f"{V1}/macros/{mine['id']}").json["body"] == "Hello {{customer_name}}"


def test_render_is_a_single_whitelisted_substitution():
    values = {
        "customer_name": "{{agent_name}}",
        "agent_name": "Pat",
        "ticket_number": "7",
        "order_status": "",
    }
    assert (
        macros.render("{{customer_name}}/{{ agent_name }}/{{order_status}}.", values)
        == "{{agent_name}}/Pat/."
    )
    assert macros.render("{{ secret }} {{customer_name", values) == "{{ secret }} {{customer_name"
    assert (
        macros.render("{% if 1 %}{{ticket_number}}{% endif %}", values) == "{% if 1 %}7{% endif %}"
    )
    macros.check_template("single { braces } and {{ agent_name }} and }} {{")  # no error


# --- applying: actions, audit, sending --------------------------------------------------


def test_actions_are_applied_and_audited(desk):
    macro = create(
        desk.as_lea,
        name="Refund",
        team=desk.support,
        body="We refunded you, {{customer_name}}.",
        actions={
            "status": "pending",
            "priority": "high",
            "tags": ["refund", "VIP"],
            "assignee": "me",
        },
    )
    desk.api.patch(f"{V1}/tickets/{desk.mug}", json={"tags": ["mug"]})
    result = apply(desk.as_pat, desk.mug, macro["id"])
    ticket = result["ticket"]
    assert result["text"] == "We refunded you, Ada Lovelace." and result["message"] is None
    assert (ticket["status"], ticket["priority"]) == ("pending", "high")
    assert ticket["tags"] == ["mug", "refund", "vip"]
    assert ticket["assignee"]["id"] == desk.pat.id  # "me" is whoever applies it
    trail = [(kind, data, agent) for kind, data, agent in events(desk.mug) if agent == desk.pat.id]
    assert [kind for kind, _, _ in trail] == ["macro", "assigned", "status", "priority", "tags"]
    assert trail[0][1] == {"macro": macro["id"], "name": "Refund", "sent": False, "internal": False}
    assert trail[1][1] == {"from": None, "to": desk.pat.id}
    assert trail[2][1] == {"from": "new", "to": "pending"}
    assert trail[4][1] == {"from": ["mug"], "to": ["mug", "refund", "vip"]}
    # Nothing was sent.
    assert desk.api.get(f"{V1}/tickets/{desk.mug}/messages").json["items"][-1]["direction"] == "in"
    # Applying again changes nothing more.
    apply(desk.as_pat, desk.mug, macro["id"])
    assert [k for k, _, _ in events(desk.mug)].count("status") == 1


@pytest.mark.redis
def test_send_queues_the_reply_then_applies_the_actions(desk, app, redis_url):
    app.config["REDIS_URL"] = redis_url  # jobs go to RQ: the reply stays queued
    from rq import Queue

    from helpdesk.jobs import redis_connection

    macro = create(
        desk.as_pat,
        body="Solved, {{customer_name}}. #{{ticket_number}}",
        actions={"status": "solved"},
    )
    result = apply(desk.as_pat, desk.mug, macro["id"], send=True)
    message = result["message"]
    assert message["direction"] == "out" and message["status"] == "queued"
    assert message["body_text"] == f"Solved, Ada Lovelace. #{desk.mug}"
    assert message["author"]["agent"]["id"] == desk.pat.id
    assert result["ticket"]["status"] == "solved"  # the answer did not reopen it
    assert result["ticket"]["first_response_at"] is not None
    jobs = Queue("outbound", connection=redis_connection()).jobs
    assert [job.args for job in jobs] == [(message["id"],)]
    kinds = [kind for kind, _, _ in events(desk.mug)]
    assert kinds[-3:] == ["status", "macro", "status"]  # new -> open by the reply, then solved

    note = apply(desk.as_pat, desk.mug, macro["id"], send=True, internal=True)["message"]
    assert note["direction"] == "note" and note["internal"] is True
    assert len(Queue("outbound", connection=redis_connection()).jobs) == 1


def test_send_without_redis_goes_through_delivery(desk):
    macro = create(desk.as_pat, body="On it, {{agent_name}}")
    result = apply(desk.as_pat, desk.invoice, macro["id"], status=404, send=True)
    assert result["error"]["code"] == "not_found"  # Pat may not see Billing's ticket
    sent = apply(desk.as_pat, desk.mug, macro["id"], send=True)["message"]
    # No transport for web tickets in the tests: delivery ran and failed visibly.
    assert sent["direction"] == "out" and sent["status"] in ("queued", "failed")
    listed_messages = desk.as_pat.get(f"{V1}/tickets/{desk.mug}/messages").json["items"]
    assert listed_messages[-1]["body_text"] == "On it, Pat"


def test_seen_guards_a_sent_macro_like_a_reply(desk, inbound):
    first = inbound("email", "ada@example.com", "hello", subject="Where is it")
    ticket, first_id = first.ticket.id, first.message.id
    second = inbound(
        "email", "ada@example.com", "anyone?", subject="Re: Where is it", ticket_number=ticket
    )
    assert second.ticket.id == ticket
    second_id = second.message.id
    macro = create(desk.as_pat, body="Hi", actions={"status": "pending"})
    refused = apply(desk.as_pat, ticket, macro["id"], status=409, send=True, seen=first_id)
    assert refused["error"]["code"] == "new_messages"
    assert refused["error"]["fields"]["messages"] == [second_id]
    assert "macro" not in [k for k, _, _ in events(ticket)]  # nothing written
    assert desk.as_pat.get(f"{V1}/tickets/{ticket}").json["status"] != "pending"


def test_permissions_when_applying(desk):
    pats = create(desk.as_pat, name="Pat's")
    billing = create(desk.as_ben, name="Billing", team=desk.billing)
    assign_lea = create(
        desk.as_lea, name="To Lea", team=desk.support, actions={"assignee": desk.lea.id}
    )
    # Another agent's personal macro, another team's macro: 404 as if absent.
    assert apply(desk.as_lea, desk.mug, pats["id"], status=404)["error"]["code"] == "not_found"
    apply(desk.as_pat, desk.mug, billing["id"], status=404)
    apply(desk.as_pat, desk.mug, 999_999, status=404)
    apply(desk.as_pat, desk.mug, 2**40, status=404)
    # A ticket the agent may not see: 404, even with a usable macro.
    apply(desk.as_pat, desk.invoice, pats["id"], status=404)
    apply(desk.as_pat, 999_999, pats["id"], status=404)
    # An agent cannot assign to someone else through a macro: 403, and nothing is written.
    refused = apply(desk.as_pat, desk.mug, assign_lea["id"], status=403, send=True)
    assert refused["error"]["code"] == "forbidden"
    messages = desk.api.get(f"{V1}/tickets/{desk.mug}/messages").json["items"]
    assert [m["direction"] for m in messages] == ["in"]
    assert "macro" not in [k for k, _, _ in events(desk.mug)]
    # The lead may.
    assert apply(desk.as_lea, desk.mug, assign_lea["id"])["ticket"]["assignee"]["id"] == desk.lea.id
    # An agent cannot even save a macro that assigns to someone else.
    create(desk.as_pat, status=403, actions={"assignee": desk.lea.id})
    create(desk.as_pat, actions={"assignee": desk.pat.id}, name="to me by id")
    create(desk.as_lea, status=422, actions={"assignee": 999_999}, team=desk.support)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "", "body": "x"},
        {"name": "x"},
        {"name": "x", "body": ""},
        {"name": "x" * 201, "body": "x"},
        {"name": "x", "body": "x" * 20_001},
        {"name": 5, "body": "x"},
        {"name": "x", "body": "x", "team": "1"},
        {"name": "x", "body": "x", "team": 0},
        {"name": "x", "body": "x", "team": 2**40},
        {"name": "x", "body": "x", "owner": 1},
        {"name": "x", "body": "x", "actions": []},
        {"name": "x", "body": "x", "actions": {"status": "lost"}},
        {"name": "x", "body": "x", "actions": {"priority": "asap"}},
        {"name": "x", "body": "x", "actions": {"assignee": "you"}},
        {"name": "x", "body": "x", "actions": {"assignee": "1"}},
        {"name": "x", "body": "x", "actions": {"assignee": -1}},
        {"name": "x", "body": "x", "actions": {"tags": ["x" * 51]}},
        {"name": "x", "body": "x", "actions": {"tags": "vip"}},
        {"name": "x", "body": "x", "actions": {"tags": ["t"] * 21}},
        {"name": "x", "body": "x", "actions": {"team": 1}},
        {"name": "x\x00", "body": "x"},
        {"name": "x", "body": "{{agent_name}}\x00"},
        [],
        "text",
        None,
        5,
    ],
)
def test_bad_macro_input_is_a_4xx(desk, body):
    response = desk.as_lea.post(f"{V1}/macros", json=body)
    assert 400 <= response.status_code < 500, (body, response.status_code, response.json)
    assert response.json["error"]["code"] in ("invalid", "malformed_json", "unsupported_media_type")
    assert listed(desk.as_lea) == []


def test_bad_apply_and_patch_input_is_a_4xx(desk):
    macro = create(desk.as_pat)
    url = f"{V1}/tickets/{desk.mug}/macros/{macro['id']}/apply"
    for body in ({"send": "yes"}, {"internal": 1}, {"seen": -1}, {"extra": True}, [], "x"):
        response = desk.as_pat.post(url, json=body)
        assert response.status_code == 422, (body, response.json)
    bad_json = desk.as_pat.post(url, data="{", content_type="application/json")
    assert bad_json.status_code == 400 and bad_json.json["error"]["code"] == "malformed_json"
    form = desk.as_pat.post(url, data={"send": "1"})
    assert form.status_code == 400
    assert desk.as_pat.post(url).status_code == 200  # no body at all: a preview
    for body in ({"name": ""}, {"body": None, "x": 1}, {"actions": {"status": 5}}, []):
        response = desk.as_pat.patch(f"{V1}/macros/{macro['id']}", json=body)
        assert response.status_code == 422, (body, response.json)
    assert desk.as_pat.get(f"{V1}/macros/{2**40}").status_code == 404
    assert desk.as_pat.get(f"{V1}/macros?page=x").status_code == 422


def test_a_closed_ticket_refuses_a_sent_macro_but_not_a_note(desk):
    macro = create(desk.as_pat, body="bye", actions={"priority": "low"})
    desk.api.patch(f"{V1}/tickets/{desk.mug}", json={"status": "closed"})
    refused = apply(desk.as_pat, desk.mug, macro["id"], status=409, send=True)
    assert refused["error"]["code"] == "conflict"
    assert desk.api.get(f"{V1}/tickets/{desk.mug}").json["priority"] == "normal"
    note = apply(desk.as_pat, desk.mug, macro["id"], send=True, internal=True)
    assert note["message"]["internal"] is True and note["ticket"]["priority"] == "low"


def test_deleting_the_owner_or_team_removes_their_macros(desk):
    create(desk.as_pat, name="Pat's")
    create(desk.as_lea, name="Team", team=desk.support)
    from helpdesk import unit_of_work

    with unit_of_work.write_phase():
        db.session.delete(db.session.get(type(desk.pat), desk.pat.id))
        db.session.commit()
    names = db.session.execute(select(macros.Macro.name)).scalars().all()
    assert names == ["Team"]
    db.session.rollback()


# --- the conversation page ---------------------------------------------------------------


@pytest.mark.slow
def test_the_macro_picker_fills_the_reply_box_and_changes_the_ticket(page, desk, live_server):
    macro = create(
        desk.as_lea,
        name="Ask for photo",
        team=desk.support,
        body="Hi {{customer_name}}, could you send a photo? ({{agent_name}})",
        actions={"status": "pending", "tags": ["photo"]},
    )
    log_in(page, "pat@example.com")
    page.goto(f"/tickets/{desk.mug}")
    wait_for_socket(page)
    mark_page(page)
    picker = page.locator("form#reply select[name=macro]")
    expect(picker.locator("option", has_text="Ask for photo (Support)")).to_have_count(1)
    picker.select_option(str(macro["id"]))
    box = page.locator("form#reply textarea[name=body]")
    expect(box).to_have_value("Hi Ada Lovelace, could you send a photo? (Pat)", timeout=WAIT_MS)
    expect(page.locator("#ticket-meta")).to_contain_text("pending", timeout=WAIT_MS)
    expect(page.locator("#ticket-meta")).to_contain_text("photo")
    expect(page.locator("form#controls select[name=status]")).to_have_value("pending")
    assert_not_reloaded(page)
    assert not page.seen.errors, page.seen.report()
    # Sending is the agent's choice: nothing went out yet.
    db.session.expire_all()
    assert (
        db.session.execute(
            select(Message.id).where(Message.ticket_id == desk.mug, Message.direction == "out")
        ).first()
        is None
    )
    db.session.rollback()
