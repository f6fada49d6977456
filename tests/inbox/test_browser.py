"""The agent UI in a real browser: Debian's Chromium driven by Playwright, against the
live server (HTTP + Socket.IO over WebSocket). Mail comes in through the real Dovecot
and the real poll code, SMS and calls through signed Twilio webhooks, replies go out
to the local Twilio stand-in; the database is the test run's own.

The UI contract these tests hold the pages to:
- ``/login``: inputs ``email`` and ``password`` and a submit button; success lands on /inbox.
- ``/inbox``: rows ``table.inbox tbody tr[data-ticket=ID]`` linking to ``/tickets/ID``;
  new tickets and messages appear / move to the top without a reload.
- ``/tickets/ID``: ``#thread article.message#m<message id>``; new messages of that
  ticket appear without a reload; ``form#reply`` (``textarea[name=body]``) sends through
  the API; an email's HTML is shown in an ``iframe[sandbox]`` without ``allow-scripts``;
  ``#customer-panel`` beside the thread.
- every page: ``#call-popup`` on ``call.incoming``, hidden when the call ends or another
  agent answers; ``window.helpdeskSocket`` is the connected Socket.IO client.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select

from helpdesk.channels.email import imap as email_imap
from helpdesk.extensions import db
from helpdesk.tickets.models import Message
from tests.fixtures.browser import (
    WAIT_MS,
    assert_not_reloaded,
    dialogs_before_sentinel,
    image_sentinel,
    log_in,
    mark_page,
    wait_for_socket,
)
from tests.fixtures.email import deliver, make_mail
from tests.fixtures.twilio import ACCOUNT, OUR_NUMBER, call_params, sign, sms_params, twilio_config

pytestmark = pytest.mark.slow  # a browser against a live server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SMS = "/webhooks/twilio/sms"
VOICE = "/webhooks/twilio/voice"
VOICE_STATUS = "/webhooks/twilio/voice/status"
EVA_PHONE = "+491711234567"
ROWS = "table.inbox tbody tr[data-ticket]"


@pytest.fixture
def app_config(twilio_api):
    """One app for the whole test, talking to the local Twilio stand-in."""
    return twilio_config(twilio_api)


@dataclass
class Desk:
    """Pat (online, teams Support and Phones) is the agent in the browser; Sam (online,
    Phones) is a colleague; Eva is a known customer; our number belongs to Phones."""

    pat: object
    sam: object
    eva: object
    line: object


@pytest.fixture
def desk(app, make_agent, make_customer, make_line) -> Desk:
    pat = make_agent("pat@example.com", teams=["Support", "Phones"], name="Pat Agent")
    sam = make_agent("sam@example.com", teams=["Phones"], name="Sam Colleague")
    pat.presence = sam.presence = "online"
    line = make_line("Phones")  # commits the presences too
    eva = make_customer("Eva Example", phones=["0171 1234567"], emails=["eva@acme.example"])
    return Desk(pat, sam, eva, line)


# --- helpers -----------------------------------------------------------------


def twilio_post(base: str, path: str, params: dict) -> requests.Response:
    """POST a webhook to the live server as Twilio does, signed for its URL."""
    url = base + path
    response = requests.post(
        url, data=params, timeout=10, headers={"X-Twilio-Signature": sign(url, params)}
    )
    assert response.status_code == 200, response.text
    return response


def send_sms(base: str, body: str, sender: str = EVA_PHONE) -> dict:
    """An SMS arrives through the signed webhook; return the stored message's ids."""
    params = sms_params(body, sender)
    twilio_post(base, SMS, params)
    return stored(params["MessageSid"])


def stored(external_id: str) -> dict:
    """Ids of the message the provider knows as ``external_id`` (and end the read)."""
    db.session.expire_all()
    message = (
        db.session.execute(select(Message).where(Message.external_id == external_id))
        .unique()
        .scalar_one()
    )
    found = {"message": message.id, "ticket": message.ticket_id}
    db.session.rollback()  # no read transaction left open beside the live server's writes
    return found


