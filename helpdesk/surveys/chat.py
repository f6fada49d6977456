"""The survey inside the chat widget: the question carries 1-5 rating buttons and a
comment box (``prompt``, part of the message the visitor receives), and the visitor's
click comes back over the ``/chat`` namespace (``rating``) to ``services.answer``.

A visitor may answer only the survey of a conversation they started on that chat
channel (the survey's ticket's contact is their visitor id); anything else is 404.
"""

from __future__ import annotations

from typing import Any

from helpdesk.db import utcnow
from helpdesk.errors import Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.surveys import services
from helpdesk.surveys.models import Survey
from helpdesk.surveys.texts import texts


def prompt(survey_id: Any) -> dict[str, Any] | None:
    """What the widget draws under the survey's question: whether it still takes an
    answer, the rating given, and the labels in the customer's language."""
    survey = db.session.get(Survey, survey_id) if isinstance(survey_id, int) else None
    if survey is None or survey.channel != "chat":
        return None
    strings = texts(survey.language)
    return {
        "id": survey.id,
        "open": survey.open(utcnow()),
        "rating": survey.rating,
        "labels": strings["labels"],
        "comment": strings["comment"],
        "send": strings["send"],
        "thanks": strings["thanks"],
        "expired": strings["expired"],
    }


def rating(
    visitor: str, channel_id: int, survey_id: Any, value: Any, comment: Any
) -> dict[str, Any]:
    """A visitor rated in the widget: stored like any answer (``services.answer``);
    flushes. The thanks to show in place of the buttons."""
    if not isinstance(survey_id, int) or isinstance(survey_id, bool):
        raise Invalid("which survey?", fields={"survey": "a survey id"})
    if comment is not None and not isinstance(comment, str):
        raise Invalid("a comment is text", fields={"comment": "text"})
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid("rate from 1 to 5", fields={"rating": "a whole number from 1 to 5"})
    survey = db.session.get(Survey, survey_id)
    ticket = survey.ticket if survey is not None else None
    if (
        survey is None
        or ticket is None
        or survey.channel != "chat"
        or ticket.contact != visitor
        or ticket.channel_id != channel_id
    ):
        raise NotFound("no such survey")
    services.answer(survey, value, comment)
    return {"ok": True, "rating": survey.rating, "thanks": texts(survey.language)["thanks"]}
