"""SLAs: business-hour arithmetic, due times kept on tickets through the real ingest and
ticket services under a controlled clock (time-machine), the pause while pending, and
the scan that warns once and escalates each breach once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.agents.models import Team
from helpdesk.agents.services import team_named
from helpdesk.channels.email.mailboxes import add_mailbox
from helpdesk.customers.models import Organization
from helpdesk.extensions import db
from helpdesk.sla import clocks as sla
from helpdesk.sla import policies as sla_policies
from helpdesk.sla import scan as sla_scan
from helpdesk.sla.business_hours import ALWAYS, Calendar, CalendarError, validate
from helpdesk.tickets import replies, services
from helpdesk.tickets.models import Ticket, TicketEvent
from tests.fixtures.agents import login
from tests.fixtures.concurrency import at_once
from tests.fixtures.sockets import Listener

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
OFFICE = {"timezone": "Europe/Berlin", "hours": WEEKDAYS, "holidays": ["2026-12-25"]}


def berlin(*args) -> datetime:
    """A Berlin wall-clock time as an aware UTC datetime."""
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


# ----- business hours ----------------------------------------------------------------------


def test_minutes_run_only_in_open_hours_across_a_weekend():
    office = Calendar.of(validate(OFFICE))
    friday = berlin(2026, 12, 4, 16, 30)
    assert office.add(friday, 60) == berlin(2026, 12, 7, 9, 30)  # 30 min Friday, 30 Monday
    assert office.minutes_between(friday, berlin(2026, 12, 7, 9, 30)) == 60
    assert office.add(berlin(2026, 12, 5, 12, 0), 0) == berlin(2026, 12, 7, 9, 0)  # Saturday


def test_a_holiday_is_a_day_off_and_the_time_zone_keeps_local_hours_across_dst():
    office = Calendar.of(validate(OFFICE))
    # Thursday 24 Dec 16:00 + 2 h: one hour that day, Friday 25th is a holiday -> Monday.
    assert office.add(berlin(2026, 12, 24, 16, 0), 120) == berlin(2026, 12, 28, 10, 0)
    # Clocks go forward on Sunday 29 March 2026: Monday still opens at 09:00 local time.
    assert office.add(berlin(2026, 3, 27, 16, 0), 120) == berlin(2026, 3, 30, 10, 0)
    assert office.add(berlin(2026, 3, 27, 16, 0), 120).hour == 8  # 10:00 CEST is 08:00 UTC


def test_split_hours_and_around_the_clock():
    lunch = Calendar.of(
        validate({"timezone": "UTC", "hours": {"mon": [["13:00", "17:00"], ["09:00", "12:00"]]}})
    )
    monday = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    assert lunch.add(monday, 90) == datetime(2026, 12, 7, 13, 30, tzinfo=UTC)
    assert ALWAYS.add(monday, 90) == monday + timedelta(minutes=90)


@pytest.mark.parametrize(
    "bad",
    [
        {"timezone": "Mars/Olympus", "hours": WEEKDAYS},
        {"hours": {"mon": [["17:00", "09:00"]]}},
        {"hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}},
        {"hours": {"someday": [["09:00", "12:00"]]}},
        {"hours": {"mon": [["9am", "12:00"]]}},
        {"hours": {}},
        {"hours": WEEKDAYS, "holidays": ["christmas"]},
        {"hours": WEEKDAYS, "colour": "blue"},
    ],
)
def test_a_calendar_that_cannot_work_is_refused_with_a_reason(bad):
    with pytest.raises(CalendarError):
        validate(bad)


# ----- due times on tickets ----------------------------------------------------------------


@pytest.fixture
def office(app, make_agent, smtp_server):
    """Team Support with office hours, a lead, an agent, a mailbox routing to it, and the
    standard policy: first response 1 h, next response 2 h, resolution 8 h."""
    lead = make_agent("lead@example.com", role="lead", teams=["Support"], name="Lena Lead")
    agent = make_agent("agent@example.com", role="agent", teams=["Support"], name="Otto Agent")
    with unit_of_work.write_phase():
        team = team_named("Support")
        sla_policies.set_calendar(team, OFFICE)
        channel = add_mailbox(
            "Support mail",
            "imap://support:pw@127.0.0.1:9/INBOX",
            f"smtp://127.0.0.1:{smtp_server.port}",
            "support@shop.example",
            team,
        )
        sla_policies.create(
            {
                "name": "standard",
                "first_response_minutes": 60,
                "next_response_minutes": 120,
                "resolution_minutes": 480,
            },
            None,
        )
        unit_of_work.commit()
    return {"team": team, "lead": lead, "agent": agent, "channel": channel}


def fresh(ticket_id: int) -> Ticket:
    """The ticket as committed now."""
    db.session.rollback()
    return db.session.get(Ticket, ticket_id, populate_existing=True)


def mail(inbound, office, at: datetime, sender="ada@example.com", subject="Broken", **kw):
    """A customer's email through the real ingest, received at ``at``."""
    return inbound(
        "email",
        sender,
        "Help please",
        subject=subject,
        received_at=at,
        channel_id=office["channel"].id,
        **kw,
    )


