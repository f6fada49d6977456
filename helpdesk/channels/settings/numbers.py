"""``/settings/phone-numbers``: the Twilio numbers whose SMS and calls become tickets, and
the team each belongs to; add, edit, remove (``twilio.numbers``, as ``helpdesk phone``)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from helpdesk import unit_of_work
from helpdesk.channels.models import Channel
from helpdesk.channels.settings.pages import bp, chosen_team, team_choices, text
from helpdesk.channels.twilio import numbers
from helpdesk.channels.twilio.common import PHONE
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.web.pages import get_or_404

FIELDS = ("number", "name", "team", *numbers.OPTIONS)


def _number_or_404(channel_id: int) -> Channel:
    """The phone number with that id; 404 for any other channel."""
    channel = get_or_404(Channel, channel_id)
    if channel.kind != PHONE:
        abort(404)
    return channel


@bp.get("/settings/phone-numbers")
def number_list():
    """Every phone number with its team and hours."""
    return render_template("settings/phone_numbers.html", numbers=numbers.numbers())


def _form(channel: Channel | None, error: Invalid | None = None):
    """The add or edit form (the posted values again after an error)."""
    settings = (channel.settings or {}) if channel is not None else {}
    values = {
        "number": channel.address if channel else "",
        "name": channel.name if channel else "",
        "team": str(channel.team_id or "") if channel else "",
        **{key: settings.get(key, "") for key in numbers.OPTIONS},
    }
    if request.method == "POST":
        values.update({k: v for k, v in request.form.items() if k in FIELDS})
    return render_template(
        "settings/phone_number.html",
        channel=channel,
        values=values,
        error=error,
        teams=team_choices(),
    )


def _save(channel: Channel | None):
    """Validate and save; the form again on error."""
    try:
        with unit_of_work.write_phase():
            saved = numbers.save_number(
                channel,
                text("number", 40),
                text("name", 200),
                chosen_team(),
                {key: text(key, 600) for key in numbers.OPTIONS},
                replace=True,
            )
            unit_of_work.commit()
    except Invalid as exc:
        db.session.rollback()
        return _form(channel, exc), 422
    flash(_("Phone number %(number)s saved.", number=saved.address))
    return redirect(url_for("channel_settings.number_list"))


@bp.route("/settings/phone-numbers/new", methods=["GET", "POST"])
def new_number():
    """Add a Twilio number."""
    return _save(None) if request.method == "POST" else _form(None)


@bp.route("/settings/phone-numbers/<int:channel_id>", methods=["GET", "POST"])
def edit_number(channel_id: int):
    """Change a number's name, team, hours, language or greeting."""
    channel = _number_or_404(channel_id)
    return _save(channel) if request.method == "POST" else _form(channel)


@bp.post("/settings/phone-numbers/<int:channel_id>/delete")
def remove_number(channel_id: int):
    """Remove a number: its SMS and calls are no longer taken; its tickets stay."""
    with unit_of_work.write_phase():
        channel = _number_or_404(channel_id)
        address = channel.address
        numbers.remove_number(channel)
        unit_of_work.commit()
    flash(_("Phone number %(number)s removed.", number=address))
    return redirect(url_for("channel_settings.number_list"))
