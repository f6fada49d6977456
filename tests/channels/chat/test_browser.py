"""The live-chat widget in a real browser: Debian's Chromium driven by Playwright.

A visitor on a company's website (a second origin: a tiny HTTP server on another
loopback port, since Chromium lets an insecure page load loopback resources only
from loopback itself) talks to an agent who has the inbox open on the live server
(HTTP + Socket.IO over WebSocket). The widget's hooks (all inside the open shadow
root of ``#helpdesk-chat``, which Playwright's CSS locators pierce): ``button.hd-launcher``,
``.hd-window``, ``.hd-messages > .hd-message[data-id]`` with ``hd-visitor`` / ``hd-agent``
/ ``hd-bot``, ``textarea.hd-input``, ``button.hd-send``, ``.hd-typing``,
``.hd-status[data-online]``, ``form.hd-identify``, ``button.hd-transcript``, and under a
survey's question ``.hd-rating`` with ``button.hd-star[data-rating]``,
``textarea.hd-comment`` and ``button.hd-rate``.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

# Imported before any app is built, as the app's own modules are: the /chat namespace
# is then registered on the Socket.IO server of every app of the run.
from helpdesk import unit_of_work
from helpdesk.agents.models import Agent
from helpdesk.channels.chat.services import create_chat_channel
from helpdesk.channels.inbound import InboundMessage
from helpdesk.channels.models import Channel
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.surveys import services as surveys
from helpdesk.tickets import services
from helpdesk.tickets.ingest import ingest
from helpdesk.tickets.models import Message, Ticket
from tests.fixtures.browser import WAIT_MS, image_sentinel, log_in, wait_for_socket

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.slow  # browsers against a live server

ROWS = "table.inbox tbody tr[data-ticket]"
XSS = "<img src=x onerror=window.__xss=1>"
_NUMBER = re.compile(r"^\d+$")  # a message confirmed by the server carries its id

# The company's page is hostile to widgets: broad rules with !important, a RequireJS-style
# global ``define`` (the Socket.IO bundle is UMD) and nothing else of ours.
SHOP_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title>
<style>
  div { display: none !important; color: red !important; }
  button, textarea { display: none !important; }
  .hd-window, .hd-launcher, .hd-message { display: none !important; }
  * { font-size: 40px !important; }
</style>
<script>window.define = function () { window.__amd = true; }; window.define.amd = {};</script>
</head><body><h1>Unser Shop</h1>
<script src="%(server)s/chat/widget.js" data-channel="%(key)s" async></script>
</body></html>"""


class _ShopHandler(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self):  # noqa: N802 - the http.server API
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args):
        pass


@pytest.fixture
def shop():
    """The company's website on its own loopback port; ``shop.show(html)`` sets its page."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_ShopHandler,), {}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    server.show = lambda html: setattr(server.RequestHandlerClass, "page", html.encode())
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def chat_desk(app, make_agent, shop):
    """Pat answers the chat of team Support; the channel allows only the shop's origin."""
    make_agent("pat@example.com", teams=["Support"], name="Pat Agent")
    channel, _secret = create_chat_channel(
        "Website", team="Support", origins=[shop.url], greeting="Hallo! Wie können wir helfen?"
    )
    db.session.commit()
    key = channel.address
    db.session.rollback()  # no read transaction left open beside the live server's writes
    return key


def _context(chromium, **options):
    context = chromium.new_context(viewport={"width": 1280, "height": 850}, **options)
    context.set_default_timeout(WAIT_MS)
    return context


def _watch(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: (errors.append("dialog: " + dialog.message), dialog.dismiss()))
    return errors


def _shop_tab(context, shop):
    """A tab on the shop's page with the widget; returns (page, page errors)."""
    page = context.new_page()
    errors = _watch(page)
    page.goto(shop.url + "/")
    expect(page.locator("#helpdesk-chat button.hd-launcher")).to_be_visible()
    return page, errors


def _open(page) -> None:
    """Open the chat window (it starts closed) and wait until the server answered."""
    page.locator("button.hd-launcher").click()
    expect(page.locator(".hd-window")).to_be_visible()
    expect(page.locator(".hd-status")).to_have_attribute("data-online", "true")


