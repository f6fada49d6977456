"""Automatic assignment per team: round-robin and least-loaded among the team's online
agents, a queue that waits for someone to come online, and never over a person's choice.
Tickets arrive through the real ingest; presence changes through a real Socket.IO
connection where it matters."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, update

from helpdesk import unit_of_work
from helpdesk.agents.models import Agent, Team
from helpdesk.automation import assignment
from helpdesk.channels.models import Channel
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket, TicketEvent
from tests.fixtures.sockets import Listener

counter = iter(range(1, 10_000))


def setup_team(
    mode: str, *presences: str, name: str = "Support"
) -> tuple[Team, Channel, list[Agent]]:
    """A team with ``mode``, agents with the given presences, and a mailbox routing to it."""
    from helpdesk.agents import services

    with unit_of_work.write_phase():
        agents = []
        for i, presence in enumerate(presences):
            agent, _ = services.create_agent(
                f"{name.lower()}{i}@example.com", f"{name} Agent {i}", "agent", [name], "pw-123456"
            )
            agent.presence = presence
            agents.append(agent)
        team = services.team_named(name)
        team.assignment = mode
        channel = Channel(
            kind="email",
            name=f"{name} mail",
            address=f"{name.lower()}@shop.example",
            team=team,
            settings={},
            secrets={},
            state={},
        )
        db.session.add(channel)
        db.session.commit()
    return team, channel, agents


def new_ticket(inbound, channel: Channel | int | None, **fields) -> Ticket:
    """A new ticket through the real ingest (on ``channel``, so routed to its team)."""
    n = next(counter)
    channel_id = channel.id if isinstance(channel, Channel) else channel
    result = inbound(
        "email",
        f"customer{n}@example.com",
        f"Question {n}",
        subject=f"Topic {n}",
        channel_id=channel_id,
        **fields,
    )
    assert result.created_ticket
    return fresh(result.ticket.id)


def fresh(ticket_id: int) -> Ticket:
    """The ticket as committed now."""
    db.session.rollback()
    return db.session.get(Ticket, ticket_id, populate_existing=True)


def assigned_events(ticket_id: int) -> list[dict]:
    """The ticket's "assigned" events' data, oldest first."""
    db.session.rollback()
    return [
        e.data | {"agent": e.agent_id}
        for e in db.session.execute(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "assigned")
            .order_by(TicketEvent.id)
        ).scalars()
    ]


def set_presence(agent: Agent, status: str) -> None:
    with unit_of_work.write_phase():
        db.session.execute(update(Agent).where(Agent.id == agent.id).values(presence=status))
        db.session.commit()


def give(agent: Agent, inbound, count: int, status: str = "open") -> None:
    """``count`` tickets (of no team) assigned to ``agent`` with ``status``."""
    for _ in range(count):
        ticket = new_ticket(inbound, None)
        with unit_of_work.write_phase():
            db.session.execute(
                update(Ticket)
                .where(Ticket.id == ticket.id)
                .values(assignee_id=agent.id, status=status)
            )
            db.session.commit()


# ----- round-robin -----------------------------------------------------------------


def test_round_robin_is_fair_over_online_agents_and_skips_away_and_offline(inbound):
    team, channel, (a, b, c, away, offline) = setup_team(
        "round_robin", "online", "online", "online", "away", "offline"
    )
    tickets = [new_ticket(inbound, channel) for _ in range(9)]
    assert [t.assignee_id for t in tickets] == [a.id, b.id, c.id] * 3
    for ticket in tickets:
        [event] = assigned_events(ticket.id)
        assert event == {
            "from": None,
            "to": ticket.assignee_id,
            "why": "round_robin",
            "agent": None,
        }
    db.session.rollback()
    assert db.session.get(Team, team.id).last_assigned_agent_id == c.id
    # The turn survives changes of who is online: b goes away, the next after c is a, then c.
    set_presence(b, "away")
    assert [new_ticket(inbound, channel).assignee_id for _ in range(3)] == [a.id, c.id, a.id]


def test_round_robin_stays_fair_when_processes_assign_at_once(app, inbound):
    """Four threads (own sessions, like worker processes) ingest at once: the turn is
    taken under the team's row lock, so each agent gets the same share."""
    team, channel, agents = setup_team("round_robin", "online", "online", "online")
    channel_id, team_id, agent_ids = channel.id, team.id, [a.id for a in agents]
    errors = []

    def work():
        try:
            with app.app_context():
                for _ in range(3):
                    new_ticket(inbound, channel_id)
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    db.session.rollback()
    rows = (
        db.session.execute(select(Ticket.assignee_id).where(Ticket.team_id == team_id))
        .scalars()
        .all()
    )
    assert len(rows) == 12
    assert sorted(rows.count(agent_id) for agent_id in agent_ids) == [4, 4, 4]


