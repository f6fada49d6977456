"""What every agent UI blueprint shares: a login, the Content-Security-Policy, 404s for
ids that cannot exist, and URL arguments through the API's parser (web/args.py: no NUL
characters, integers within bounds, a 422 in the JSON error shape otherwise)."""

from __future__ import annotations

from typing import TypeVar

from flask import Blueprint, Response, abort
from flask_login import login_required

from helpdesk.web.args import get_row, page_number, refuse_unstorable_url

T = TypeVar("T")
__all__ = ["get_or_404", "page_blueprint", "page_number"]
# Inbound HTML is cleaned, framed and sandboxed; this is the last line behind that.
# The browser softphone (static/softphone.js, Twilio's Voice SDK) signals over
# wss://voice-js.*.twilio.com (allowed by wss:), posts call quality events to
# https://eventgw.*.twilio.com and plays its ring and dial tones from
# https://sdk.twilio.com; the call's audio itself is WebRTC, which CSP does not govern.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https: http:; "
    "connect-src 'self' ws: wss: https://*.twilio.com; "
    "media-src 'self' blob: https://sdk.twilio.com; frame-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def page_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint of agent UI pages: every page needs a logged-in agent, and every HTML
    answer allows only the app's own scripts."""
    blueprint = Blueprint(name, import_name)
    blueprint.before_request(_login_required)
    blueprint.before_request(refuse_unstorable_url)
    blueprint.after_request(content_security_policy)
    return blueprint


@login_required  # type: ignore[untyped-decorator]  # Flask-Login ships no type hints
def _login_required() -> None:
    """Every page of these blueprints needs a logged-in agent."""


def content_security_policy(response: Response) -> Response:
    """Send the Content-Security-Policy with every HTML page (no page of ours may be
    framed: frame-ancestors 'none', and X-Frame-Options for browsers without CSP)."""
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def get_or_404(model: type[T], ident: int) -> T:
    """The row of ``model`` with id ``ident``, or a 404 page."""
    item = get_row(model, ident)
    if item is None:
        abort(404)
    return item
