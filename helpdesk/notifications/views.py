"""The page where an agent chooses which notifications also come by email."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_login import current_user

from helpdesk import unit_of_work
from helpdesk.notifications import services
from helpdesk.notifications.models import EMAIL_CHOICES
from helpdesk.web.pages import page_blueprint

bp = page_blueprint("notifications", __name__)


@bp.route("/profile/notifications", methods=["GET", "POST"])
def settings():
    """Show the agent's email choices; a POST (the form) stores them."""
    if request.method == "POST":
        services.set_email_kinds(current_user, request.form.getlist("email"))
        unit_of_work.commit()
        return redirect(url_for("notifications.settings", saved=1))
    return render_template(
        "notification_settings.html",
        choices=[(kind, services.title(kind)) for kind in EMAIL_CHOICES],
        chosen=set(services.email_kinds(current_user)),
        saved=request.args.get("saved") == "1",
    )