def receive_mail(imap_server, **mail) -> dict:
    """Deliver a mail to the support mailbox and run the real poll; return its ids."""
    message_id = f"<{uuid.uuid4().hex}@mail.example.com>"
    deliver(imap_server, make_mail(message_id=message_id, **mail))
    [result] = email_imap.poll()
    assert (result.stored, result.error) == (1, None), result
    return stored(message_id)


def row(page, ticket_id: int):
    """The inbox row of a ticket."""
    return page.locator(f'{ROWS}[data-ticket="{ticket_id}"]')


def in_thread(page, message_id: int):
    """A message of the open conversation."""
    return page.locator(f"#thread article.message#m{message_id}")


def call_status(base: str, sid: str, **params) -> None:
    """A voice status callback for call ``sid``."""
    twilio_post(
        base,
        VOICE_STATUS,
        {
            "CallSid": sid,
            "AccountSid": ACCOUNT,
            "From": EVA_PHONE,
            "To": OUR_NUMBER,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            **params,
        },
    )


# --- logging in, reading, replying -----------------------------------------------


def test_login_form_leads_to_the_inbox_and_the_conversation(page, desk, live_server):
    first = send_sms(live_server, "Wo ist mein Paket 12345?")
    page.goto("/inbox")
    assert "/login" in page.url  # not logged in: sent to the login form
    log_in(page, "pat@example.com", "wrong password", lands_on="**/login*")
    expect(page.locator("input[name=password]")).to_have_count(1)  # the form again
    log_in(page, "pat@example.com")
    ticket_row = row(page, first["ticket"])
    expect(ticket_row).to_have_count(1)
    expect(ticket_row).to_contain_text("Eva Example")
    expect(ticket_row).to_contain_text("Wo ist mein Paket 12345?")
    ticket_row.locator(f'a[href$="/tickets/{first["ticket"]}"]').first.click()
    page.wait_for_url(f"**/tickets/{first['ticket']}")
    expect(page.locator(f"article.message#m{first['message']}")).to_contain_text(
        "Wo ist mein Paket 12345?"
    )


def test_reply_through_the_form_appears_in_the_thread_and_is_stored(
    page, desk, live_server, twilio_api
):
    first = send_sms(live_server, "Meine Bestellung fehlt")
    log_in(page, "pat@example.com")
    row(page, first["ticket"]).locator(f'a[href$="/tickets/{first["ticket"]}"]').first.click()
    page.wait_for_url(f"**/tickets/{first['ticket']}")
    expect(in_thread(page, first["message"])).to_contain_text("Meine Bestellung fehlt")
    expect(page.locator("#customer-panel")).to_contain_text("Eva Example")
    wait_for_socket(page)
    mark_page(page)
    text = f"Ihr Paket ist unterwegs ({uuid.uuid4().hex[:6]})"
    form = page.locator("form#reply")
    form.locator("textarea[name=body]").fill(text)
    form.locator("button[type=submit]").click()
    shown = page.locator("#thread article.message", has_text=text)
    expect(shown).to_have_count(1, timeout=WAIT_MS)
    assert_not_reloaded(page)
    db.session.expire_all()
    [reply] = (
        db.session.execute(
            select(Message).where(Message.ticket_id == first["ticket"], Message.direction == "out")
        )
        .unique()
        .scalars()
        .all()
    )
    assert (reply.body_text, reply.author_id, reply.channel) == (text, desk.pat.id, "sms")
    reply_id = reply.id
    db.session.rollback()
    expect(in_thread(page, reply_id)).to_contain_text(text)
    # The reply went out on the customer's channel, to the customer's number.
    deadline = time.monotonic() + 5
    while not twilio_api.messages() and time.monotonic() < deadline:
        time.sleep(0.05)
    [sent] = twilio_api.messages()
    assert (sent.form["To"], sent.form["Body"]) == ([EVA_PHONE], [text])


# --- live updates -----------------------------------------------------------------


