"""Transferring a live Twilio call to another agent or to a team, and holding it.

The caller's leg gets new TwiML through Twilio's REST API (``Calls/SID`` update): the
<Dial> to the current agent ends and the TwiML built here rings the target: the agent
(their own phone or their browser, as ``voice.ring`` does), or the team's online agents
who are not on a call; a team whose agents are all busy queues the caller; nobody to
take it means the number's voicemail. Who answers comes back to the status webhook.

Hold works the same way, as Twilio documents for calls outside a conference: the
customer's leg is redirected into a queue of its own (``<Enqueue>hold-ID``: Twilio's hold
music), which ends the agent's leg; resume redirects it to a <Dial> that rings the agent
who held it again. The customer's leg is the caller's call of an incoming call, and of
our own call the leg we dialled (``meta["leg"]``, from its status callback).
"""

from __future__ import annotations

from flask_babel import gettext as _
from twilio.base.exceptions import TwilioException
from twilio.twiml.voice_response import VoiceResponse

from helpdesk import realtime
from helpdesk.agents import access
from helpdesk.agents.models import Agent, Team
from helpdesk.channels.phone import calls
from helpdesk.channels.twilio import voice
from helpdesk.channels.twilio.common import rest_client
from helpdesk.customers.models import Customer
from helpdesk.db import utcnow
from helpdesk.errors import Conflict, Invalid
from helpdesk.extensions import db
from helpdesk.tickets.models import Call
from helpdesk.tickets.serializers import call_json


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
        dial = response.dial(**voice.dial_options())
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
    _redirect(customer_leg(call), document, _("Twilio refused the transfer."))
    if call.direction == "out":  # the agent's leg ends: not the end of the call
        call.meta = {**(call.meta or {}), "moved": True}
    if (call.meta or {}).get("hold") or call.direction == "out":
        _set_hold(call, None)
    return document


def customer_leg(call: Call) -> str:
    """The Twilio call SID of the customer's leg (what transfer and hold move)."""
    if call.direction != "out":
        return call.provider_id
    leg = (call.meta or {}).get("leg")
    if not leg:  # our own call, not answered yet: nothing to move
        raise Conflict(_("This call is not answered yet."), fields={"status": call.status})
    return str(leg)


def _redirect(leg: str, document: str, refused: str) -> None:
    """Have Twilio run ``document`` on the live call ``leg``; Conflict when it refuses."""
    try:
        rest_client().calls(leg).update(twiml=document)
    except TwilioException as exc:
        raise Conflict(refused, fields={"twilio": str(exc)}) from exc


def _live(call: Call) -> None:
    """Conflict unless ``call`` is a Twilio call someone is talking in."""
    if call.provider != voice.PROVIDER or call.status != "in-progress":
        raise Conflict(_("This call cannot be put on hold."), fields={"status": call.status})


def _set_hold(call: Call, hold: dict | None) -> None:
    """Record (or clear) that ``call`` is on hold, and tell the screens after the commit."""
    meta = {k: v for k, v in (call.meta or {}).items() if k != "hold"}
    call.meta = {**meta, "hold": hold} if hold else meta
    db.session.flush()
    realtime.emit_after_commit("call.updated", {"call": call_json(call)}, calls.rooms(call))


def hold_twiml(call: Call) -> VoiceResponse:
    """The caller waits in a queue of this call's own, to Twilio's hold music."""
    response = VoiceResponse()
    response.enqueue(f"hold-{call.id}")
    return response


def resume_twiml(call: Call, agent: Agent) -> VoiceResponse:
    """Ring the agent who put the call on hold again (their phone or their browser)."""
    response = VoiceResponse()
    dial = response.dial(**voice.dial_options())
    voice.ring(dial, agent.id, agent.phone)
    return response


def hold(call: Call, agent: Agent) -> str:
    """Put ``call``'s customer on hold for ``agent``; answer the TwiML sent. Holding a
    call already on hold changes nothing."""
    if (call.meta or {}).get("hold"):
        return str(hold_twiml(call))
    _live(call)
    document = str(hold_twiml(call))
    _redirect(customer_leg(call), document, _("Twilio refused to hold the call."))
    _set_hold(call, {"agent_id": agent.id, "since": utcnow().isoformat()})
    return document


def resume(call: Call) -> str:
    """Take ``call`` off hold: ring the agent who held it; answer the TwiML sent."""
    hold_info = (call.meta or {}).get("hold")
    if not hold_info or call.status in calls.FINAL:
        raise Conflict(_("This call is not on hold."), fields={"status": call.status})
    agent = db.session.get(Agent, hold_info.get("agent_id"))
    if agent is None:
        raise Conflict(_("This call is not on hold."), fields={"agent": "gone"})
    document = str(resume_twiml(call, agent))
    _redirect(customer_leg(call), document, _("Twilio refused to resume the call."))
    _set_hold(call, None)
    return document