def _say(page, text: str) -> None:
    """Type and send with Enter; the message is confirmed with the server's id."""
    page.locator("textarea.hd-input").fill(text)
    page.locator("textarea.hd-input").press("Enter")
    mine = page.locator(".hd-messages > .hd-message.hd-visitor", has_text=text)
    try:
        expect(mine).to_have_count(1)
        expect(mine).to_have_attribute("data-id", _NUMBER)
        expect(page.locator("textarea.hd-input")).to_have_value("")
    except AssertionError as exc:  # say what the widget showed, not only what was missing
        state = page.evaluate(
            """() => {
              const root = document.querySelector('#helpdesk-chat').shadowRoot;
              const error = root.querySelector('.hd-error');
              return {
                error: error && !error.hidden ? error.textContent : null,
                status: root.querySelector('.hd-status').textContent,
                input: root.querySelector('textarea.hd-input').value,
                messages: [...root.querySelectorAll('.hd-messages > .hd-message')].map(
                  (m) => [m.className, m.dataset.id || null, m.textContent.slice(0, 60)]),
              };
            }"""
        )
        raise AssertionError(f"{text!r} was not confirmed; the widget shows {state}") from exc


def _reply(agent, text: str) -> None:
    """Answer through the conversation page's reply form, as the agent would."""
    form = agent.locator("form#reply")
    form.locator("textarea[name=body]").fill(text)
    with agent.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/messages")
    ) as sent:
        form.locator("[type=submit]").click()
    assert sent.value.ok, f"the reply was refused: {sent.value.status} {sent.value.text()}"
    expect(agent.locator("#thread article.message", has_text=text)).to_have_count(1)


