"""Transferring a live Twilio call to another agent or to a team.

The caller's leg gets new TwiML through Twilio's REST API (``Calls/SID`` update): the
<Dial> to the current agent ends and the TwiML built here rings the target: the agent
(their own phone or their browser, as ``voice.ring`` does), or the team's online agents
who are not on a call; a team whose agents are all busy queues the caller; nobody to
take it means the number's voicemail. Who answers comes back to the status webhook.
"""

from __future__ import annotations

from flask_babel import gettext as _
from twilio.base.exceptions import TwilioException
from twilio.twiml.voice_response import VoiceResponse

from helpdesk.agents import access
from helpdesk.agents.models import Agent, Team
from helpdesk.channels.phone import calls
from helpdesk.channels.twilio import voice
from helpdesk.channels.twilio.common import rest_client
from helpdesk.customers.models import Customer
from helpdesk.errors import Conflict, Invalid
from helpdesk.extensions import db
from helpdesk.tickets.models import Call


def twiml(call: Call, agent: Agent | None = None, team: Team | None = None) -> VoiceResponse:
    """The TwiML that rings ``agent`` or ``team`` for ``call``'s caller (account managers
    only when the caller is theirs, as for a new call)."""
    caller = db.session.get(Customer, call.customer_id) if call.customer_id else None
    managers = access.managers(caller)
    response = VoiceResponse()
    if agent is not None:
        online, _anyone = voice.online_agents(None, managers)
        targets = [(i, phone) for i, phone in online if i == agent.id]
        anyone = False
    else:
        assert team is not None
        targets, anyone = voice.online_agents(team.id, managers)
    if targets:
        dial = response.dial(
            timeout=voice.RING_SECONDS,
            action=voice.STATUS_PATH,
            method="POST",
            answer_on_bridge=True,
        )
        for agent_id, phone in targets[: voice.MAX_DIAL]:
            voice.ring(dial, agent_id, phone)
    elif anyone and team is not None:
        response.enqueue(f"team-{team.id}", action=voice.STATUS_PATH, method="POST")
    else:
        voice.voicemail(response, voice.number_settings(call))
    return response


def transfer(call: Call, agent_id: int | None = None, team_id: int | None = None) -> str:
    """Move ``call`` (a live Twilio call) to an agent or a team; answer the TwiML sent.
    Invalid for an unknown target, Conflict for a call that is over or not Twilio's."""
    if (agent_id is None) == (team_id is None):
        raise Invalid(_("Name an agent or a team."), fields={"agent": "one of agent, team"})
    if call.provider != voice.PROVIDER or call.status in calls.FINAL:
        raise Conflict(_("This call cannot be transferred."), fields={"status": call.status})
    agent = db.session.get(Agent, agent_id) if agent_id is not None else None
    team = db.session.get(Team, team_id) if team_id is not None else None
    if agent_id is not None and (agent is None or not agent.active):
        raise Invalid(_("No such agent."), fields={"agent": "unknown id"})
    if team_id is not None and team is None:
        raise Invalid(_("No such team."), fields={"team": "unknown id"})
    document = str(twiml(call, agent, team))
    try:
        rest_client().calls(call.provider_id).update(twiml=document)
    except TwilioException as exc:
        raise Conflict(_("Twilio refused the transfer."), fields={"twilio": str(exc)}) from exc
    return document
