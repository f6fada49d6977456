"""The lead's team board (/board, /board/rows) and bulk reassignment
(POST /api/v1/tickets/bulk): access, figures, the queue and SLA lists, a bounded
number of queries, input checks, all-or-nothing, and the live events it sends."""

from __future__ import annotations

import re
from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import func, select

from helpdesk import unit_of_work
from helpdesk.agents.models import Team
from helpdesk.board import services as boards
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.inbox import services as inbox
from helpdesk.tickets.models import Ticket, TicketEvent
from tests.fixtures.agents import login, page_csrf
from tests.fixtures.sockets import Listener

BULK = "/api/v1/tickets/bulk"
_created = count(1)


@pytest.fixture
def desk(make_agent, make_customer):
    """Support: Lea (lead), Pat and Kim (agents); Billing: Bill (agent), Lou (its lead);
    Ada, a customer."""
    lea = make_agent("lea@example.com", role="lead", teams=["Support"], name="Lea Lead")
    pat = make_agent("pat@example.com", teams=["Support"], name="Pat")
    kim = make_agent("kim@example.com", teams=["Support"], name="Kim")
    bill = make_agent("bill@example.com", teams=["Billing"], name="Bill")
    lou = make_agent("lou@example.com", role="lead", teams=["Billing"], name="Lou Lead")
    ada = make_customer("Ada Lovelace", emails=["ada@example.com"])
    support, billing = (
        db.session.execute(select(Team).where(Team.name == n)).scalar_one()
        for n in ("Support", "Billing")
    )
    return type(
        "Desk",
        (),
        dict(
            lea=lea, pat=pat, kim=kim, bill=bill, lou=lou, ada=ada, support=support, billing=billing
        ),
    )


def board_ticket(
    desk,
    team=None,
    assignee=None,
    status="open",
    due=None,
    target="resolution",
    subject=None,
    tags=(),
    created_minutes_ago=None,
) -> Ticket:
    """A ticket stored as the SLA code leaves it: ``due`` minutes from now (negative: past)."""
    now = utcnow()
    n = next(_created)
    created = now - timedelta(
        minutes=created_minutes_ago if created_minutes_ago is not None else 1000 - n
    )
    with unit_of_work.write_phase():
        ticket = Ticket(
            subject=subject or f"Question {n}",
            status=status,
            channel="email",
            customer_id=desk.ada.id,
            team_id=team.id if team else None,
            assignee_id=assignee.id if assignee else None,
            created_at=created,
            last_message_at=created,
            message_count=1,
            sla_due=now + timedelta(minutes=due) if due is not None else None,
            sla_target=target if due is not None else None,
        )
        ticket.set_tags(list(tags))
        db.session.add(ticket)
        db.session.commit()
    return ticket


def fresh(ticket: Ticket) -> Ticket:
    db.session.rollback()
    return db.session.get(Ticket, ticket.id)


# --- access -------------------------------------------------------------------------------


def test_agents_are_refused_leads_see_their_own_teams_admins_any(client, desk, make_agent):
    login(client, "pat@example.com")
    assert client.get("/board").status_code == 403
    assert client.get(f"/board/rows?team={desk.support.id}").status_code == 403
    assert 'href="/board"' not in client.get("/inbox").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": page_csrf(client)})

    login(client, "lea@example.com")
    assert 'href="/board"' in client.get("/inbox").get_data(as_text=True)
    page = client.get("/board")
    assert page.status_code == 200
    assert "Team board: Support" in page.get_data(as_text=True)
    assert client.get(f"/board?team={desk.billing.id}").status_code == 403
    assert client.get(f"/board/rows?team={desk.billing.id}").status_code == 403
    assert client.get("/board?team=999999").status_code == 404
    # Past INTEGER: refused by the argument parser the API shares (web/args.py).
    assert client.get("/board?team=99999999999").status_code == 422
    client.post("/logout", data={"csrf_token": page_csrf(client)})

    make_agent("root@example.com", role="admin", name="Root")
    login(client, "root@example.com")
    page = client.get(f"/board?team={desk.billing.id}").get_data(as_text=True)
    assert "Team board: Billing" in page
    assert re.search(r'<option value="\d+">Support</option>', page)  # an admin picks any team


def test_a_lead_of_no_team_gets_an_empty_board(client, desk, make_agent):
    make_agent("solo@example.com", role="lead", name="Solo")
    login(client, "solo@example.com")
    page = client.get("/board")
    assert page.status_code == 200 and "You lead no team yet." in page.get_data(as_text=True)


