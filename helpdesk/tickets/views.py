"""The conversation page ``/tickets/ID`` and the messages its live updates ask for.
The customer panel beside it is a request of its own (``customers.views.panel``);
actions go through the REST API with the session and its CSRF token."""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user

from helpdesk.agents import access
from helpdesk.agents import services as agents
from helpdesk.channels.base import adapter_for
from helpdesk.fields.services import definitions
from helpdesk.inbox import services as inboxes
from helpdesk.tickets import replies
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import PRIORITIES, STATUSES, Ticket
from helpdesk.web.args import int_arg
from helpdesk.web.pages import get_or_404, page_blueprint

bp = page_blueprint("tickets", __name__)
THREAD = 100  # messages shown at once; older ones a click away


def _visible_ticket(ticket_id: int) -> Ticket:
    """The ticket, or a 404 page when there is none or the agent may not see it."""
    item = get_or_404(Ticket, ticket_id)
    if not access.can_see_ticket(current_user, item):
        abort(404)
    return item


@bp.get("/tickets/<int:ticket_id>")
def ticket(ticket_id: int):
    """A conversation; the customer's card and history beside it come from the panel."""
    item = _visible_ticket(ticket_id)
    before = int_arg("before", 0, minimum=0)
    messages, earlier, trail = tickets.conversation(item, before, THREAD)
    teams, people = agents.choices()
    page = render_template(
        "ticket.html",
        ticket=item,
        messages=messages,
        events=trail,
        earlier=earlier,
        statuses=STATUSES,
        priorities=PRIORITIES,
        teams=teams,
        agents=people,
        reply_channels=replies.reply_channels(item),
        field_defs=list(definitions("ticket").values()),
    )
    _read(item)  # last: its commit expires what the page loaded
    return page


@bp.get("/tickets/<int:ticket_id>/thread")
def thread_after(ticket_id: int):
    """For live updates: the rendered messages after message ``after`` (HTML fragment)."""
    item = _visible_ticket(ticket_id)
    after = int_arg("after", 0, minimum=0)
    page = render_template("_thread.html", messages=tickets.messages_after(item, after, THREAD))
    _read(item)
    return page


def _read(ticket: Ticket) -> None:
    """The agent has seen the ticket: their read marker, and the customer's read receipt."""
    inboxes.mark_read(current_user, ticket)
    adapter = adapter_for(ticket.channel)
    if adapter is not None:
        adapter.on_read(ticket)
