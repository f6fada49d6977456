"""The customer list page: search, filters, sortable columns, segments, bulk actions."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from helpdesk.customers import search
from helpdesk.web.pages import page_blueprint, page_number

bp = page_blueprint("customer_list", __name__)
PAGE = 50


@bp.get("/customers")
def customers():
    """The customer list (the filter in the URL, so a view can be bookmarked)."""
    wanted = search.parse(request.args)
    number = page_number()
    rows, more, total = search.page(wanted, current_user, number, PAGE)
    return render_template("customers.html", rows=rows, more=more, total=total, page=number)
