"""Login and logout for the agent UI."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select

from helpdesk.agents.forms import LoginForm
from helpdesk.agents.models import Agent
from helpdesk.extensions import db

bp = Blueprint("agents", __name__)
# Checked against when the email is unknown, so both failures take the same time.
_DUMMY = Agent(email="nobody@invalid", name="nobody")
_DUMMY.set_password("not a password anyone has")


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
        agent = db.session.execute(
            select(Agent).where(func.lower(Agent.email) == form.email.data.strip().lower())
        ).scalar_one_or_none()
        candidate = agent if agent is not None else _DUMMY
        if candidate.check_password(form.password.data) and agent is not None and agent.active:
            login_user(agent)
            return redirect(_safe_next(request.args.get("next")))
        error = "Wrong email or password."
    elif request.method == "POST":
        error = "Please fill in both fields."
    return render_template("login.html", form=form, error=error)


@bp.post("/logout")
@login_required
def logout():
    """End the session."""
    logout_user()
    return redirect(url_for("agents.login"))
