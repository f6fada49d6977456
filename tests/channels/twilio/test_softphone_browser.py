"""The browser softphone in the agent UI, with a stand-in for the Voice SDK's
``Twilio.Device`` injected before the page's scripts (Twilio's cloud is out of reach): the
page fetches a token and registers, renews it when told it will expire; an incoming call
pops the card, answer and hang up call the SDK, and the agent's presence is "on_call"
while the call is up, so the next caller does not ring them.
``HELPDESK_SCREENSHOTS=1`` writes the screenshot into docs/screenshots/."""

from __future__ import annotations

import base64
import json
import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests

from helpdesk.agents.models import Agent
from helpdesk.extensions import db
from tests.channels.twilio.test_calling import leg, outbound_params
from tests.channels.twilio.test_softphone import softphone_config
from tests.fixtures.browser import log_in, wait_for_socket
from tests.fixtures.twilio import OUR_NUMBER, call_params, sign

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.slow  # a browser against a live server
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
STAND_IN = """
(() => {
  class Emitter {
    constructor() { this.handlers = {}; }
    on(name, f) { (this.handlers[name] = this.handlers[name] || []).push(f); return this; }
    emit(name, ...args) { (this.handlers[name] || []).forEach((f) => f(...args)); }
  }
  const phone = window.__phone = {tokens: [], calls: [], registered: false, device: null};
  class Call extends Emitter {
    constructor() { super(); this.muted = false; this.actions = []; }
    accept() { this.actions.push("accept"); this.emit("accept", this); }
    reject() { this.actions.push("reject"); this.emit("reject"); }
    disconnect() { this.actions.push("disconnect"); this.emit("disconnect", this); }
    mute(on) { this.actions.push(on ? "mute" : "unmute"); this.muted = on; }
    isMuted() { return this.muted; }
  }
  class Device extends Emitter {
    constructor(token, options) { super(); phone.tokens.push(token); phone.device = this; }
    register() { phone.registered = true; return Promise.resolve(); }
    connect(options) {
      const call = new Call();
      call.params = options.params;
      phone.calls.push(call);
      phone.outgoing = call;
      return Promise.resolve(call);
    }
    updateToken(token) { phone.tokens.push(token); }
  }
  phone.ring = () => {
    const call = new Call();
    phone.calls.push(call);
    phone.device.emit("incoming", call);
  };
  window.Twilio = {Device};
})();
"""


@pytest.fixture
def app_config(twilio_api):
    return softphone_config(twilio_api)


def identity_in(token: str) -> str:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims["grants"]["identity"]


def ring_webhook(live_server: str, caller: str) -> ET.Element:
    return webhook(live_server, "/webhooks/twilio/voice", call_params(caller))


def webhook(live_server: str, path: str, params: dict) -> ET.Element:
    """POST ``params`` to one of our Twilio webhooks as Twilio does; the TwiML answer."""
    url = live_server + path
    response = requests.post(
        url, data=params, headers={"X-Twilio-Signature": sign(url, params)}, timeout=10
    )
    assert response.status_code == 200, response.text
    return ET.fromstring(response.text)