def test_visitor_and_agent_chat_live_and_the_conversation_survives_a_reload(
    chromium, chat_desk, live_server, shop
):
    key = chat_desk
    shop.show(SHOP_PAGE % {"server": live_server, "key": key})
    agent_context = _context(chromium, base_url=live_server, bypass_csp=True)
    visitor_context = _context(chromium)
    try:
        # The agent has the inbox open (their socket makes them online).
        agent = agent_context.new_page()
        agent_errors = _watch(agent)
        log_in(agent, "pat@example.com")
        wait_for_socket(agent)

        # The visitor opens the shop, the widget is drawn despite the page's CSS.
        tab, tab_errors = _shop_tab(visitor_context, shop)
        expect(tab.locator(".hd-window")).to_be_hidden()
        _open(tab)
        expect(tab.locator(".hd-status")).to_have_text("online")
        expect(tab.locator(".hd-window")).to_contain_text("Hallo! Wie können wir helfen?")
        assert tab.locator("textarea.hd-input").get_attribute("maxlength") == "5000"
        # The page's globals are left alone: no AMD module registered, no window.io.
        assert tab.evaluate("() => [window.__amd, typeof window.io]") == [None, "undefined"]

        _say(tab, "Hallo, wo ist mein Paket?")
        visitor_id = tab.evaluate(f"() => localStorage.getItem('helpdesk-chat-visitor:{key}')")
        assert visitor_id and visitor_id.startswith("v_")

        # The new ticket appears in the open inbox without a reload.
        row = agent.locator(ROWS, has_text="Hallo, wo ist mein Paket?")
        expect(row).to_have_count(1)
        ticket_id = int(row.get_attribute("data-ticket"))
        row.locator(f'a[href$="/tickets/{ticket_id}"]').first.click()
        agent.wait_for_url(f"**/tickets/{ticket_id}")
        expect(agent.locator("#thread article.message")).to_contain_text(
            "Hallo, wo ist mein Paket?"
        )
        wait_for_socket(agent)
        # Opening the conversation marks the visitor's message read.
        expect(tab.locator(".hd-message.hd-visitor").first).to_contain_text("read")

        # The agent replies through the form; the visitor sees it without a reload.
        _reply(agent, "Ihr Paket kommt morgen.")
        answer = tab.locator(
            ".hd-messages > .hd-message.hd-agent", has_text="Ihr Paket kommt morgen."
        )
        expect(answer).to_have_count(1)
        expect(answer).to_contain_text("Pat Agent")

        # HTML in a message is text on both sides, and nothing runs.
        _say(tab, f"Test {XSS} ende")
        expect(agent.locator("#thread article.message", has_text=XSS)).to_have_count(1)
        _reply(agent, f"Antwort {XSS}")
        expect(tab.locator(".hd-message.hd-agent", has_text=f"Antwort {XSS}")).to_have_count(1)
        expect(tab.locator(".hd-messages img")).to_have_count(0)
        # Sentinels: an image of the test's own at the payload's address fails on both
        # pages; the payload's error handler, had it an image, would have run before.
        image_sentinel(tab)
        image_sentinel(agent)
        assert tab.evaluate("() => window.__xss") is None
        assert agent.evaluate("() => window.__xss") is None

        # A second tab of the same visitor continues the conversation, and sees its own
        # messages from the other tab.
        second, second_errors = _shop_tab(visitor_context, shop)
        _open(second)
        expect(second.locator(".hd-messages > .hd-message")).to_have_count(4)
        _say(tab, "Noch eine Frage")
        expect(second.locator(".hd-message.hd-visitor", has_text="Noch eine Frage")).to_have_count(
            1
        )
        assert second.locator(".hd-message.hd-visitor", has_text="Noch eine Frage").get_attribute(
            "data-id"
        ) == tab.locator(".hd-message.hd-visitor", has_text="Noch eine Frage").get_attribute(
            "data-id"
        )
        second.close()

        # A reload shows the same conversation, in order.
        tab.reload()
        _open(tab)
        messages = tab.locator(".hd-messages > .hd-message")
        expect(messages).to_have_count(5)
        expect(messages.nth(0)).to_contain_text("Hallo, wo ist mein Paket?")
        expect(messages.nth(1)).to_contain_text("Ihr Paket kommt morgen.")
        expect(messages.nth(2)).to_contain_text(f"Test {XSS} ende")
        expect(messages.nth(3)).to_contain_text(f"Antwort {XSS}")
        expect(messages.nth(4)).to_contain_text("Noch eine Frage")
        assert [messages.nth(i).get_attribute("class").split()[1] for i in range(5)] == [
            "hd-visitor",
            "hd-agent",
            "hd-visitor",
            "hd-agent",
            "hd-visitor",
        ]
        assert tab.evaluate("() => window.__xss") is None
        assert (
            tab.evaluate(f"() => localStorage.getItem('helpdesk-chat-visitor:{key}')") == visitor_id
        )

        assert tab_errors == [] and second_errors == [] and agent_errors == [], (
            tab_errors,
            second_errors,
            agent_errors,
        )
    finally:
        visitor_context.close()
        agent_context.close()

    # One chat ticket holds the whole conversation.
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    assert (ticket.channel, ticket.contact) == ("chat", visitor_id)
    texts = (
        db.session.execute(
            select(Message.body_text).where(Message.ticket_id == ticket_id).order_by(Message.id)
        )
        .scalars()
        .all()
    )
    assert texts == [
        "Hallo, wo ist mein Paket?",
        "Ihr Paket kommt morgen.",
        f"Test {XSS} ende",
        f"Antwort {XSS}",
        "Noch eine Frage",
    ]
    db.session.rollback()