def test_a_new_ticket_gets_its_due_times_in_the_teams_business_hours(office, inbound):
    result = mail(inbound, office, berlin(2026, 12, 4, 16, 30))  # Friday afternoon
    ticket = fresh(result.ticket.id)
    assert ticket.sla_policy_id is not None
    assert ticket.first_response_due == berlin(2026, 12, 7, 9, 30)
    assert ticket.resolution_due == berlin(2026, 12, 7, 16, 30)  # 30 min Fri + 7.5 h Mon
    assert (ticket.sla_target, ticket.sla_due) == ("first_response", ticket.first_response_due)
    assert ticket.sla_stage == 0


def test_the_most_specific_policy_wins(office, inbound, make_customer):
    with unit_of_work.write_phase():
        org = Organization(name="Big Customer AG")
        db.session.add(org)
        db.session.flush()
        sla_policies.create({"name": "sms", "channel": "sms", "first_response_minutes": 30}, None)
        sla_policies.create(
            {"name": "urgent", "priority": "urgent", "first_response_minutes": 15}, None
        )
        sla_policies.create(
            {"name": "vip", "organization": org.id, "first_response_minutes": 10}, None
        )
        unit_of_work.commit()
    vip = make_customer("Vera VIP", emails=["vera@big.example"], organization_id=org.id)
    assert (
        sla.policy_for(
            fresh(
                mail(
                    inbound, office, berlin(2026, 12, 7, 10, 0), sender="vera@big.example"
                ).ticket.id
            )
        ).name
        == "vip"
    )
    assert vip.organization_id == org.id
    plain = fresh(mail(inbound, office, berlin(2026, 12, 7, 10, 0)).ticket.id)
    assert sla.policy_for(plain).name == "standard"
    text = fresh(
        inbound("sms", "+4915112345678", "hi", received_at=berlin(2026, 12, 7, 10)).ticket.id
    )
    assert sla.policy_for(text).name == "sms"
    with unit_of_work.write_phase():
        services.update_ticket(fresh(plain.id), {"priority": "urgent"}, office["lead"])
        unit_of_work.commit()
    urgent = fresh(plain.id)
    assert sla.policy_for(urgent).name == "urgent"
    assert urgent.first_response_due == berlin(2026, 12, 7, 10, 15)