def wait_until(condition, timeout: float = 10.0) -> None:
    """Wait for ``condition()`` (something the live server does) to hold."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def presence_of(agent_id: int) -> str:
    db.session.rollback()  # the live server committed meanwhile
    return db.session.get(Agent, agent_id).presence


def test_an_agent_answers_a_call_in_the_browser(page, live_server, office, tmp_path):
    pat = office.pat
    page.add_init_script(STAND_IN)
    log_in(page, pat.email)
    wait_for_socket(page)
    page.wait_for_function("() => window.__phone.registered")
    [token] = page.evaluate("() => window.__phone.tokens")
    assert identity_in(token) == f"agent_{pat.id}"
    page.evaluate("() => window.__phone.device.emit('tokenWillExpire')")
    page.wait_for_function("() => window.__phone.tokens.length === 2")

    root = ring_webhook(live_server, "+49301234567")
    assert f"agent_{pat.id}" in [n.text for n in root.iter("Client")]
    popup = page.locator("#call-popup")
    expect(popup.locator(".caller-number")).to_have_text("+49301234567")
    page.evaluate("() => window.__phone.ring()")
    controls = popup.locator("#softphone")
    controls.locator("[data-action=answer]").click()
    expect(controls.locator("[data-action=hangup]")).to_be_visible()
    expect(page.locator("#my-presence-dot")).to_have_class("dot on_call")
    assert presence_of(pat.id) == "on_call"
    controls.locator("[data-action=mute]").click()
    expect(controls.locator("[data-action=mute]")).to_have_text("Unmute")
    shots = SCREENSHOTS if os.environ.get("HELPDESK_SCREENSHOTS") == "1" else tmp_path
    page.screenshot(path=str(shots / "softphone.png"))

    # On the call, the next caller does not ring Pat (nobody else is online: voicemail).
    second = ring_webhook(live_server, "+49309999999")
    assert not list(second.iter("Client")) and second.find("Record") is not None

    controls.locator("[data-action=hangup]").click()
    expect(page.locator("#my-presence-dot")).to_have_class("dot online")
    expect(controls.locator("[data-action=hangup]")).to_be_hidden()
    actions = page.evaluate("() => window.__phone.calls[0].actions")
    assert actions == ["accept", "mute", "disconnect"]
    assert presence_of(pat.id) == "online"
    assert not page.seen.errors, page.seen.report()


def test_an_agent_calls_a_customer_holds_resumes_and_transfers_in_the_browser(
    page, live_server, office, make_customer, twilio_api, tmp_path
):
    pat, number = office.pat, "+4915112345678"
    ada = make_customer("Ada", phones=[number])
    page.add_init_script(STAND_IN)
    log_in(page, pat.email)
    page.goto(f"/customers/{ada.id}")
    wait_for_socket(page)
    page.wait_for_function("() => window.__phone.registered")
    page.locator(f"#click-to-call [data-dial='{number}']").click()
    page.wait_for_function("() => !!window.__phone.outgoing")
    params = page.evaluate("() => window.__phone.outgoing.params")
    assert params == {"To": number, "customer": str(ada.id)}

    # Twilio asks the TwiML App's voice URL, then the customer answers.
    sid = "CA" + "5" * 32
    root = webhook(
        live_server,
        "/webhooks/twilio/voice/outbound",
        outbound_params(pat.id, params["customer"], params["To"], sid=sid),
    )
    dial = root.find("Dial")
    assert dial.get("callerId") == OUR_NUMBER and dial.find("Number").text == number
    customer_leg = leg(sid, number)
    webhook(live_server, "/webhooks/twilio/voice/status", customer_leg)
    page.evaluate("() => window.__phone.outgoing.emit('accept', window.__phone.outgoing)")
    controls = page.locator("#call-popup #softphone")
    expect(page.locator("#my-presence-dot")).to_have_class("dot on_call")

    # Hold: the customer's leg goes to hold music; Twilio ends the browser's leg.
    controls.locator("[data-action=hold]").click()
    expect(controls.locator("[data-action=resume]")).to_be_visible()
    [update] = twilio_api.call_updates()
    assert update.path.endswith(f"/Calls/{customer_leg['CallSid']}.json")
    assert ET.fromstring(update.form["Twiml"][0]).find("Enqueue") is not None
    page.evaluate("() => window.__phone.outgoing.emit('disconnect', window.__phone.outgoing)")
    expect(page.locator("#my-presence-dot")).to_have_class("dot on_call")
    shots = SCREENSHOTS if os.environ.get("HELPDESK_SCREENSHOTS") == "1" else tmp_path
    page.screenshot(path=str(shots / "softphone-hold.png"))

    # Resume rings Pat's browser again, and the page takes that call at once.
    controls.locator("[data-action=resume]").click()
    expect(controls).to_have_attribute("data-phase", "resuming")
    wait_until(lambda: len(twilio_api.call_updates()) == 2)  # the page's request ran
    resumed = ET.fromstring(twilio_api.call_updates()[1].form["Twiml"][0])
    assert [c.text for c in resumed.iter("Client")] == [f"agent_{pat.id}"]
    page.evaluate("() => window.__phone.ring()")
    expect(controls.locator("[data-action=hold]")).to_be_visible()
    assert page.evaluate("() => window.__phone.calls[1].actions") == ["accept"]

    # Transfer to team Billing: Bill's browser rings, Pat's leg ends, Pat is free again.
    controls.locator("select.transfer-target").select_option(f"team:{office.bill.teams[0].id}")
    controls.locator("[data-action=transfer]").click()
    expect(page.locator("#my-presence-dot")).to_have_class("dot online")
    moved = ET.fromstring(twilio_api.call_updates()[2].form["Twiml"][0])
    assert [c.text for c in moved.iter("Client")] == [f"agent_{office.bill.id}"]
    assert page.evaluate("() => window.__phone.calls[1].actions") == ["accept", "disconnect"]
    assert not page.seen.errors, page.seen.report()
