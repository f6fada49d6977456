"""Live chat's pages: the widget script and the agents' try-it page."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request, send_from_directory
from flask_login import login_required

from helpdesk import i18n, unit_of_work
from helpdesk.channels.chat import identity, services
from helpdesk.channels.chat.services import WIDGET_DIR
from helpdesk.extensions import csrf
from helpdesk.files.views import serve

bp = Blueprint("chat", __name__)


@bp.get("/chat/widget.js")
def widget():
    """The embeddable widget (public: it runs on the company's own website)."""
    response = send_from_directory(WIDGET_DIR, "widget.js", mimetype="text/javascript", max_age=300)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/chat/texts")
def texts():
    """The widget's words in the visitor's language (``?lang=``, else Accept-Language);
    public like the widget, which asks for them before it draws itself."""
    language = i18n.visitor_language(request.args.get("lang"))
    response = jsonify(language=language, texts=i18n.widget_texts(language))
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Vary"] = "Accept-Language"
    response.cache_control.max_age = 300
    response.cache_control.public = True
    return response


@bp.get("/chat/try")
@login_required
def try_chat():
    """A page embedding the first chat widget, for agents to try it (login required)."""
    return render_template("chat_try.html", channel=services.first_widget())


@bp.get("/chat/confirm/<token>")
def confirm_page(token: str):
    """The link mailed to an address typed into the chat: a button, so that a mail
    scanner fetching the link confirms nothing. A bad link answers 400."""
    identity.check_token(token)
    return render_template("chat_confirm.html", token=token, done=False)


@bp.post("/chat/confirm/<token>")
@csrf.exempt  # the token in the path is the proof; there is no session to protect
def confirm(token: str):
    """The mailbox owner confirms: the visitor is tied to the address's customer."""
    with unit_of_work.write_phase():
        identity.confirm(token)
        unit_of_work.commit()
    return render_template("chat_confirm.html", token=token, done=True)


@bp.get("/chat/files/<token>")
def visitor_file(token: str):
    """A file of a chat conversation, by the signed link the widget was given (the link
    is the proof; served as agents get it: images inline, the rest a download)."""
    attachment = services.file_of(token[:500])
    if attachment is None:
        abort(404)
    response = serve(attachment)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


# ----- channels -----
