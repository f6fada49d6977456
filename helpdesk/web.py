"""The agent UI pages: inbox, conversation, customer, organization (server-rendered,
login required). Live updates come over Socket.IO (static/app.js); actions go
through the REST API with the session and its CSRF token."""
from __future__ import annotations

from flask import (Blueprint, abort, get_template_attribute, jsonify, redirect, render_template,
                   request, url_for)
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from .agents import access
from .agents.models import Agent, Team
from .channels.base import adapter_for
from .customers import history
from .customers.models import Customer, Organization
from .extensions import db
from .tickets import inbox as inboxes
from .tickets import services as tickets
from .tickets.models import CHANNELS, PRIORITIES, STATUSES, Message, Ticket, TicketEvent

bp = Blueprint("web", __name__)
PAGE = 50
THREAD = 100  # messages shown at once; older ones a click away
PANEL = 20  # history entries per page of the customer panel


@bp.app_template_global("sla_state")
def _sla_state(ticket: Ticket) -> dict | None:
    """The ticket's nearest SLA target and how it stands, for the templates."""
    return tickets.sla.state(ticket)


@bp.before_request
@login_required
def _login_required():
    """Every page of this blueprint needs a logged-in agent."""


@bp.after_request
def _no_scripts_but_ours(response):
    """Inbound HTML is cleaned, framed and sandboxed; this is the last line behind that."""
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: https: http:; connect-src 'self' ws: wss:; frame-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"))
    return response


def _get(model, ident: int):
    """The row of ``model`` with id ``ident``, or a 404 page."""
    item = db.session.get(model, ident) if ident < 2**31 else None
    if item is None:
        abort(404)
    return item


def _page() -> int:
    return min(max(1, request.args.get("page", 1, type=int) or 1), 100_000)


@bp.get("/")
def home():
    """The inbox is the start page."""
    return redirect(url_for(".inbox"))


@bp.get("/inbox")
def inbox():
    """The tickets the agent may see in one view, filtered, most recently active first."""
    wanted = inboxes.parse_filter(request.args, current_user)
    page = _page()
    rows, has_next = inboxes.page(current_user, wanted, page, PAGE)
    return render_template("inbox.html", rows=rows, wanted=wanted, page=page, has_next=has_next,
                           colleagues=_colleagues(current_user),
                           counts=inboxes.counts(current_user, wanted), views=inboxes.VIEWS,
                           channels=CHANNELS, priorities=PRIORITIES,
                           statuses=inboxes.STATUS_CHOICES)


def _colleagues(agent) -> list[Agent]:
    """The active agents of ``agent``'s teams (everyone, for an admin), for presence."""
    query = select(Agent).where(Agent.active.is_(True)).order_by(Agent.name).limit(100)
    if not agent.is_admin:
        query = query.where(Agent.teams.any(Team.id.in_(agent.team_ids or [-1])))
    return db.session.execute(query).unique().scalars().all()


@bp.get("/inbox/rows")
def inbox_rows():
    """For live updates: the rows of the given tickets on this screen (null: not on it)."""
    wanted = inboxes.parse_filter(request.args, current_user)
    try:
        ids = [int(i) for i in request.args.get("ids", "").split(",") if i][:50]
    except ValueError:
        abort(400)
    rows = inboxes.rows_for(current_user, wanted, [i for i in ids if 0 < i < 2**31])
    render_row = get_template_attribute("_macros.html", "inbox_row")
    return jsonify({"rows": {i: (str(render_row(row)).strip() if row else None)
                             for i, row in rows.items()},
                    "counts": inboxes.counts(current_user, wanted)})


