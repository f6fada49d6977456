"""The browser softphone's Twilio access tokens (``GET /api/v1/voice/token``).

An agent's browser registers a Twilio Voice SDK ``Device`` under the identity the voice
TwiML rings (``agent_<id>``, ``voice.identity``). Twilio accepts the registration with a
short-lived access token: an HS256 JWT signed with an API key's secret
(``TWILIO_API_SECRET``, issuer ``TWILIO_API_KEY``) carrying a VoiceGrant that lets the
identity take incoming calls and place outgoing ones through the TwiML App
``TWILIO_TWIML_APP_SID``. The page fetches a new token before the old one expires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from flask_login import current_user
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from helpdesk.agents.models import Agent
from helpdesk.channels.twilio.voice import identity
from helpdesk.errors import Conflict

TTL = 3600  # seconds; Twilio allows up to 24 hours, the page refreshes before the end
SETTINGS = ("TWILIO_ACCOUNT_SID", "TWILIO_API_KEY", "TWILIO_API_SECRET", "TWILIO_TWIML_APP_SID")


@dataclass(frozen=True)
class VoiceToken:
    """An access token for one agent's softphone, and when it expires (Unix seconds)."""

    token: str
    identity: str
    expires_at: int


def configured() -> bool:
    """Whether the settings the softphone needs are all there."""
    return all(current_app.config.get(name) for name in SETTINGS)


def wanted() -> bool:
    """Whether the page loads the softphone for the logged-in agent: voice is set up and
    their calls ring the browser (not their own phone number)."""
    return configured() and current_user.is_authenticated and not current_user.phone


def token_for(agent: Agent) -> VoiceToken:
    """A fresh access token for ``agent``'s softphone; Conflict when voice is not set up."""
    missing = [name for name in SETTINGS if not current_app.config.get(name)]
    if missing:
        raise Conflict(
            _("The browser phone is not set up: %(names)s missing.", names=", ".join(missing)),
            code="voice_not_configured",
            fields={name: "not configured" for name in missing},
        )
    config = current_app.config
    expires_at = int(time.time()) + TTL
    who = identity(agent.id)
    token = AccessToken(
        config["TWILIO_ACCOUNT_SID"],
        config["TWILIO_API_KEY"],
        config["TWILIO_API_SECRET"],
        identity=who,
        valid_until=expires_at,
    )
    token.add_grant(
        VoiceGrant(outgoing_application_sid=config["TWILIO_TWIML_APP_SID"], incoming_allow=True)
    )
    return VoiceToken(token.to_jwt(), who, expires_at)