def test_replies_meet_targets_and_a_new_customer_message_starts_the_next_response_clock(
    office, inbound
):
    with time_machine.travel(berlin(2026, 12, 7, 10, 0), tick=False):
        ticket = fresh(mail(inbound, office, berlin(2026, 12, 7, 10, 0)).ticket.id)
    with time_machine.travel(berlin(2026, 12, 7, 10, 20), tick=False):
        replies.reply(ticket, "On it", office["agent"])
        unit_of_work.commit()
    ticket = fresh(ticket.id)
    assert ticket.sla_target == "resolution" and ticket.sla_due == berlin(2026, 12, 8, 10, 0)
    with time_machine.travel(berlin(2026, 12, 7, 11, 0), tick=False):
        mail(inbound, office, berlin(2026, 12, 7, 11, 0), subject="Re: Broken")
    ticket = fresh(ticket.id)
    assert ticket.next_response_from == berlin(2026, 12, 7, 11, 0)
    assert ticket.next_response_due == berlin(2026, 12, 7, 13, 0)
    assert (ticket.sla_target, ticket.sla_due) == ("next_response", berlin(2026, 12, 7, 13, 0))
    with time_machine.travel(berlin(2026, 12, 7, 11, 30), tick=False):
        replies.reply(fresh(ticket.id), "Fixed", office["agent"])
        unit_of_work.commit()
    assert fresh(ticket.id).next_response_due is None
    assert fresh(ticket.id).sla_target == "resolution"


def test_the_clocks_stop_while_the_ticket_waits_on_the_customer(office, inbound):
    with time_machine.travel(berlin(2026, 12, 7, 10, 0), tick=False):
        ticket = fresh(mail(inbound, office, berlin(2026, 12, 7, 10, 0)).ticket.id)
        assert ticket.resolution_due == berlin(2026, 12, 8, 10, 0)
    with time_machine.travel(berlin(2026, 12, 7, 11, 0), tick=False):
        replies.reply(ticket, "Which model do you have?", office["agent"])
        services.update_ticket(ticket, {"status": "pending"}, office["agent"])
        unit_of_work.commit()
    waiting = fresh(ticket.id)
    assert waiting.sla_due is None and waiting.sla_paused_at == berlin(2026, 12, 7, 11, 0)
    assert sla.state(waiting)["state"] == "paused"
    # The customer answers a day later: eight business hours passed while pending.
    with time_machine.travel(berlin(2026, 12, 8, 11, 0), tick=False):
        mail(inbound, office, berlin(2026, 12, 8, 11, 0), subject="Re: Broken")
    back = fresh(ticket.id)
    assert back.status == "open" and back.sla_paused_at is None
    # Resolution was due Tue 10:00 (Mon 10:00 + 8 business hours); the wait moves it on
    # by another eight business hours: Wed 10:00.
    assert back.resolution_due == berlin(2026, 12, 9, 10, 0)
    assert back.next_response_due == berlin(2026, 12, 8, 13, 0)
    assert back.sla_target == "next_response"


# ----- the scan ------------------------------------------------------------------------------


def events_of(ticket_id: int, kind: str) -> list[TicketEvent]:
    """The ticket's audit entries of one kind."""
    db.session.rollback()
    return list(
        db.session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == kind)
        ).scalars()
    )


