"""Which phone an incoming call rings: an agent's own number (<Dial><Number>) or their
browser softphone (<Dial><Client>), set by admins in the API and on the agent's settings
form; and who answered, from the callback of the leg that rang them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from helpdesk.agents.models import Agent
from helpdesk.extensions import db
from helpdesk.tickets.models import Call
from tests.fixtures.agents import login
from tests.fixtures.twilio import ACCOUNT, call_params, post_signed, twilio_config

VOICE = "/webhooks/twilio/voice"
STATUS = "/webhooks/twilio/voice/status"
CALLER = "+49301234567"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app_config(twilio_api):
    return twilio_config(twilio_api)


def dial_of(response) -> ET.Element:
    assert response.status_code == 200, response.data
    root = ET.fromstring(response.data)
    assert [child.tag for child in root] == ["Say", "Dial"]
    return root.find("Dial")


def test_an_agents_own_number_rings_beside_the_browsers_of_the_others(client, office, api):
    sam = office.sam
    sam.presence = "online"
    db.session.commit()
    response = api.patch(f"/api/v1/agents/{office.pat.id}", json={"phone": "0151 2345 678"})
    assert response.status_code == 200, response.json
    assert response.json["phone"] == "+491512345678"

    params = call_params(CALLER)
    dial = dial_of(post_signed(client, VOICE, params))
    assert dial.get("answerOnBridge") == "true" and dial.get("timeout") == "20"
    number, client_noun = list(dial)
    assert (number.tag, number.text) == ("Number", "+491512345678")
    assert number.get("statusCallback") == f"{STATUS}?agent={office.pat.id}"
    assert number.get("statusCallbackEvent") == "answered"
    assert (client_noun.tag, client_noun.text) == ("Client", f"agent_{sam.id}")
    assert client_noun.get("statusCallback") == STATUS

    # Pat picks up their mobile: the leg's To is the number, the agent is in the URL.
    leg = {
        "CallSid": "CAleg1",
        "ParentCallSid": params["CallSid"],
        "AccountSid": ACCOUNT,
        "From": CALLER,
        "To": "+491512345678",
        "CallStatus": "in-progress",
        "Direction": "outbound-dial",
    }
    assert post_signed(client, f"{STATUS}?agent={office.pat.id}", leg).status_code == 200
    db.session.expire_all()
    call = db.session.execute(select(Call)).scalar_one()
    assert (call.status, call.agent_id) == ("in-progress", office.pat.id)

    # Pat is on a call now: the next caller rings only Sam's browser.
    dial = dial_of(post_signed(client, VOICE, call_params("+49301111111")))
    assert [(n.tag, n.text) for n in dial] == [("Client", f"agent_{sam.id}")]


def test_a_cleared_number_rings_the_browser_again_and_nonsense_is_refused(client, office, api):
    url = f"/api/v1/agents/{office.pat.id}"
    refused = api.patch(url, json={"phone": "call me maybe"})
    assert refused.status_code == 422 and "phone" in refused.json["error"]["fields"]
    assert api.patch(url, json={"phone": "+49 151 2345678"}).json["phone"] == "+491512345678"
    assert api.patch(url, json={"phone": ""}).json["phone"] is None
    dial = dial_of(post_signed(client, VOICE, call_params(CALLER)))
    assert [(n.tag, n.text) for n in dial] == [("Client", f"agent_{office.pat.id}")]


def test_admins_set_the_number_on_the_agents_form(app, web_app, office, admin):
    web = login(web_app.test_client(), admin.email)
    path = f"/settings/agents/{office.pat.id}"
    page = web.get(path).get_data(as_text=True)
    assert 'name="phone"' in page

    def save(phone):
        token = _CSRF.search(web.get(path).get_data(as_text=True)).group(1)
        form = {"name": "Pat", "role": "agent", "capacity": "20", "phone": phone}
        return web.post(path, data={**form, "csrf_token": token})

    refused = save("not a number")
    assert refused.status_code == 422
    assert 'id="error-phone"' in refused.get_data(as_text=True)
    assert save("030 9876543").status_code == 302
    db.session.rollback()
    assert db.session.get(Agent, office.pat.id).phone == "+49309876543"
    assert 'value="+49309876543"' in web.get(path).get_data(as_text=True)


def test_a_live_call_moves_to_an_agent_or_a_team_or_their_voicemail(
    client, office, api, twilio_api, make_agent
):
    params = call_params(CALLER)
    post_signed(client, VOICE, params)
    leg = {
        "CallSid": "CAleg2",
        "ParentCallSid": params["CallSid"],
        "AccountSid": ACCOUNT,
        "From": CALLER,
        "To": f"client:agent_{office.pat.id}",
        "CallStatus": "in-progress",
        "Direction": "outbound-dial",
    }
    post_signed(client, STATUS, leg)  # Pat took it in the browser
    office.sam.presence = "online"
    office.sam.phone = "+491709876543"
    db.session.commit()
    call = db.session.execute(select(Call)).scalar_one()
    url = f"/api/v1/calls/{call.id}/transfer"

    moved = api.post(url, json={"agent": office.sam.id})
    assert moved.status_code == 200, moved.json
    [number] = ET.fromstring(moved.json["twiml"]).find("Dial")
    assert (number.tag, number.text) == ("Number", "+491709876543")
    assert number.get("statusCallback") == f"{STATUS}?agent={office.sam.id}"
    [update] = twilio_api.call_updates()  # the caller's leg follows the new TwiML
    assert update.path.endswith(f"/Calls/{params['CallSid']}.json")
    assert update.form["Twiml"] == [moved.json["twiml"]]

    # The team: Pat is on this call, so only Sam rings.
    dial = ET.fromstring(api.post(url, json={"team": office.team.id}).json["twiml"]).find("Dial")
    assert [(n.tag, n.text) for n in dial] == [("Number", "+491709876543")]
    # A team with nobody online, or an agent who is away: the number's voicemail.
    night = make_agent("nora@example.com", teams=["Nights"])
    night_team = night.teams[0].id
    for body in ({"team": night_team}, {"agent": night.id}):
        root = ET.fromstring(api.post(url, json=body).json["twiml"])
        assert [child.tag for child in root][:2] == ["Say", "Record"], body

    for body in ({}, {"agent": office.sam.id, "team": night_team}, {"agent": 999999}):
        assert api.post(url, json=body).status_code == 422, body
    call.status = "completed"
    db.session.commit()
    over = api.post(url, json={"agent": office.sam.id})
    assert over.status_code == 409 and over.json["error"]["fields"]["status"] == "completed"
    assert len(twilio_api.call_updates()) == 4  # nothing sent for a refused transfer
