"""The set-password page (``/set-password/TOKEN``) an invitation or reset mail links to.

Public: the unguessable, single-use, expiring token in the path is the proof. A link that
does not work (unknown, used, expired, its agent deactivated) answers 404 with one and
the same page. A good password is stored, the link used up, and the agent logged in.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import login_user, logout_user

from helpdesk import unit_of_work
from helpdesk.agents import passwords, services
from helpdesk.errors import Invalid, NotFound
from helpdesk.web.pages import content_security_policy

bp = Blueprint("password", __name__)
bp.after_request(content_security_policy)


def _no_referrer(response):
    """The token is in the URL: never hand it on to another site."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


bp.after_request(_no_referrer)


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """Show the form; on a good password, set it and log the agent in."""
    link = passwords.usable(token)
    if link is None:
        return render_template("settings/password_gone.html"), 404
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            agent = passwords.redeem(
                token, request.form.get("password", ""), request.form.get("confirm", "")
            )
        except NotFound:
            return render_template("settings/password_gone.html"), 404
        except Invalid as exc:
            errors = {k: str(v) for k, v in exc.fields.items()}
        else:
            unit_of_work.commit()
            logout_user()  # whoever was signed in in this browser
            login_user(agent)
            return redirect(url_for("inbox.inbox"))
    return render_template(
        "settings/password.html", link=link, errors=errors, min_length=services.MIN_PASSWORD
    ), 422 if errors else 200
