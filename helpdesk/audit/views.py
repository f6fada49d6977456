"""The audit log page for admins (``/settings/audit``): the API's filters, who, when, what,
and before -> after of each event. Others get a 403 page."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, render_template
from flask_babel import gettext as _
from flask_login import current_user

from helpdesk.agents import access
from helpdesk.agents import services as agents
from helpdesk.audit import queries, snapshots
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.web.pages import page_blueprint, page_number

bp = page_blueprint("audit", __name__)
PAGE = 50


@bp.get("/settings/audit")
def audit_log():
    """One page of the audit log, newest first, filtered as the query string says."""
    if not current_user.is_admin or current_user.own_accounts_only:
        # An account manager, even an admin, would read about every customer here.
        return render_template("error.html", message=_("The audit log is for admins.")), 403
    filters = queries.filters_from_request()
    page = page_number()
    rows = list(
        db.session.execute(queries.search(filters).limit(PAGE + 1).offset((page - 1) * PAGE))
        .scalars()
        .all()
    )
    events = rows[:PAGE]
    _names, agent_choices = agents.choices()
    return render_template(
        "audit.html",
        events=[(e, queries.diff_lines(e)) for e in events],
        names=queries.agent_names(events),
        filters=filters,
        args=filters.args(),
        agents=agent_choices,
        actions=queries.KNOWN_ACTIONS,
        page=page,
        has_next=len(rows) > PAGE,
        day=timedelta(days=1),
    )


@bp.get("/customers/<int:customer_id>/erase")
def erase_customer(customer_id: int):
    """Admins: what erasing this person deletes (counts), and the confirmation (typing
    the name); the erasure itself is ``DELETE /api/v1/customers/ID`` (static/erase.js)."""
    if not current_user.is_admin:
        return render_template("error.html", message=_("Only admins erase customers.")), 403
    customer = db.session.get(Customer, customer_id)
    if not access.can_see_customer(current_user, customer):
        abort(404)  # an account manager's admin sees only their own accounts here too
    assert customer is not None
    return render_template(
        "erase.html",
        customer=customer,
        counts=snapshots.owned_counts(customer.id),
        confirm_with=customer.name or str(customer.id),
    )


@bp.get("/customers/erased")
def erased():
    """Where the erasure lands: it is done."""
    return render_template("erased.html")