# ----- least-loaded ------------------------------------------------------------------


def test_least_loaded_picks_fewest_open_tickets_and_skips_agents_at_capacity(inbound):
    team, channel, (a, b, c, away) = setup_team(
        "least_loaded", "online", "online", "online", "away"
    )
    with unit_of_work.write_phase():
        db.session.get(Agent, a.id).capacity = 2
        db.session.commit()
    give(a, inbound, 1)
    give(b, inbound, 2, status="pending")
    give(b, inbound, 1, status="new")
    give(c, inbound, 2)
    give(c, inbound, 5, status="solved")  # done: not counted
    give(c, inbound, 2, status="closed")
    # The away agent has nothing and would win, but is not online.
    assert assignment.open_loads([a.id, b.id, c.id, away.id]) == {
        a.id: 1,
        b.id: 3,
        c.id: 2,
        away.id: 0,
    }
    first = new_ticket(inbound, channel)
    assert first.assignee_id == a.id  # 1 open
    assert assigned_events(first.id)[0]["why"] == "least_loaded"
    # a is at capacity (2) now: c (2 open) before b (3).
    assert new_ticket(inbound, channel).assignee_id == c.id
    assert new_ticket(inbound, channel).assignee_id == b.id  # 3 and 3: b's turn after c
    # Everyone online at capacity: the ticket waits in the team's queue.
    with unit_of_work.write_phase():
        db.session.execute(update(Agent).where(Agent.id.in_([b.id, c.id])).values(capacity=3))
        db.session.commit()
    waiting = new_ticket(inbound, channel)
    assert waiting.assignee_id is None and waiting.team_id == team.id
    assert assigned_events(waiting.id) == []


# ----- the queue and coming online --------------------------------------------------


@pytest.mark.slow
def test_nobody_online_waits_then_is_handed_out_when_an_agent_connects(
    app, inbound, live_server, make_token
):
    team, channel, (pat, kim) = setup_team("round_robin", "offline", "away")
    first, second = new_ticket(inbound, channel), new_ticket(inbound, channel)
    assert first.assignee_id is None and second.assignee_id is None
    assert assigned_events(first.id) == []
    listener = Listener(live_server, auth={"token": make_token(pat)})  # pat comes online
    try:
        update_event = listener.wait_for(
            "ticket.updated",
            where=lambda d: (
                d["ticket"]["id"] == second.id
                and (d["ticket"].get("assignee") or {}).get("id") == pat.id
            ),
        )
        assert update_event
        for ticket in (first, second):
            assert fresh(ticket.id).assignee_id == pat.id  # kim is away: not a candidate
            assert assigned_events(ticket.id) == [
                {"from": None, "to": pat.id, "why": "came_online", "agent": None}
            ]
        db.session.rollback()
        assert db.session.get(Agent, pat.id).presence == "online"
        # Now someone is online: the next ticket is assigned at once.
        assert new_ticket(inbound, channel).assignee_id == pat.id
    finally:
        listener.close()


