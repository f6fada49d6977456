"""``/settings/chat-widgets``: the website chat widgets: the websites allowed to embed
each, its greeting, offline text and colours, the snippet to copy, and the identity
secret, shown once when the widget is made and each time it is rotated
(``chat.widgets``, as ``helpdesk chat``)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from helpdesk import unit_of_work
from helpdesk.channels.chat import widgets
from helpdesk.channels.models import Channel
from helpdesk.channels.settings.pages import bp, chosen_team, team_choices, text
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.web.pages import get_or_404

FIELDS = ("name", "team", "origins", "greeting", "offline_message", "color", "text_color")


def _widget_or_404(channel_id: int) -> Channel:
    """The chat widget with that id; 404 for any other channel."""
    channel = get_or_404(Channel, channel_id)
    if channel.kind != widgets.CHAT:
        abort(404)
    return channel


def _base() -> str:
    """The helpdesk's address as websites reach it (HELPDESK_PUBLIC_URL, else this one)."""
    return current_app.config.get("PUBLIC_URL") or request.url_root


@bp.get("/settings/chat-widgets")
def widget_list():
    """Every chat widget with its websites and team."""
    return render_template("settings/chat_widgets.html", widgets=widgets.widgets())


def _form(channel: Channel | None, error: Invalid | None = None, secret: str | None = None):
    """The add or edit form, the snippet, and a secret just made (``no-store``)."""
    settings = (channel.settings or {}) if channel is not None else {}
    values = {
        "name": channel.name if channel else "",
        "team": str(channel.team_id or "") if channel else "",
        "origins": "\n".join(settings.get("origins", [])),
        "greeting": settings.get("greeting", widgets.GREETING),
        "offline_message": settings.get("offline_message", widgets.OFFLINE),
        "color": settings.get("color", widgets.COLOR),
        "text_color": settings.get("text_color", widgets.TEXT_COLOR),
    }
    if request.method == "POST" and error is not None:
        values.update({k: v for k, v in request.form.items() if k in FIELDS})
    response = current_app.make_response(
        render_template(
            "settings/chat_widget.html",
            channel=channel,
            values=values,
            error=error,
            secret=secret,
            snippet=widgets.snippet(channel, _base()) if channel is not None else None,
            teams=team_choices(),
        )
    )
    response.headers["Cache-Control"] = "no-store"  # a secret may be on it
    return response


def _save(channel: Channel | None):
    """Validate and save; a new widget's page shows its identity secret once."""
    try:
        with unit_of_work.write_phase():
            saved, secret = widgets.save_widget(
                channel,
                text("name", 200),
                text("origins", 4000).split(),
                text("greeting", 2000),
                text("offline_message", 2000),
                team=chosen_team(),
                color=text("color", 20),
                text_color=text("text_color", 20),
            )
            unit_of_work.commit()
    except Invalid as exc:
        db.session.rollback()
        response = _form(channel, exc)
        response.status_code = 422
        return response
    if secret is not None:  # shown here once, never again
        flash(_("Chat widget %(name)s created.", name=saved.name))
        return _form(saved, secret=secret)
    flash(_("Chat widget %(name)s saved.", name=saved.name))
    return redirect(url_for("channel_settings.widget_list"))


@bp.route("/settings/chat-widgets/new", methods=["GET", "POST"])
def new_widget():
    """Add a chat widget."""
    return _save(None) if request.method == "POST" else _form(None)


@bp.route("/settings/chat-widgets/<int:channel_id>", methods=["GET", "POST"])
def edit_widget(channel_id: int):
    """Change a widget's websites, texts, colours or team; its snippet to copy."""
    channel = _widget_or_404(channel_id)
    return _save(channel) if request.method == "POST" else _form(channel)


@bp.post("/settings/chat-widgets/<int:channel_id>/rotate-secret")
def rotate_secret(channel_id: int):
    """A new identity secret, shown on the answer only; the old one stops working."""
    with unit_of_work.write_phase():
        channel = _widget_or_404(channel_id)
        secret = widgets.rotate_secret(channel)
        unit_of_work.commit()
    return _form(channel, secret=secret)