def test_the_scan_warns_once_before_and_escalates_once_on_breach(office, inbound):
    with time_machine.travel(berlin(2026, 12, 7, 10, 0), tick=False):
        ticket = fresh(mail(inbound, office, berlin(2026, 12, 7, 10, 0)).ticket.id)
        services.update_ticket(ticket, {"assignee": office["agent"].id}, office["lead"])
        unit_of_work.commit()
    due = fresh(ticket.id).sla_due
    assert due == berlin(2026, 12, 7, 11, 0)

    for minutes, warned in ((45, 0), (20, 1), (10, 0)):
        with time_machine.travel(due - timedelta(minutes=minutes), tick=False):
            assert sla_scan.scan() == {"escalated": 0, "warned": warned}
    warning = events_of(ticket.id, "sla_warning")
    assert [w.data["target"] for w in warning] == ["first_response"]
    assert fresh(ticket.id).sla_stage == 1

    with time_machine.travel(due + timedelta(minutes=1), tick=False):
        assert sla_scan.scan() == {"escalated": 1, "warned": 0}
        assert sla_scan.scan() == {"escalated": 0, "warned": 0}
    escalated = fresh(ticket.id)
    assert escalated.priority == "high" and escalated.assignee_id == office["lead"].id
    assert escalated.sla_stage == 2
    (event,) = events_of(ticket.id, "escalated")
    assert event.agent_id is None and event.data["sla"]["target"] == "first_response"
    assert "first response" in event.data["reason"]
    # Much later, after a pause and a priority change, the same breach stays escalated.
    with time_machine.travel(due + timedelta(hours=1), tick=False):
        services.update_ticket(fresh(ticket.id), {"status": "pending"}, office["lead"])
        unit_of_work.commit()
    with time_machine.travel(due + timedelta(hours=2), tick=False):
        services.update_ticket(
            fresh(ticket.id), {"status": "open", "priority": "urgent"}, office["lead"]
        )
        unit_of_work.commit()
        assert sla_scan.scan() == {"escalated": 0, "warned": 0}
    assert len(events_of(ticket.id, "escalated")) == 1


def test_a_met_target_hands_over_to_the_next_one_which_can_breach_in_its_turn(office, inbound):
    with time_machine.travel(berlin(2026, 12, 7, 10, 0), tick=False):
        ticket = fresh(mail(inbound, office, berlin(2026, 12, 7, 10, 0)).ticket.id)
    with time_machine.travel(berlin(2026, 12, 7, 11, 30), tick=False):
        assert sla_scan.scan()["escalated"] == 1  # first response breached at 11:00
        replies.reply(fresh(ticket.id), "Sorry for the wait", office["agent"])
        unit_of_work.commit()
    answered = fresh(ticket.id)
    assert answered.sla_target == "resolution" and answered.sla_stage == 0
    with time_machine.travel(answered.sla_due + timedelta(minutes=5), tick=False):
        assert sla_scan.scan()["escalated"] == 1
        assert sla_scan.scan()["escalated"] == 0
    reasons = [e.data["sla"]["target"] for e in events_of(ticket.id, "escalated")]
    assert reasons == ["first_response", "resolution"]


def test_the_escalations_higher_priority_does_not_set_off_a_second_escalation(office, inbound):
    with unit_of_work.write_phase():
        sla_policies.create(
            {
                "name": "high",
                "priority": "high",
                "first_response_minutes": 30,
                "resolution_minutes": 60,
            },
            None,
        )
        unit_of_work.commit()
    with time_machine.travel(berlin(2026, 12, 7, 10, 0), tick=False):
        ticket_id = mail(inbound, office, berlin(2026, 12, 7, 10, 0)).ticket.id
    # 11:30: first response (due 11:00) breached; the escalation makes the ticket "high",
    # whose resolution target (due 11:00) is past as well: the same breach, not a new one.
    with time_machine.travel(berlin(2026, 12, 7, 11, 30), tick=False):
        assert sla_scan.scan() == {"escalated": 1, "warned": 0}
        escalated = fresh(ticket_id)
        assert escalated.priority == "high" and escalated.sla_stage == 2
        assert sla_scan.scan() == {"escalated": 0, "warned": 0}
    with time_machine.travel(berlin(2026, 12, 7, 11, 40), tick=False):
        replies.reply(fresh(ticket_id), "Here is what happened", office["lead"])
        unit_of_work.commit()
        assert fresh(ticket_id).sla_target == "resolution"
        assert sla_scan.scan() == {"escalated": 0, "warned": 0}
    assert fresh(ticket_id).priority == "high"
    assert len(events_of(ticket_id, "escalated")) == 1