@bp.get("/tickets/<int:ticket_id>")
def ticket(ticket_id: int):
    """A conversation; the customer's card and history beside it come from customer_panel."""
    item = _get(Ticket, ticket_id)
    if not access.can_see_ticket(current_user, item):
        abort(404)
    before = request.args.get("before", type=int)
    query = (select(Message).where(Message.ticket_id == item.id)
             .options(undefer(Message.body_html)).order_by(Message.id.desc()).limit(THREAD + 1))
    if before:
        query = query.where(Message.id < before)
    newest_first = db.session.execute(query).unique().scalars().all()
    earlier = newest_first[THREAD].id + 1 if len(newest_first) > THREAD else None
    messages = list(reversed(newest_first[:THREAD]))
    trail = db.session.execute(select(TicketEvent).where(TicketEvent.ticket_id == item.id)
                               .order_by(TicketEvent.id.desc()).limit(200)).unique().scalars().all()
    # The team and assignee menus need names only: rows, not whole agents and teams.
    teams = db.session.execute(select(Team.id, Team.name).order_by(Team.name).limit(200)).all()
    agents = db.session.execute(select(Agent.id, Agent.name).where(Agent.active.is_(True))
                                .order_by(Agent.name).limit(500)).all()
    # The customer panel beside the thread is a request of its own (customer_panel), made
    # by the page as it loads: the thread shows without waiting for the whole history.
    page = render_template(
        "ticket.html", ticket=item, messages=messages, events=trail, earlier=earlier,
        statuses=STATUSES, priorities=PRIORITIES, teams=teams, agents=agents,
        reply_channels=tickets.reply_channels(item))
    _read(item)  # last: its commit expires what the page loaded
    return page


@bp.get("/tickets/<int:ticket_id>/thread")
def thread_after(ticket_id: int):
    """For live updates: the rendered messages after message ``after`` (HTML fragment)."""
    item = _get(Ticket, ticket_id)
    if not access.can_see_ticket(current_user, item):
        abort(404)
    after = min(max(0, request.args.get("after", 0, type=int) or 0), 2**31 - 1)
    messages = db.session.execute(
        select(Message).where(Message.ticket_id == item.id, Message.id > after)
        .options(undefer(Message.body_html)).order_by(Message.id).limit(THREAD)
    ).unique().scalars().all()
    page = render_template("_thread.html", messages=messages)
    _read(item)
    return page


def _read(ticket: Ticket) -> None:
    """The agent has seen the ticket: their read marker, and the customer's read receipt."""
    inboxes.mark_read(current_user, ticket)
    adapter = adapter_for(ticket.channel)
    if adapter is not None:
        adapter.on_read(ticket)


@bp.get("/customers/<int:customer_id>")
def customer(customer_id: int):
    """A customer's card and whole history."""
    item = _get(Customer, customer_id)
    page = _page()
    entries, more = history.timeline(item, page, PAGE, viewer=current_user)
    return render_template("customer.html", customer=item,
                           card=history.card(item, viewer=current_user), entries=entries,
                           key_people=history.key_people(item), page=page, has_next=more)


@bp.get("/customers/<int:customer_id>/panel")
def customer_panel(customer_id: int):
    """The customer panel beside a conversation (HTML fragment), or one more page of it."""
    item = _get(Customer, customer_id)
    page = _page()
    if page > 1:
        entries, more = history.timeline(item, page, PANEL, viewer=current_user)
        return render_template("_history.html", customer=item, entries=entries, page=page,
                               more=more)
    card, entries, more = history.panel(item, PANEL, viewer=current_user)
    return render_template("_panel.html", card=card, customer=item, entries=entries, page=page,
                           more=more, key_people=history.key_people(item))


@bp.get("/organizations/<int:org_id>")
def organization(org_id: int):
    """An organization with its key people first, then everyone else (paginated)."""
    org = _get(Organization, org_id)
    page = _page()
    people = db.session.execute(
        select(Customer).where(Customer.organization_id == org.id)
        .order_by(Customer.key_person.desc(), func.lower(Customer.name), Customer.id)
        .limit(PAGE + 1).offset((page - 1) * PAGE)).unique().scalars().all()
    open_count = db.session.execute(
        select(func.count()).select_from(Ticket).join(Customer)
        .where(Customer.organization_id == org.id, Ticket.status.in_(("new", "open", "pending")),
               access.ticket_filter(current_user))).scalar_one()
    return render_template("organization.html", org=org, people=people[:PAGE], page=page,
                           has_next=len(people) > PAGE, open_count=open_count)
