"""The duplicates screen (``/customers/duplicates``): each likely pair side by side, what
a merge would move and whose values win, merged with one click (``static/duplicates.js``
through ``POST /api/v1/customers/ID/merge``) or dismissed."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from helpdesk.duplicates import candidates, services
from helpdesk.web.pages import page_blueprint, page_number

bp = page_blueprint("duplicates", __name__)
PAGE = 20
# The values a merge lets the agent choose, as (form key, Customer attribute, label).
CHOICES = (
    ("name", "name", "Name"),
    ("title", "title", "Title"),
    ("organization", "organization_id", "Organization"),
    ("language", "language", "Language"),
)


@bp.get("/customers/duplicates")
def duplicates():
    """One page of likely duplicate pairs among the customers the agent may see."""
    page = page_number()
    shown = candidates.find(current_user, offset=(page - 1) * PAGE, limit=PAGE)
    total = candidates.count(current_user)
    return render_template(
        "duplicates.html",
        pairs=services.page_of_pairs(shown),
        total=total,
        page=page,
        has_next=total > page * PAGE,
        choices=CHOICES,
    )
