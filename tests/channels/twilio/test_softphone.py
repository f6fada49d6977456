"""The browser softphone's access token (GET /api/v1/voice/token): a Twilio access token
that Twilio would accept, for the identity the voice TwiML rings."""

from __future__ import annotations

import time

import jwt
import pytest

from helpdesk.channels.twilio import voice
from tests.fixtures.agents import login
from tests.fixtures.twilio import ACCOUNT, twilio_config

TOKEN_URL = "/api/v1/voice/token"
API_KEY = "SK" + "0123456789abcdef" * 2
API_SECRET = "softphone-api-key-secret-32-chars"  # Twilio's are 32 characters
APP_SID = "AP" + "fedcba9876543210" * 2


def softphone_config(twilio_api) -> dict:
    """A Twilio account with an API key and a TwiML App: the softphone is set up."""
    return twilio_config(
        twilio_api,
        TWILIO_API_KEY=API_KEY,
        TWILIO_API_SECRET=API_SECRET,
        TWILIO_TWIML_APP_SID=APP_SID,
    )


@pytest.fixture
def app_config(twilio_api):
    return softphone_config(twilio_api)


def test_a_logged_in_agent_gets_a_token_twilio_accepts_for_their_identity(client, make_agent):
    pat = make_agent("pat@example.com", name="Pat")
    login(client, pat.email)
    before = int(time.time())
    response = client.get(TOKEN_URL)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["identity"] == voice.identity(pat.id) == f"agent_{pat.id}"
    # Verified with the API key's secret, as Twilio does; a forged secret does not pass.
    claims = jwt.decode(body["token"], API_SECRET, algorithms=["HS256"])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(body["token"], "another-secret-of-thirty-two-chars", algorithms=["HS256"])
    assert jwt.get_unverified_header(body["token"])["cty"] == "twilio-fpa;v=1"
    assert claims["iss"] == API_KEY and claims["sub"] == ACCOUNT
    assert claims["exp"] == body["expires_at"]
    assert before + 3000 < body["expires_at"] <= int(time.time()) + 3600
    assert claims["grants"] == {
        "identity": f"agent_{pat.id}",
        "voice": {"incoming": {"allow": True}, "outgoing": {"application_sid": APP_SID}},
    }


def test_an_api_token_gets_its_agents_identity_and_nobody_else_gets_one(
    app, client, make_agent, api_as
):
    sam = make_agent("sam@example.com", name="Sam")
    body = api_as(sam).get(TOKEN_URL).json
    assert body["identity"] == f"agent_{sam.id}"
    refused = app.test_client().get(TOKEN_URL)
    assert refused.status_code == 401 and "token" not in refused.json


def test_without_voice_settings_the_token_is_refused_naming_them(app, client, make_agent, api_as):
    app.config["TWILIO_API_SECRET"] = None
    app.config["TWILIO_TWIML_APP_SID"] = ""
    response = api_as(make_agent()).get(TOKEN_URL)
    assert response.status_code == 409, response.json
    error = response.json["error"]
    assert error["code"] == "voice_not_configured"
    assert set(error["fields"]) == {"TWILIO_API_SECRET", "TWILIO_TWIML_APP_SID"}