def test_the_page_has_no_inline_script_and_escapes_what_customers_wrote(client, desk):
    board_ticket(desk, desk.support, subject='<img src=x onerror="alert(1)">', due=-5)
    login(client, "lea@example.com")
    page = client.get("/board").get_data(as_text=True)
    assert all(re.search(r'\ssrc="', tag) for tag in re.findall(r"<script[^>]*>", page))
    assert "script-src 'self'" in client.get("/board").headers["Content-Security-Policy"]
    fragment = client.get(f"/board/rows?team={desk.support.id}").get_data(as_text=True)
    for html in (page, fragment):
        assert "&lt;img src=x onerror=" in html and "<img" not in html


# --- figures and lists ----------------------------------------------------------------------


def test_workloads_queue_and_sla_lists(client, desk, make_agent):
    s = desk.support
    board_ticket(desk, s, desk.pat, "new")
    late = board_ticket(desk, s, desk.pat, "open", due=-10)
    board_ticket(desk, s, desk.pat, "pending")
    board_ticket(desk, s, desk.pat, "solved", due=-100)  # done: counts nowhere
    soon = board_ticket(desk, s, desk.kim, "open", due=10, target="first_response")
    board_ticket(desk, s, desk.kim, "open", due=120)  # not near yet
    old = board_ticket(desk, s, None, "new", created_minutes_ago=300, due=-60)
    young = board_ticket(desk, s, None, "open", created_minutes_ago=5)
    board_ticket(desk, s, None, "closed", created_minutes_ago=400)
    board_ticket(desk, desk.billing, None, "new", due=-30)  # another team's
    elsewhere = board_ticket(desk, desk.billing, desk.pat, "open", due=-30)  # Lea cannot see it

    shown = boards.board(desk.lea, s)
    figures = {m.agent.name: (m.open, m.pending, m.overdue) for m in shown.members}
    assert figures == {"Kim": (2, 0, 0), "Lea Lead": (0, 0, 0), "Pat": (2, 1, 1)}
    assert (shown.unassigned, shown.near, shown.overdue) == (2, 3, 2)
    assert [t.id for t in shown.queue] == [old.id, young.id]  # oldest first
    assert [t.id for t in shown.sla] == [old.id, late.id, soon.id]  # most urgent first
    assert [shown.overdue_ticket(t) for t in shown.sla] == [True, True, False]

    # An admin sees every ticket, so Pat's Billing ticket counts in Pat's figures too.
    admin_view = boards.board(make_agent("root@example.com", role="admin", name="Root"), s)
    assert {m.agent.name: m.overdue for m in admin_view.members}["Pat"] == 2
    assert elsewhere.id not in [t.id for t in admin_view.sla]  # still only the team's lists

    login(client, "lea@example.com")
    page = client.get("/board").get_data(as_text=True)
    pat_row = re.search(rf'<tr data-agent="{desk.pat.id}">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'data-load="\w+"[^>]*>(\d+)<', pat_row) == ["2", "1", "1"]
    assert re.search(r'data-figure="unassigned">2<', page)
    queue_part = page.split('class="board board-queue"')[1].split("</table>")[0]
    assert re.findall(r'<tr data-ticket="(\d+)"', queue_part) == [str(old.id), str(young.id)]
    sla_part = page.split('class="board board-sla"')[1].split("</table>")[0]
    assert re.findall(r'<tr data-ticket="(\d+)" class="(\w+)"', sla_part) == [
        (str(old.id), "overdue"),
        (str(late.id), "overdue"),
        (str(soon.id), "near"),
    ]
    assert "first response" in sla_part
    assert (
        client.get(f"/board/rows?team={s.id}").get_data(as_text=True).count('type="checkbox"') == 5
    )  # the fragment holds the same rows


def test_the_warning_window_comes_from_the_configuration(app, desk):
    board_ticket(desk, desk.support, desk.pat, due=45)
    assert boards.board(desk.lea, desk.support).near == 0
    app.config["SLA_WARN_MINUTES"] = 60
    assert boards.board(desk.lea, desk.support).near == 1


def test_the_queue_and_the_sla_list_are_paginated(client, desk):
    tickets = [board_ticket(desk, desk.support, None, "new", due=i) for i in range(53)]
    first, more = boards.queue(desk.lea, desk.support, 1, 50)
    assert len(first) == 50 and more
    second, more = boards.queue(desk.lea, desk.support, 2, 50)
    assert [t.id for t in second] == [t.id for t in tickets[50:]] and not more
    near, more = boards.near_sla(desk.lea, desk.support, utcnow() + timedelta(minutes=30), 2, 10)
    assert [t.id for t in near] == [t.id for t in tickets[10:20]] and more
    login(client, "lea@example.com")
    page = client.get("/board?page=2&sla_page=1").get_data(as_text=True)
    assert 'data-page="2"' in page and "← older" in page and "newer →" not in page
    queue_part = page.split('class="board board-queue"')[1].split("</table>")[0]
    assert len(re.findall(r"<tr data-ticket=", queue_part)) == 3


def test_the_board_takes_a_fixed_number_of_queries(client, desk, make_agent, count_queries):
    for _ in range(2):
        board_ticket(desk, desk.support, desk.pat, due=-5, tags=["vip"])
        board_ticket(desk, desk.support, None, due=5, tags=["vip", "mail"])
    login(client, "lea@example.com")

    def queries(path):
        """The statements of one GET of ``path``, as a request of its own runs it."""
        client.get(path)  # warm: whatever is loaded once per process
        db.session.expunge_all()
        with count_queries() as statements:
            assert client.get(path).status_code == 200
        return len(statements)

    small = queries("/board"), queries(f"/board/rows?team={desk.support.id}")
    for n in range(6):
        agent = make_agent(f"more{n}@example.com", teams=["Support", "Billing"])
        for status in ("new", "pending"):
            board_ticket(desk, desk.support, agent, status, due=-5, tags=[f"t{n}"])
            board_ticket(desk, desk.support, None, status, due=5, tags=[f"u{n}"])
    big = queries("/board"), queries(f"/board/rows?team={desk.support.id}")
    assert big == small, (small, big)
    assert big[0] <= 13, big  # 12, and the bell's unread count in the top bar


# --- bulk reassignment ------------------------------------------------------------------------


def test_bulk_reassigns_audits_and_answers_the_tickets(api_as, desk):
    a, b = (board_ticket(desk, desk.support) for _ in range(2))
    answer = api_as(desk.lea).post(BULK, json={"ids": [b.id, a.id, b.id], "assignee": desk.pat.id})
    assert answer.status_code == 200, answer.json
    assert [t["id"] for t in answer.json["items"]] == [b.id, a.id]
    assert {t["assignee"]["id"] for t in answer.json["items"]} == {desk.pat.id}
    assert fresh(a).assignee_id == desk.pat.id and fresh(b).assignee_id == desk.pat.id
    trail = (
        db.session.execute(
            select(TicketEvent)
            .where(TicketEvent.kind == "assigned")
            .order_by(TicketEvent.ticket_id)
        )
        .scalars()
        .all()
    )
    assert [(e.ticket_id, e.data["to"], e.agent_id) for e in trail] == [
        (a.id, desk.pat.id, desk.lea.id),
        (b.id, desk.pat.id, desk.lea.id),
    ]

    # To another team: the assignee (not a member there) is dropped; then back to the queue.
    moved = api_as(desk.lea).post(BULK, json={"ids": [a.id], "team": desk.billing.id})
    assert moved.status_code == 200
    assert moved.json["items"][0]["team"]["name"] == "Billing"
    assert moved.json["items"][0]["assignee"] is None
    queued = api_as(desk.lea).post(BULK, json={"ids": [b.id], "assignee": None})
    assert queued.status_code == 200 and fresh(b).assignee_id is None
    both = api_as(desk.lou).post(
        BULK, json={"ids": [a.id], "team": desk.support.id, "assignee": desk.kim.id}
    )
    assert both.status_code == 200 and fresh(a).assignee_id == desk.kim.id


@pytest.mark.parametrize(
    "body, field",
    [
        ({"ids": [1]}, "body"),
        ({"ids": [], "assignee": 1}, "ids"),
        ({"ids": list(range(1, 102)), "assignee": 1}, "ids"),
        ({"ids": ["1"], "assignee": 1}, "ids.0"),
        ({"ids": [True], "assignee": 1}, "ids.0"),
        ({"ids": [0], "assignee": 1}, "ids.0"),
        ({"ids": [2**31], "assignee": 1}, "ids.0"),
        ({"ids": 1, "assignee": 1}, "ids"),
        ({"ids": [1], "assignee": "1"}, "assignee"),
        ({"ids": [1], "assignee": 1.5}, "assignee"),
        ({"ids": [1], "team": None}, "body"),
        ({"ids": [1], "team": [1]}, "team"),
        ({"ids": [1], "assignee": 1, "status": "solved"}, "status"),
        ([1, 2], "body"),
    ],
)
def test_bad_bulk_input_answers_422(api_as, desk, body, field):
    ticket = board_ticket(desk, desk.support)
    answer = api_as(desk.lea).post(BULK, json=body)
    assert answer.status_code == 422, answer.json
    error = answer.json["error"]
    assert error["code"] == "invalid" and field in error["fields"], error
    assert fresh(ticket).assignee_id is None


def test_malformed_bulk_bodies(api_as, desk):
    lea = api_as(desk.lea)
    assert (
        lea.post(BULK, data="{", content_type="application/json").json["error"]["code"]
        == "malformed_json"
    )
    assert lea.post(BULK, data="ids=1").json["error"]["code"] == "unsupported_media_type"


def test_bulk_is_all_or_nothing(api_as, desk, make_agent):
    ours = board_ticket(desk, desk.support)
    theirs = board_ticket(desk, desk.billing)
    before = db.session.execute(select(func.count()).select_from(TicketEvent)).scalar_one()

    def unchanged():
        db.session.rollback()
        assert (fresh(ours).assignee_id, fresh(ours).team_id) == (None, desk.support.id)
        assert (fresh(theirs).assignee_id, fresh(theirs).team_id) == (None, desk.billing.id)
        assert (
            db.session.execute(select(func.count()).select_from(TicketEvent)).scalar_one() == before
        )

    # A ticket the lead may not see: 404, as if it did not exist, and nothing changes.
    hidden = api_as(desk.lea).post(
        BULK, json={"ids": [ours.id, theirs.id], "assignee": desk.pat.id}
    )
    assert hidden.status_code == 404 and hidden.json["error"]["code"] == "not_found"
    missing = api_as(desk.lea).post(BULK, json={"ids": [ours.id, 999999], "assignee": desk.pat.id})
    assert missing.status_code == 404
    unchanged()
    # An admin sees both; Pat can take the first but is not in the second's team: the
    # first change was already made when the second was refused, and is undone.
    root = make_agent("root@example.com", role="admin", name="Root")
    refused = api_as(root).post(BULK, json={"ids": [ours.id, theirs.id], "assignee": desk.pat.id})
    assert refused.status_code == 422 and refused.json["error"]["fields"] == {
        "assignee": "not a member of the team"
    }
    unchanged()
    # An agent may not give tickets to a colleague, nor move them to another team.
    for change in ({"assignee": desk.kim.id}, {"team": desk.billing.id}):
        forbidden = api_as(desk.pat).post(BULK, json={"ids": [ours.id], **change})
        assert forbidden.status_code == 403 and forbidden.json["error"]["code"] == "forbidden"
    unchanged()
    unknown = api_as(desk.lea).post(BULK, json={"ids": [ours.id], "team": 999999})
    assert unknown.status_code == 422 and unknown.json["error"]["fields"] == {"team": "unknown id"}
    unchanged()
    # What an agent may do in bulk: take tickets themselves.
    mine = api_as(desk.pat).post(BULK, json={"ids": [ours.id], "assignee": desk.pat.id})
    assert mine.status_code == 200 and fresh(ours).assignee_id == desk.pat.id


def test_the_ui_calls_bulk_with_its_session_and_csrf_token(client, desk):
    ticket = board_ticket(desk, desk.support)
    login(client, "lea@example.com")
    body = {"ids": [ticket.id], "assignee": desk.kim.id}
    assert client.post(BULK, json=body).status_code == 401  # no CSRF token: not the page
    answer = client.post(BULK, json=body, headers={"X-CSRFToken": page_csrf(client)})
    assert answer.status_code == 200 and fresh(ticket).assignee_id == desk.kim.id


@pytest.mark.slow
def test_bulk_announces_each_ticket_to_whoever_saw_it_and_now_sees_it(
    live_server, desk, make_token, api_as
):
    ticket = board_ticket(desk, desk.support)
    pat, kim, bill = (
        Listener(live_server, auth={"token": make_token(a)})
        for a in (desk.pat, desk.kim, desk.bill)
    )
    lea = api_as(desk.lea)
    db.session.rollback()  # no read transaction left open beside the live server's writes
    try:
        assert lea.post(BULK, json={"ids": [ticket.id], "assignee": desk.pat.id}).status_code == 200
        shown = pat.wait_for("ticket.updated", where=lambda d: d["ticket"]["id"] == ticket.id)
        assert shown["ticket"]["assignee"]["id"] == desk.pat.id
        # Pat's inbox "Mine" takes the row, as inbox.js asks on that event.
        rows = inbox.rows_for(desk.pat, inbox.InboxFilter(view="mine"), [ticket.id])
        assert rows[ticket.id] is not None
        db.session.rollback()
        assert lea.post(BULK, json={"ids": [ticket.id], "team": desk.billing.id}).status_code == 200
        moved = bill.wait_for("ticket.updated", where=lambda d: d["ticket"]["id"] == ticket.id)
        assert moved["ticket"]["team"]["name"] == "Billing"
        # Support's members and the former assignee hear it too, so their screens drop it.
        kim.wait_for("ticket.updated", where=lambda d: d["ticket"]["team"]["name"] == "Billing")
        pat.wait_for("ticket.updated", where=lambda d: d["ticket"]["assignee"] is None)
    finally:
        for listener in (pat, kim, bill):
            listener.close()