def test_offline_the_visitor_gives_an_email_first_and_the_text_is_kept(
    chromium, chat_desk, live_server, shop
):
    key = chat_desk
    shop.show(SHOP_PAGE % {"server": live_server, "key": key})
    context = _context(chromium)
    try:
        tab, errors = _shop_tab(context, shop)
        tab.locator("button.hd-launcher").click()
        # Nobody of the team is online: the channel's offline message, and the form.
        expect(tab.locator(".hd-window")).to_contain_text("We are not online right now")
        expect(tab.locator(".hd-status")).to_have_text("offline")
        expect(tab.locator(".hd-status")).to_have_attribute("data-online", "false")
        identify = tab.locator("form.hd-identify")
        expect(identify).to_be_visible()

        # Without an email address nothing is sent, and the text stays in the box.
        tab.locator("textarea.hd-input").fill("Bitte um Rückruf <b>morgen</b>")
        tab.locator("button.hd-send").click()
        expect(tab.locator(".hd-window")).to_contain_text("enter your email address")
        expect(tab.locator("textarea.hd-input")).to_have_value("Bitte um Rückruf <b>morgen</b>")
        expect(tab.locator(".hd-message")).to_have_count(0)

        # With one: identify first, then the message; the form has done its job.
        identify.locator("input[name=name]").fill("Eva Example")
        identify.locator("input[name=email]").fill("eva@example.org")
        tab.locator("textarea.hd-input").press("Enter")
        mine = tab.locator(".hd-messages > .hd-message.hd-visitor")
        expect(mine).to_have_count(1)
        expect(mine).to_have_attribute("data-id", _NUMBER)
        expect(mine).to_contain_text("Bitte um Rückruf <b>morgen</b>")
        expect(identify).to_be_hidden()
        # The typed address is unverified: no transcript to it until it is confirmed.
        tab.locator("button.hd-transcript").click()
        expect(tab.locator(".hd-window")).to_contain_text("confirm your email address first")
        message_id = int(mine.get_attribute("data-id"))
        assert errors == [], errors
    finally:
        context.close()

    db.session.expire_all()
    message = db.session.get(Message, message_id)
    assert (message.channel, message.body_text) == ("chat", "Bitte um Rückruf <b>morgen</b>")
    assert (message.meta or {}).get("offline") is True
    assert message.ticket.customer.values("email") == []
    assert message.ticket.customer.unverified_email == "eva@example.org"
    assert message.ticket.customer.name == "Eva Example"
    db.session.rollback()


def test_the_survey_in_the_widget_is_answered_with_the_buttons(
    chromium, chat_desk, live_server, shop
):
    shop.show(SHOP_PAGE % {"server": live_server, "key": chat_desk})
    context = _context(chromium)
    try:
        tab, errors = _shop_tab(context, shop)
        tab.locator("button.hd-launcher").click()
        # The visitor's conversation, through ingest as the widget's message would go.
        stored = f"localStorage.getItem('helpdesk-chat-visitor:{chat_desk}')"
        tab.wait_for_function(f"{stored} !== null")
        visitor = tab.evaluate(stored)
        channel = db.session.execute(select(Channel).where(Channel.address == chat_desk))
        channel_id = channel.scalar_one().id
        db.session.rollback()
        inbound = InboundMessage(
            channel="chat",
            sender_kind="chat",
            sender=visitor,
            text="Wo ist mein Paket?",
            subject="Wo ist mein Paket?",
            channel_id=channel_id,
        )
        ticket_id = ingest(inbound).ticket.id
        pat = db.session.execute(select(Agent).where(Agent.name == "Pat Agent")).scalar_one()
        with unit_of_work.write_phase():
            services.update_ticket(db.session.get(Ticket, ticket_id), {"status": "solved"}, pat)
            unit_of_work.commit()
        with unit_of_work.write_phase():
            assert surveys.send_due(now=utcnow() + timedelta(minutes=61)) == 1
        db.session.rollback()

        # The question comes with five buttons; one picked, a comment, Send: the thanks.
        rating = tab.locator(".hd-message.hd-bot .hd-rating")
        expect(rating.locator("button.hd-star")).to_have_count(5)
        expect(rating.locator("button.hd-rate")).to_be_disabled()
        rating.locator('button.hd-star[data-rating="4"]').click()
        expect(rating.locator('button.hd-star[data-rating="4"]')).to_have_attribute(
            "aria-pressed", "true"
        )
        rating.locator("textarea.hd-comment").fill("Schnell, danke")
        rating.locator("button.hd-rate").click()
        expect(rating).to_contain_text("Thank you! Your rating helps us get better.")
        expect(rating.locator("button.hd-star")).to_have_count(0)
        assert errors == [], errors
    finally:
        context.close()
    db.session.expire_all()
    assert db.session.get(Ticket, ticket_id).csat["rating"] == 4
    assert db.session.get(Ticket, ticket_id).csat["comment"] == "Schnell, danke"
