"""Live chat's pages: the widget script and the agents' try-it page."""

from __future__ import annotations

from flask import Blueprint, render_template, send_from_directory
from flask_login import login_required

from helpdesk.channels.chat import services
from helpdesk.channels.chat.services import WIDGET_DIR

bp = Blueprint("chat", __name__)


@bp.get("/chat/widget.js")
def widget():
    """The embeddable widget (public: it runs on the company's own website)."""
    response = send_from_directory(WIDGET_DIR, "widget.js", mimetype="text/javascript", max_age=300)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/chat/try")
@login_required
def try_chat():
    """A page embedding the first chat widget, for agents to try it (login required)."""
    return render_template("chat_try.html", channel=services.first_widget())


# ----- channels -----
