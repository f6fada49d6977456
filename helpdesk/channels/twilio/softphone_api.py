"""REST API v1 for the browser softphone: ``GET /voice/token``, the logged-in agent's own
Twilio access token (channels/twilio/softphone.py); ``POST /calls/ID/transfer``, a live
call moved to another agent or a team, ``POST /calls/ID/hold`` and ``/calls/ID/resume``
(channels/twilio/transfer.py)."""

from __future__ import annotations

from flask import g, jsonify

from helpdesk import unit_of_work
from helpdesk.agents import access
from helpdesk.channels.twilio import softphone, transfer
from helpdesk.customers.schemas import Id, Strict
from helpdesk.extensions import db
from helpdesk.tickets.models import Call
from helpdesk.tickets.schemas import CallOut
from helpdesk.tickets.serializers import call_json
from helpdesk.web.api import api_blueprint, parse_body
from helpdesk.web.openapi import Shape, documented

bp = api_blueprint("voice_api", __name__)


class TransferIn(Strict):
    """POST /calls/ID/transfer: the agent or the team to ring (exactly one)."""

    agent: Id | None = None
    team: Id | None = None


class TransferOut(Shape):
    """The call, and the TwiML its caller's leg now follows."""

    call: CallOut
    twiml: str


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


@bp.post("/calls/<int:call_id>/transfer")
@documented(TransferOut, body=TransferIn)
def transfer_call(call_id: int):
    """Move a live Twilio call to another agent (their phone or browser) or a team's
    available agents; nobody to take it: the number's voicemail. 409 for a call that is
    over or not Twilio's."""
    call = access.visible_call(g.agent, db.session.get(Call, call_id))
    body = parse_body(TransferIn)
    document = transfer.transfer(call, body.agent, body.team)
    unit_of_work.commit()
    return jsonify({"call": call_json(call), "twiml": document})


@bp.post("/calls/<int:call_id>/hold")
@documented(TransferOut)
def hold_call(call_id: int):
    """Put a live Twilio call's customer on hold (Twilio's hold music); the agent's leg
    ends until ``resume``. 409 for a call nobody is talking in."""
    call = access.visible_call(g.agent, db.session.get(Call, call_id))
    document = transfer.hold(call, g.agent)
    unit_of_work.commit()
    return jsonify({"call": call_json(call), "twiml": document})


@bp.post("/calls/<int:call_id>/resume")
@documented(TransferOut)
def resume_call(call_id: int):
    """Take a call off hold: ring the agent who held it again. 409 when not on hold."""
    call = access.visible_call(g.agent, db.session.get(Call, call_id))
    document = transfer.resume(call)
    unit_of_work.commit()
    return jsonify({"call": call_json(call), "twiml": document})
