"""The team board in a real browser (Debian's Chromium driven by Playwright) against the
live server: a lead reassigns tickets from /board while the agent who gets them has
/inbox?view=mine open in another browser; both screens change without a reload.

The UI contract: ``#board-body`` holds the board; agents are
``tr[data-agent=ID]`` with ``[data-presence-label=ID]`` and ``td[data-load=open|pending|overdue]``;
the figures ``[data-figure=unassigned|near|overdue]``; ticket rows
``table.board-queue|board-sla tr[data-ticket=ID]`` with ``input.pick`` and
``select.reassign-one``; ``form#board-bulk`` with ``select[name=target]`` (``agent:ID``,
``none``, ``team:ID``) and a submit button.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from helpdesk.agents.models import Team
from helpdesk.extensions import db
from tests.fixtures.browser import (
    VIEWPORT,
    WAIT_MS,
    Seen,
    assert_not_reloaded,
    log_in,
    mark_page,
    wait_for_socket,
)

pytestmark = pytest.mark.slow  # browsers against a live server

INBOX_ROWS = "table.inbox tbody tr[data-ticket]"


@pytest.fixture
def browser_tab(chromium, live_server):
    """Open fresh browser contexts (their own cookies) on the live server: ``browser_tab()``.
    The contexts bypass the CSP only so that Playwright can poll with wait_for_function."""
    contexts = []

    def open_tab():
        context = chromium.new_context(base_url=live_server, viewport=VIEWPORT, bypass_csp=True)
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        tab = context.new_page()
        tab.seen = Seen()
        tab.on("dialog", lambda dialog: (tab.seen.dialogs.append(dialog.message), dialog.dismiss()))
        tab.on("pageerror", lambda error: tab.seen.errors.append(str(error)))
        tab.on(
            "console",
            lambda msg: tab.seen.console.append(msg.text) if msg.type == "error" else None,
        )
        return tab

    yield open_tab
    for context in contexts:
        context.close()


def test_a_lead_reassigns_from_the_board_and_the_agent_sees_it_live(
    browser_tab, live_server, make_agent, make_customer, api_as, make_ticket
):
    lea = make_agent("lea@example.com", role="lead", teams=["Support", "Billing"], name="Lea Lead")
    pat = make_agent("pat@example.com", teams=["Support"], name="Pat Agent")
    make_customer("Ada Lovelace", emails=["ada@example.com"])
    support, billing = (
        db.session.execute(select(Team.id).where(Team.name == name)).scalar_one()
        for name in ("Support", "Billing")
    )
    lead_api = api_as(lea)
    pat_id = pat.id
    db.session.rollback()  # no read transaction left open beside the live server's writes

    def open_ticket(subject: str) -> int:
        db.session.rollback()
        return make_ticket(
            subject=subject,
            customer_email="ada@example.com",
            body="Hello",
            team=support,
            by=lead_api,
        )

    first = open_ticket("Printer on fire")
    second = open_ticket("Invoice twice")

    board = browser_tab()
    log_in(board, "lea@example.com")
    board.goto(f"/board?team={support}")
    wait_for_socket(board)
    mark_page(board)
    pat_row = board.locator(f'tr[data-agent="{pat_id}"]')
    expect(pat_row.locator('[data-load="open"]')).to_have_text("0")
    expect(board.locator('[data-figure="unassigned"]')).to_have_text("2")

    inbox = browser_tab()
    log_in(inbox, "pat@example.com")
    inbox.goto("/inbox?view=mine")
    wait_for_socket(inbox)
    mark_page(inbox)
    expect(inbox.locator(INBOX_ROWS)).to_have_count(0)
    # Pat's presence, as Pat switches it, changes on the lead's board.
    presence = pat_row.locator(f'[data-presence-label="{pat_id}"]')
    inbox.locator("#my-presence").select_option("away")
    expect(presence).to_have_text("away")
    expect(pat_row.locator(f'[data-presence-of="{pat_id}"]')).to_have_class("dot away")
    inbox.locator("#my-presence").select_option("online")
    expect(presence).to_have_text("online")

    # Select the first ticket and give it to Pat through the bar.
    queue = board.locator("table.board-queue")
    queue.locator(f'tr[data-ticket="{first}"] input.pick').check()
    expect(board.locator("#board-selected")).to_have_text("1 selected")
    board.locator("#board-bulk select[name=target]").select_option(f"agent:{pat_id}")
    board.locator("#board-bulk button[type=submit]").click()

    expect(inbox.locator(f'{INBOX_ROWS}[data-ticket="{first}"]')).to_be_visible()
    expect(pat_row.locator('[data-load="open"]')).to_have_text("1")
    expect(board.locator('[data-figure="unassigned"]')).to_have_text("1")
    expect(queue.locator(f'tr[data-ticket="{first}"]')).to_have_count(0)
    expect(board.locator("#board-selected")).to_have_text("0 selected")

    # A ticket opened meanwhile by someone else appears on the board by itself...
    third = open_ticket("Where is my parcel?")
    expect(queue.locator(f'tr[data-ticket="{third}"]')).to_be_visible()
    expect(board.locator('[data-figure="unassigned"]')).to_have_text("2")
    # ... and one row is reassigned from its own list.
    queue.locator(f'select.reassign-one[data-ticket="{third}"]').select_option(f"agent:{pat_id}")
    expect(inbox.locator(f'{INBOX_ROWS}[data-ticket="{third}"]')).to_be_visible()
    expect(pat_row.locator('[data-load="open"]')).to_have_text("2")
    expect(queue.locator(f'tr[data-ticket="{second}"]')).to_be_visible()
    expect(queue.locator("tr[data-ticket]")).to_have_count(1)

    # Moving Pat's ticket to another team takes it off Pat's inbox, live.
    db.session.rollback()
    assert (
        lead_api.post("/api/v1/tickets/bulk", json={"ids": [first], "team": billing}).status_code
        == 200
    )
    expect(inbox.locator(f'{INBOX_ROWS}[data-ticket="{first}"]')).to_have_count(0)
    expect(pat_row.locator('[data-load="open"]')).to_have_text("1")

    assert_not_reloaded(board)
    assert_not_reloaded(inbox)
    for tab in (board, inbox):
        assert not tab.seen.errors and not tab.seen.dialogs, tab.seen.report()