def test_new_mail_and_sms_appear_in_the_open_inbox_without_reload(
    page, desk, live_server, mailbox, imap
):
    older = send_sms(live_server, "Frage zur Rechnung")
    other = receive_mail(imap, sender="old@example.org", name="Olga Old", subject="Old question")
    log_in(page, "pat@example.com")
    expect(row(page, older["ticket"])).to_have_count(1)
    expect(page.locator(ROWS)).to_have_count(2)
    wait_for_socket(page)
    mark_page(page)

    mail = receive_mail(
        imap,
        sender="nora@example.org",
        name="Nora New",
        subject="Parcel never arrived",
        text="It has been two weeks.",
    )
    expect(row(page, mail["ticket"])).to_contain_text("Parcel never arrived", timeout=WAIT_MS)
    expect(row(page, mail["ticket"])).to_contain_text("Nora New")
    expect(
        row(page, mail["ticket"]).locator(f'a[href$="/tickets/{mail["ticket"]}"]')
    ).to_have_count(1)
    expect(page.locator(ROWS).first).to_have_attribute("data-ticket", str(mail["ticket"]))

    sms = send_sms(live_server, "Hallo, wo bleibt meine Lieferung?", sender="+4915199988877")
    assert sms["ticket"] not in (older["ticket"], mail["ticket"], other["ticket"])
    expect(row(page, sms["ticket"])).to_contain_text("wo bleibt meine Lieferung", timeout=WAIT_MS)
    expect(page.locator(ROWS).first).to_have_attribute("data-ticket", str(sms["ticket"]))

    # A new message on an older ticket moves its row to the top; still one row.
    again = send_sms(live_server, "Noch eine Frage zur Rechnung")
    assert again["ticket"] == older["ticket"]
    expect(page.locator(ROWS).first).to_have_attribute(
        "data-ticket", str(older["ticket"]), timeout=WAIT_MS
    )
    expect(row(page, older["ticket"])).to_have_count(1)
    expect(page.locator(ROWS)).to_have_count(4)
    assert_not_reloaded(page)


def test_new_message_on_the_open_ticket_appears_in_its_thread(page, desk, live_server):
    first = send_sms(live_server, "Mein Drucker druckt nicht")
    log_in(page, "pat@example.com")
    page.goto(f"/tickets/{first['ticket']}")
    expect(in_thread(page, first["message"])).to_contain_text("Mein Drucker druckt nicht")
    wait_for_socket(page)
    mark_page(page)
    elsewhere = send_sms(live_server, "Ganz anderes Thema", sender="+4915199988877")
    assert elsewhere["ticket"] != first["ticket"]
    follow_up = send_sms(live_server, "Jetzt blinkt er rot")
    assert follow_up["ticket"] == first["ticket"]  # threads onto the open ticket
    expect(in_thread(page, follow_up["message"])).to_contain_text(
        "Jetzt blinkt er rot", timeout=WAIT_MS
    )
    expect(page.locator(f"#m{elsewhere['message']}")).to_have_count(0)
    expect(page.locator("#thread article.message")).to_have_count(2)
    # The customer's history beside the thread follows too; another customer's does not.
    history = page.locator("#customer-panel .history")
    expect(history).to_contain_text("Jetzt blinkt er rot", timeout=WAIT_MS)
    expect(history).not_to_contain_text("Ganz anderes Thema")
    assert_not_reloaded(page)


def test_incoming_call_pops_the_caller_card_and_goes_away(page, desk, live_server):
    first = send_sms(live_server, "Bitte rufen Sie mich an")
    log_in(page, "pat@example.com")
    wait_for_socket(page)
    popup = page.locator("#call-popup")
    expect(popup).to_be_hidden()
    mark_page(page)
    # A call from Eva's number: her card pops up; the caller hangs up: it goes away.
    call = call_params(EVA_PHONE)
    twilio_post(live_server, VOICE, call)
    expect(popup).to_be_visible(timeout=WAIT_MS)
    expect(popup).to_contain_text("Eva Example")
    call_status(live_server, call["CallSid"], CallStatus="completed", CallDuration="0")
    expect(popup).to_be_hidden(timeout=WAIT_MS)
    assert_not_reloaded(page)

    # On a conversation page too; this time a colleague picks up: it goes away.
    page.goto(f"/tickets/{first['ticket']}")
    wait_for_socket(page)
    expect(popup).to_be_hidden()
    call = call_params(EVA_PHONE)
    twilio_post(live_server, VOICE, call)
    expect(popup).to_be_visible(timeout=WAIT_MS)
    expect(popup).to_contain_text("Eva Example")
    call_status(
        live_server,
        "CA" + uuid.uuid4().hex,
        ParentCallSid=call["CallSid"],
        To=f"client:agent_{desk.sam.id}",
        CallStatus="in-progress",
        Direction="outbound-dial",
    )
    expect(popup).to_be_hidden(timeout=WAIT_MS)