def test_two_scanners_at_once_escalate_each_breach_once(office, inbound, app):
    with time_machine.travel(berlin(2026, 12, 7, 10, 0), tick=False):
        ids = [
            mail(
                inbound,
                office,
                berlin(2026, 12, 7, 10, 0),
                sender=f"c{i}@example.com",
                subject=f"Case {i}",
            ).ticket.id
            for i in range(6)
        ]
    results = at_once(app, lambda: sla_scan.scan(now=berlin(2026, 12, 7, 12, 0)), timeout=60)
    assert sum(r["escalated"] for r in results) == 6
    for ticket_id in ids:
        assert len(events_of(ticket_id, "escalated")) == 1


@pytest.mark.slow
def test_an_escalation_team_takes_breaches_and_its_lead_is_told_live_and_by_mail(
    office, inbound, make_agent, live_server, make_token, smtp_server, app
):
    boss = make_agent("boss@example.com", role="lead", teams=["Escalations"], name="Bea Boss")
    with unit_of_work.write_phase():
        support = db.session.get(Team, office["team"].id)
        escalations = team_named("Escalations")
        sla_policies.set_escalation_team(support, escalations)
        unit_of_work.commit()
    with time_machine.travel(berlin(2026, 12, 7, 10, 0), tick=True):
        ticket = fresh(mail(inbound, office, berlin(2026, 12, 7, 10, 0)).ticket.id)
    listener = Listener(live_server, auth={"token": make_token(boss)})
    try:
        assert sla_scan.scan(now=berlin(2026, 12, 7, 11, 5))["escalated"] == 1
        note = listener.wait_for("notification")
    finally:
        listener.close()
    moved = fresh(ticket.id)
    assert moved.team_id == escalations.id and moved.assignee_id == boss.id
    assert note["kind"] == "escalated" and note["ticket"]["id"] == ticket.id
    assert "SLA breached" in note["text"]
    received = smtp_server.handler_obj.received
    for _ in range(250):
        if received:
            break
        threading.Event().wait(0.02)
    assert [r["to"] for r in received] == [["boss@example.com"]]
    mime = message_from_bytes(received[0]["data"], policy=policy.default)
    assert f"#{ticket.number}" in mime["Subject"] and mime["Auto-Submitted"] == "auto-generated"
    assert f"/tickets/{ticket.id}" in mime.get_content()


# ----- setting SLAs up, and what agents see ----------------------------------------------


def test_leads_and_admins_manage_policies_through_the_api(office, api_as):
    lead, agent = api_as(office["lead"]), api_as(office["agent"])
    body = {"name": "chat", "channel": "chat", "first_response_minutes": 5}
    assert agent.post("/api/v1/sla-policies", json=body).status_code == 403
    created = lead.post("/api/v1/sla-policies", json=body)
    assert created.status_code == 201 and created.json["channel"] == "chat"
    assert lead.post("/api/v1/sla-policies", json=body).status_code == 409
    policy = created.json["id"]
    changed = lead.patch(f"/api/v1/sla-policies/{policy}", json={"resolution_minutes": 600})
    assert changed.json["resolution_minutes"] == 600 and changed.json["first_response_minutes"] == 5
    names = [p["name"] for p in agent.get("/api/v1/sla-policies").json["items"]]
    assert names == ["standard", "chat"]
    assert lead.delete(f"/api/v1/sla-policies/{policy}").status_code == 204
    assert lead.get(f"/api/v1/sla-policies/{policy}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x"},  # no target at all
        {"name": "x", "first_response_minutes": 0},
        {"name": "x", "first_response_minutes": "60"},
        {"name": "x", "priority": "critical", "first_response_minutes": 60},
        {"name": "x", "organization": 999999, "first_response_minutes": 60},
        {"name": "", "first_response_minutes": 60},
        {"name": "x", "first_response_minutes": 60, "colour": "red"},
    ],
)
def test_a_bad_policy_is_refused_and_nothing_is_stored(office, api_as, body):
    lead = api_as(office["lead"])
    answer = lead.post("/api/v1/sla-policies", json=body)
    assert answer.status_code == 422 and "error" in answer.json
    assert [p["name"] for p in lead.get("/api/v1/sla-policies").json["items"]] == ["standard"]