@pytest.mark.slow
def test_manual_teams_never_assign_automatically(app, inbound, live_server, make_token):
    team, channel, (pat, kim) = setup_team("manual", "online", "offline")
    ticket = new_ticket(inbound, channel)
    assert ticket.assignee_id is None
    assert assignment.assign(ticket) is None
    listener = Listener(live_server, auth={"token": make_token(kim)})  # kim comes online
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            db.session.rollback()
            if db.session.get(Agent, kim.id).presence == "online":
                break
            time.sleep(0.02)
        assignment.came_online(kim.id)
        assert fresh(ticket.id).assignee_id is None
        assert assigned_events(ticket.id) == []
    finally:
        listener.close()


def test_a_ticket_assigned_by_a_person_is_never_reassigned(inbound, make_agent, api_as):
    team, channel, (pat, kim) = setup_team("round_robin", "offline", "offline")
    lead = make_agent("lead@example.com", role="lead", teams=["Support"])
    ticket = new_ticket(inbound, channel)
    assert ticket.assignee_id is None  # nobody online: it waits
    response = api_as(lead).patch(f"/api/v1/tickets/{ticket.id}", json={"assignee": kim.id})
    assert response.status_code == 200, response.json
    # pat comes online, and a late run of the ingest follow-up: both leave kim's ticket alone.
    set_presence(pat, "online")
    assignment.came_online(pat.id)
    first_message = db.session.execute(
        select(Message.id).where(Message.ticket_id == ticket.id)
    ).scalar()
    assignment.assign_new(first_message)
    assert fresh(ticket.id).assignee_id == kim.id
    assert assigned_events(ticket.id) == [{"from": None, "to": kim.id, "agent": lead.id}]
    # A new ticket goes to pat, the one online.
    assert new_ticket(inbound, channel).assignee_id == pat.id


def test_a_ticket_moved_to_another_team_before_the_job_runs_is_left_alone(app, inbound):
    team, channel, (pat,) = setup_team("round_robin", "offline")
    other, _, _ = setup_team("manual", "online", name="Billing")
    ticket = new_ticket(inbound, channel)
    with unit_of_work.write_phase():
        db.session.get(Ticket, ticket.id).team_id = other.id
        db.session.commit()
    set_presence(pat, "online")
    assignment.came_online(pat.id)
    assert fresh(ticket.id).assignee_id is None


def test_team_set_command_switches_the_mode_and_hands_out_the_queue(app, inbound):
    team, channel, (pat,) = setup_team("manual", "online")
    waiting = new_ticket(inbound, channel)
    assert waiting.assignee_id is None
    runner = app.test_cli_runner()
    result = runner.invoke(args=["team", "set", "Support", "--assignment", "least_loaded"])
    assert result.exit_code == 0, result.output
    assert "least_loaded" in result.output
    db.session.rollback()
    assert db.session.get(Team, team.id).assignment == "least_loaded"
    assert fresh(waiting.id).assignee_id == pat.id
    bad = runner.invoke(args=["team", "set", "Support", "--assignment", "random"])
    assert bad.exit_code != 0


def test_the_order_bot_answers_before_the_ticket_is_assigned(
    inbound, api, make_customer, monkeypatch
):
    """The bot stays quiet on assigned tickets: even when a worker runs the assignment
    first, the bot's decision is taken first (here: the bot's own job never runs)."""
    from helpdesk.tickets import ingest as ingest_module

    team, channel, (pat,) = setup_team("round_robin", "online")
    ada = make_customer("Ada", emails=["ada@example.com"], language="en")
    response = api.put("/api/v1/orders/10023", json={"customer": ada.id, "status": "shipped"})
    assert response.status_code in (200, 201), response.json
    monkeypatch.setattr(
        ingest_module,
        "_FOLLOW_UPS",
        [f for f in ingest_module._FOLLOW_UPS if f[0] == assignment.JOB],
    )
    result = inbound(
        "email",
        "ada@example.com",
        "Where is my order 10023?",
        subject="Order",
        channel_id=channel.id,
    )
    assert fresh(result.ticket.id).assignee_id == pat.id
    db.session.rollback()
    [answer] = (
        db.session.execute(
            select(Message).where(
                Message.ticket_id == result.ticket.id, Message.author_kind == "bot"
            )
        )
        .unique()
        .scalars()
    )
    assert "10023 has been shipped" in answer.body_text