def shown_tickets(page, query: str) -> set[int]:
    """The ticket ids listed by ``/inbox?<query>``."""
    page.goto(f"/inbox?{query}")
    expect(page.locator("table.inbox")).to_have_count(1)
    return {
        int(value)
        for value in page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.ticket)")
    }


def test_inbox_views_and_filters_also_hold_for_live_arrivals(
    page, desk, live_server, mailbox, imap, api_as
):
    mail = receive_mail(
        imap, sender="nora@example.org", name="Nora New", subject="Parcel never arrived"
    )
    sms = send_sms(live_server, "Frage zur Rechnung")
    pat = api_as(desk.pat)
    for ticket_id, change in (
        (sms["ticket"], {"assignee": desk.pat.id, "status": "pending"}),
        (mail["ticket"], {"priority": "high", "tags": ["vip"]}),
    ):
        response = pat.patch(f"/api/v1/tickets/{ticket_id}", json=change)
        assert response.status_code == 200, response.json
    both = {mail["ticket"], sms["ticket"]}
    log_in(page, "pat@example.com")
    assert shown_tickets(page, "view=team") == both
    assert shown_tickets(page, "view=mine") == {sms["ticket"]}
    assert shown_tickets(page, "view=unassigned") == {mail["ticket"]}
    assert shown_tickets(page, "view=team&channel=email") == {mail["ticket"]}
    assert shown_tickets(page, "view=team&channel=sms") == {sms["ticket"]}
    assert shown_tickets(page, "view=team&status=pending") == {sms["ticket"]}
    assert shown_tickets(page, "view=team&priority=high") == {mail["ticket"]}
    assert shown_tickets(page, "view=team&tag=vip") == {mail["ticket"]}
    assert shown_tickets(page, "view=team&q=Parcel") == {mail["ticket"]}

    # Live arrivals respect the filter of the open page: an SMS stays out of an email list.
    assert shown_tickets(page, "view=team&channel=email") == {mail["ticket"]}
    wait_for_socket(page)
    mark_page(page)
    stranger = send_sms(live_server, "Neue Frage per SMS", sender="+4915199988877")
    newer = receive_mail(
        imap, sender="lea@example.com", name="Lea Fischer", subject="Return label please"
    )
    expect(row(page, newer["ticket"])).to_contain_text("Return label please", timeout=WAIT_MS)
    expect(row(page, stranger["ticket"])).to_have_count(0)
    expect(page.locator(ROWS)).to_have_count(2)
    assert_not_reloaded(page)


# --- hostile content ----------------------------------------------------------------

PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '<a href="javascript:window.__xss=1">xss-link</a>',
    '<div style="background:url(javascript:window.__xss=1)">styled</div>',
    '<iframe src="javascript:window.top.__xss=1"></iframe>',
    '<svg onload="window.__xss=1"></svg>',
    "<a href=\"javascript:alert('xss')\">xss-link</a>",
]
HOSTILE = " ".join(PAYLOADS)
HOSTILE_NAME = '<img src=x onerror="window.__xss=1">Mallory <script>window.__xss=1</script>'

LIVE_DOM_CHECK = """() => {
  const found = [];
  const selectors = ['[onerror]', '[onload]', '[onclick]', 'img[src="x"]', 'svg[onload]',
    'a[href^="javascript:" i]', 'iframe[src^="javascript:" i]', '[style*="javascript" i]'];
  for (const s of selectors) document.querySelectorAll(s).forEach(e => found.push(e.outerHTML));
  document.querySelectorAll('script').forEach(e => {
    if (e.textContent.includes('__xss')) found.push(e.outerHTML); });
  return found;
}"""