def test_new_business_hours_recompute_the_open_tickets_of_the_team(office, inbound, api_as):
    ticket_id = mail(inbound, office, berlin(2026, 12, 4, 16, 30)).ticket.id  # Friday
    team = office["team"].id
    lead, agent = api_as(office["lead"]), api_as(office["agent"])
    hours = {"timezone": "Europe/Berlin", "hours": {"sat": [["10:00", "14:00"]]}}
    assert agent.patch(f"/api/v1/teams/{team}", json={"calendar": hours}).status_code == 403
    refused = lead.patch(f"/api/v1/teams/{team}", json={"calendar": {"hours": {}}})
    assert refused.status_code == 422 and "calendar" in refused.json["error"]["fields"]
    answer = lead.patch(f"/api/v1/teams/{team}", json={"calendar": hours})
    assert answer.status_code == 200 and answer.json["calendar"]["hours"] == hours["hours"]
    assert fresh(ticket_id).first_response_due == berlin(2026, 12, 5, 11, 0)  # Saturday
    around_the_clock = lead.patch(f"/api/v1/teams/{team}", json={"calendar": None})
    assert around_the_clock.json["calendar"] is None
    assert fresh(ticket_id).first_response_due == berlin(2026, 12, 4, 17, 30)


def test_the_inbox_and_the_conversation_show_the_due_time(office, inbound, client, api_as):
    import re

    ticket_id = mail(inbound, office, berlin(2026, 11, 30, 10, 0)).ticket.id
    shown = api_as(office["agent"]).get(f"/api/v1/tickets/{ticket_id}").json["sla"]
    assert shown["target"] == "first_response" and shown["state"] == "breached"
    assert shown["due"] == berlin(2026, 11, 30, 11, 0).isoformat()
    login(client, "agent@example.com")
    inbox = client.get("/inbox?view=team").get_data(as_text=True)
    assert re.search(r'class="sla breached" data-due="2026-11-30T10:00:00\+00:00"', inbox)
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert "first response due" in page and 'class="sla breached"' in page


def test_a_lead_gets_one_mail_for_the_tickets_one_scan_escalated(office, inbound, smtp_server):
    with time_machine.travel(berlin(2026, 12, 7, 10, 0), tick=False):
        ids = [
            mail(
                inbound,
                office,
                berlin(2026, 12, 7, 10, 0),
                sender=f"c{i}@example.com",
                subject=f"Case {i}",
            ).ticket.id
            for i in range(3)
        ]
    assert sla_scan.scan(now=berlin(2026, 12, 7, 11, 30))["escalated"] == 3
    # The sentinel: a later ticket that a later scan escalates, told in a mail of its own;
    # a second mail of the first scan would have come before it.
    with time_machine.travel(berlin(2026, 12, 7, 11, 30), tick=False):
        mail(inbound, office, berlin(2026, 12, 7, 11, 30), sender="z@example.com", subject="Last")
    assert sla_scan.scan(now=berlin(2026, 12, 7, 13, 0))["escalated"] == 1
    received = smtp_server.handler_obj.received

    def subjects() -> list[str]:
        return [message_from_bytes(r["data"], policy=policy.default)["Subject"] for r in received]

    for _ in range(500):
        if any(subject.endswith(" Last") for subject in subjects()):
            break
        threading.Event().wait(0.02)
    sentinel = next(at for at, subject in enumerate(subjects()) if subject.endswith(" Last"))
    earlier = received[:sentinel]  # what the first scan sent
    assert [r["to"] for r in earlier] == [["lead@example.com"]]
    mime = message_from_bytes(earlier[0]["data"], policy=policy.default)
    assert mime["Subject"] == "Escalated to you: 3 tickets"
    body = mime.get_content()
    assert all(f"/tickets/{ticket_id}" in body for ticket_id in ids)
