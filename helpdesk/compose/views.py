"""The pages: ``/tickets/new`` (find the customer, then write by email or SMS),
``/profile/signature`` (the agent's own signature), and the forward form of a message in
the thread. Plain forms with the session's CSRF token; the work is in ``services``."""

from __future__ import annotations

import re

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from helpdesk import unit_of_work
from helpdesk.agents import access
from helpdesk.compose import services
from helpdesk.customers import search
from helpdesk.customers.models import Customer
from helpdesk.errors import HelpdeskError, Invalid
from helpdesk.extensions import db
from helpdesk.files import uploads
from helpdesk.tickets.models import Message
from helpdesk.web.args import int_arg
from helpdesk.web.pages import get_or_404, page_blueprint

bp = page_blueprint("compose", __name__)
_LIST = re.compile(r"[,;\s]+")


def _message(error: HelpdeskError) -> str:
    """An error as one line for the page: its message and the fields it names."""
    fields = "; ".join(f"{k}: {v}" for k, v in (error.fields or {}).items())
    return f"{error.message}" + (f" ({fields})" if fields else "")


def _customer(customer_id: int) -> Customer:
    """A customer the agent may see, or the 404 page."""
    customer = get_or_404(Customer, customer_id)
    if not access.can_see_customer(current_user, customer):
        abort(404)
    return customer


def senders_by_channel() -> dict:
    """The mailboxes and numbers a conversation can start from, by channel."""
    return {kind: services.senders(kind) for kind in services.SENDERS}


@bp.route("/tickets/new", methods=["GET", "POST"])
def new_ticket():
    """Find the customer (``q``), then write to them (``customer``): the form, and its send."""
    if request.method == "POST":
        return _send()
    customer_id = int_arg("customer", 0, minimum=0)
    q = (request.args.get("q") or "").strip()[:200]
    matches = []
    if q and not customer_id:
        matches = search.page(search.parse({"q": q}), current_user, 1, 10).customers
    return render_template(
        "compose.html",
        customer=_customer(customer_id) if customer_id else None,
        senders=senders_by_channel(),
        q=q,
        matches=matches,
        form=None,
        error=None,
    )


def _send():
    """Start the conversation from the form; back to the form with the error otherwise."""
    form = request.form
    customer_id = int(form["customer"]) if form.get("customer", "").isdigit() else 0
    customer = _customer(customer_id)
    via = form.get("via", "")
    try:
        if not form.get("subject", "").strip() or not form.get("body", "").strip():
            raise Invalid(_("Write a subject and a message."), fields={"body": "missing"})
        ticket, _first = services.start(
            current_user,
            customer.id,
            "sms" if form.get("channel") == "sms" else "email",
            form.get("subject", "").strip()[:300],
            form.get("body", "")[:100_000],
            via=int(via) if via.isdigit() and len(via) < 10 else None,
            to=form.get("to") or None,
            files=uploads.from_request(),
            cc=[a for a in _LIST.split(form.get("cc", "")) if a][:10],
            bcc=[a for a in _LIST.split(form.get("bcc", "")) if a][:10],
        )
        unit_of_work.commit()
    except HelpdeskError as exc:
        db.session.rollback()
        customer = _customer(customer_id)
        page = render_template(
            "compose.html",
            customer=customer,
            senders=senders_by_channel(),
            q="",
            matches=[],
            form=form,
            error=_message(exc),
        )
        return page, exc.status
    return redirect(url_for("tickets.ticket", ticket_id=ticket.id))


@bp.route("/profile/signature", methods=["GET", "POST"])
def signature():
    """The agent's own signature: shown, and saved."""
    error, saved = None, False
    if request.method == "POST":
        try:
            services.set_signature(current_user, request.form.get("signature", ""))
            unit_of_work.commit()
            saved = True
        except HelpdeskError as exc:
            db.session.rollback()
            error = _message(exc)
    return render_template(
        "signature.html", signature=current_user.signature, saved=saved, error=error
    ), (422 if error else 200)


@bp.post("/messages/<int:message_id>/forward")
def forward(message_id: int):
    """The thread's forward form: send, then back to the ticket."""
    message = get_or_404(Message, message_id)
    if not access.can_see_ticket(current_user, message.ticket):
        abort(404)
    try:
        services.forward(
            current_user, message, request.form.get("to", "")[:320], request.form.get("note", "")
        )
        unit_of_work.commit()
    except HelpdeskError as exc:
        db.session.rollback()
        return render_template("error.html", message=_message(exc)), exc.status
    return redirect(url_for("tickets.ticket", ticket_id=message.ticket_id) + f"#m{message_id}")