def assert_inert(page) -> None:
    """Nothing injected ran or lives in the page: no dialog, no ``__xss`` in any frame,
    no injected element in the top document. Clicks every injected link first, and
    checks after sentinels (see tests/fixtures/browser.py), not after a pause."""
    page.wait_for_load_state("load")
    for frame in page.frames:
        for link in frame.locator("a", has_text="xss-link").all():
            link.click(timeout=2000, no_wait_after=True)
    # Sentinels after the clicks: an image of the injected ones' address fails, and an
    # alert of the test's own; an error handler or a link that ran shows before them.
    image_sentinel(page)
    assert dialogs_before_sentinel(page) == [], page.seen.dialogs
    assert page.seen.dialogs == [], page.seen.dialogs
    for frame in page.frames:
        try:
            kind = frame.evaluate("() => typeof window.__xss")
        except Exception as error:  # a frame without script access ran nothing either
            kind = f"not scriptable: {error}"
        assert kind != "number", f"injected script ran in frame {frame.url}"
    assert page.evaluate(LIVE_DOM_CHECK) == []


def hostile_mail(imap_server) -> dict:
    """A mail with hostile sender name, subject, text and HTML, through the real parser."""
    return receive_mail(
        imap_server,
        sender="mallory@evil.example",
        name=HOSTILE_NAME,
        subject="Help " + PAYLOADS[1] + PAYLOADS[0],
        text="Plain " + HOSTILE,
        html=f"<p>Hello <b>bold words</b></p>{HOSTILE}",
    )


def test_hostile_content_is_inert_on_the_rendered_pages(
    page, desk, live_server, mailbox, imap, make_customer
):
    make_customer(HOSTILE_NAME, phones=["+4915100000666"])
    sms = send_sms(live_server, "SMS " + HOSTILE, sender="+4915100000666")
    mail = hostile_mail(imap)
    log_in(page, "pat@example.com")
    expect(row(page, sms["ticket"])).to_contain_text("Mallory")
    expect(row(page, mail["ticket"])).to_contain_text("Help")
    assert_inert(page)
    for ids in (sms, mail):
        page.goto(f"/tickets/{ids['ticket']}")
        expect(page.locator(f"article.message#m{ids['message']}")).to_have_count(1)
        # The panel (the sender's name, the history's excerpts) arrives by fetch and innerHTML.
        expect(page.locator("#customer-panel section.card")).to_have_count(1)
        expect(page.locator("#customer-panel .history")).to_contain_text("xss")
        assert_inert(page)
    # The escaped payload is shown as text, not dropped silently.
    page.goto(f"/tickets/{sms['ticket']}")
    expect(page.locator(f"article.message#m{sms['message']}")).to_contain_text(
        "<script>window.__xss=1</script>"
    )


def test_hostile_content_arriving_live_is_inert(
    page, desk, live_server, mailbox, imap, make_customer
):
    make_customer(HOSTILE_NAME, phones=["+4915100000666"])
    log_in(page, "pat@example.com")
    wait_for_socket(page)
    mail = hostile_mail(imap)
    sms = send_sms(live_server, "SMS " + HOSTILE, sender="+4915100000666")
    expect(row(page, mail["ticket"])).to_have_count(1, timeout=WAIT_MS)
    expect(row(page, sms["ticket"])).to_contain_text("Mallory", timeout=WAIT_MS)
    assert_inert(page)

    # The mail's cleaned HTML is shown in a sandbox where no script may run.
    page.goto(f"/tickets/{mail['ticket']}")
    frame = page.locator(f"#m{mail['message']} iframe[sandbox]")
    expect(frame).to_have_count(1)
    assert "allow-scripts" not in (frame.get_attribute("sandbox") or "")
    expect(page.frame_locator(f"#m{mail['message']} iframe[sandbox]").locator("b")).to_have_text(
        "bold words"
    )
    assert_inert(page)

    # A hostile message arriving on the open conversation.
    page.goto(f"/tickets/{sms['ticket']}")
    wait_for_socket(page)
    again = send_sms(live_server, "Again " + HOSTILE, sender="+4915100000666")
    assert again["ticket"] == sms["ticket"]
    expect(in_thread(page, again["message"])).to_contain_text("window.__xss", timeout=WAIT_MS)
    assert_inert(page)


