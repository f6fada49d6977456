"""``GET /attachments/ID``: a file of a message, for an agent who may see its ticket
(the session, or a bearer token as for the API); 404 for everyone else, as for an id
that does not exist.

Only a raster image whose bytes are what its type says, and audio (a voicemail plays in
the ticket), are shown inline; everything else (HTML, SVG, PDF, anything) is a download,
of a neutral type when a browser could run it. ``nosniff`` and a policy that allows
nothing keep a browser from reading more into it."""

from __future__ import annotations

import io

from flask import Blueprint, Response, abort, g, send_file
from flask_login import current_user

from helpdesk.agents import access
from helpdesk.agents.auth import api_agent
from helpdesk.extensions import db, login_manager
from helpdesk.files.uploads import is_raster, safe_filename
from helpdesk.tickets import attachments
from helpdesk.tickets.models import Attachment
from helpdesk.web.args import MAX_ID

bp = Blueprint("files", __name__)
# Types a browser would render and run in our origin if they were shown.
ACTIVE = ("html", "xml", "svg", "javascript", "ecmascript", "xhtml")
POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
# Sound a browser only plays (a voicemail, a recorded call): inline, for <audio>.
AUDIO = ("audio/mpeg", "audio/wav", "audio/x-wav", "audio/ogg", "audio/webm", "audio/mp4")


@bp.before_request
def _agent():
    """The calling agent (session or bearer token), or the login page."""
    agent = api_agent("api")
    if agent is None:
        if current_user.is_authenticated:
            abort(404)
        return login_manager.unauthorized()
    g.agent = agent
    return None


def _served_type(attachment: Attachment, head: bytes) -> tuple[str, bool]:
    """The Content-Type to send and whether the file is shown inline."""
    kind = (attachment.content_type or "application/octet-stream").lower()
    if is_raster(kind, head) or kind in AUDIO:
        return kind, True
    if any(word in kind for word in ACTIVE) or not kind.isascii():
        return "application/octet-stream", False
    return kind, False


@bp.get("/attachments/<int:attachment_id>")
def download(attachment_id: int):
    """The attachment's content: inline for a raster image or audio, a download otherwise."""
    attachment = db.session.get(Attachment, attachment_id) if attachment_id <= MAX_ID else None
    if (
        attachment is None
        or attachment.sha256 is None
        or not access.can_see_attachment(g.agent, attachment)
    ):
        abort(404)
    return serve(attachment)


def serve(attachment: Attachment) -> Response:
    """The stored content of ``attachment`` with the headers that keep it inert."""
    assert attachment.sha256 is not None  # callers serve stored files only
    path = attachments.path_of(attachment.sha256)
    if not path.exists():
        abort(404)
    content = path.read_bytes()  # (a stream left to the server may never be closed)
    mimetype, inline = _served_type(attachment, content[:16])
    response = send_file(
        io.BytesIO(content),
        mimetype=mimetype,
        as_attachment=not inline,
        download_name=safe_filename(attachment.filename),
        etag=attachment.sha256,
        max_age=3600,
        conditional=True,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Frame-Options"] = "DENY"
    return response
