"""REST API v1 for the browser softphone: ``GET /voice/token``, the logged-in agent's own
Twilio access token (channels/twilio/softphone.py)."""

from __future__ import annotations

from flask import g, jsonify

from helpdesk.channels.twilio import softphone
from helpdesk.web.api import api_blueprint
from helpdesk.web.openapi import Shape, documented

bp = api_blueprint("voice_api", __name__)


class VoiceTokenOut(Shape):
    """A Twilio access token for the agent's softphone (a JWT), the identity the incoming
    calls ring, and when the token expires (Unix seconds)."""

    token: str
    identity: str
    expires_at: int


@bp.get("/voice/token")
@documented(VoiceTokenOut)
def voice_token():
    """A fresh access token for the agent's browser phone; 409 when voice is not set up."""
    made = softphone.token_for(g.agent)
    response = jsonify(
        {"token": made.token, "identity": made.identity, "expires_at": made.expires_at}
    )
    response.headers["Cache-Control"] = "no-store"  # a credential
    return response
