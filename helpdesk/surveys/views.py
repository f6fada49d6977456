"""The public survey page: ``/survey/TOKEN`` asks for a rating (1 to 5) and a comment,
in the customer's language; ``POST /survey/TOKEN`` (``rating``, ``comment``) stores
them once. The unguessable token in the path is the only proof (no login, no session:
no CSRF token either); an unknown token answers 404, an answered or expired one says so."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from helpdesk import unit_of_work
from helpdesk.db import utcnow
from helpdesk.errors import Conflict, Invalid
from helpdesk.extensions import csrf, db
from helpdesk.surveys import services
from helpdesk.surveys.texts import texts
from helpdesk.web.args import refuse_unstorable_url
from helpdesk.web.pages import content_security_policy

bp = Blueprint("surveys", __name__)
bp.before_request(refuse_unstorable_url)
bp.after_request(content_security_policy)


def _page(survey, status: int = 200, problem: str | None = None):
    """The survey page in its state: the form, the thanks, or closed."""
    now = utcnow()
    state = "answered" if survey.answered_at else ("open" if survey.open(now) else "expired")
    strings = texts(survey.language)
    return (
        render_template("survey.html", survey=survey, state=state, t=strings, problem=problem),
        status,
    )


@bp.get("/survey/<token>")
def survey_page(token: str):
    """The survey's form (or its thanks, or that it closed)."""
    return _page(services.by_token(token))


@bp.post("/survey/<token>")
@csrf.exempt  # the token in the path is the proof; there is no session to protect
def answer(token: str):
    """Store the rating and comment; the page then thanks."""
    survey = services.by_token(token)
    try:
        with unit_of_work.write_phase():
            services.answer(survey, request.form.get("rating", ""), request.form.get("comment"))
            unit_of_work.commit()
    except Invalid as exc:
        db.session.rollback()
        return _page(survey, 422, exc.message)
    except Conflict:
        db.session.rollback()
        return _page(survey, 409)
    return _page(survey)
