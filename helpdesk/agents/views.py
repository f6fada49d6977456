"""Login and logout for the agent UI."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from helpdesk import unit_of_work
from helpdesk.agents import services
from helpdesk.agents.forms import LoginForm
from helpdesk.web.pages import content_security_policy

bp = Blueprint("agents", __name__)
bp.after_request(content_security_policy)  # the login page may not be framed either


def _safe_next(target: str | None) -> str:
    """Only redirect to a path on this site after login."""
    # Browsers read "\" as "/" and drop tabs and newlines, so "/\evil.example" and
    # "/\t/evil.example" lead off-site although they parse as paths here.
    if target and "\\" not in target and not any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/")
            and not target.startswith("//")
        ):
            return target
    return url_for("inbox.inbox")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; log in on a right email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("inbox.inbox"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            agent = services.authenticate(form.email.data, form.password.data, request.remote_addr)
            unit_of_work.commit()  # the audit log's record of the attempt
        except services.Throttled:
            error = _("Too many login attempts; please wait a minute.")
            return render_template("login.html", form=form, error=error), 429
        if agent is not None:
            login_user(agent)
            return redirect(_safe_next(request.args.get("next")))
        error = _("Wrong email or password.")
    elif request.method == "POST":
        error = _("Please fill in both fields.")
    return render_template("login.html", form=form, error=error)


@bp.post("/logout")
@login_required
def logout():
    """End the session, and every copy of it (the agent's session version counts up)."""
    services.end_sessions(current_user._get_current_object())
    unit_of_work.commit()
    logout_user()
    return redirect(url_for("agents.login"))