# --- screenshots for the docs -------------------------------------------------------


def test_screenshots_of_the_inbox_and_a_conversation(
    page, desk, live_server, mailbox, imap, api, tmp_path
):
    """A realistic desk, photographed (1400x900): into docs/screenshots when
    HELPDESK_SCREENSHOTS=1 (after a UI change), else into a throw-away folder."""
    shots = SCREENSHOTS if os.environ.get("HELPDESK_SCREENSHOTS") == "1" else tmp_path
    response = api.put(
        "/api/v1/orders/A-1001",
        json={
            "customer": desk.eva.id,
            "status": "shipped",
            "total": "89.90",
            "currency": "EUR",
            "carrier": "DHL",
            "tracking_number": "003404341234",
        },
    )
    assert response.status_code == 201, response.json
    receive_mail(
        imap,
        sender="jonas@example.org",
        name="Jonas Weber",
        subject="Invoice 2024-113",
        text="The invoice lists the wrong VAT id.",
    )
    receive_mail(
        imap,
        sender="lea@example.com",
        name="Lea Fischer",
        subject="Return label for order A-0993",
        text="Could you send a return label?",
    )
    send_sms(live_server, "Kann ich meine Lieferadresse noch ändern?", sender="+4915122233344")
    first = receive_mail(
        imap,
        sender="eva@acme.example",
        name="Eva Example",
        subject="Order A-1001 has not arrived",
        text="Hello, my order A-1001 was shipped a week ago but has not "
        "arrived yet. Can you check?",
        html="<p>Hello,</p><p>my order <b>A-1001</b> was shipped a week ago "
        "but has not arrived yet. Can you check?</p><p>Eva</p>",
    )
    shots.mkdir(parents=True, exist_ok=True)
    log_in(page, "pat@example.com")
    expect(page.locator(ROWS)).to_have_count(4)
    expect(page.locator(ROWS).first).to_have_attribute("data-ticket", str(first["ticket"]))
    page.screenshot(path=str(shots / "inbox.png"))

    panel_requests = []
    page.on("request", lambda r: panel_requests.append(r.url) if r.url.endswith("/panel") else None)
    page.goto(f"/tickets/{first['ticket']}")
    wait_for_socket(page)
    # The panel is its own request, started by the page's preload and taken up by ticket.js:
    # one request, not two.
    expect(page.locator("#customer-panel section.card")).to_have_count(1)
    assert len(panel_requests) == 1, panel_requests
    form = page.locator("form#reply")
    form.locator("textarea[name=body]").fill(
        "Hi Eva, DHL has the parcel at your local depot; it goes out for delivery tomorrow."
    )
    form.locator("button[type=submit]").click()
    expect(page.locator("#thread article.message")).to_have_count(2, timeout=WAIT_MS)
    panel, thread = page.locator("#customer-panel"), page.locator("#thread")
    expect(panel).to_contain_text("Eva Example")
    expect(panel).to_contain_text("A-1001")
    expect(panel).not_to_have_attribute("aria-busy", "true")
    expect(panel.locator(".history")).to_contain_text("Hi Eva, DHL", timeout=WAIT_MS)  # live
    panel_box, thread_box = panel.bounding_box(), thread.bounding_box()
    assert panel_box and thread_box
    beside = (
        panel_box["x"] >= thread_box["x"] + thread_box["width"] - 1
        or panel_box["x"] + panel_box["width"] <= thread_box["x"] + 1
    )
    assert beside and panel_box["y"] < thread_box["y"] + thread_box["height"], (
        panel_box,
        thread_box,
    )
    page.screenshot(path=str(shots / "conversation.png"))
    assert (shots / "inbox.png").stat().st_size > 10_000
