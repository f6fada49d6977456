"""Files in live chat both ways, with a real Socket.IO visitor on the served app: the
visitor's file (size and type checked) reaches the agents as an attachment; an agent's
file reaches the visitor as a signed link that serves it."""

from __future__ import annotations

import io
import json

import pytest
import requests

from helpdesk.channels.chat.services import create_chat_channel
from helpdesk.extensions import db
from helpdesk.tickets.models import Attachment
from tests.channels.chat import test_browser
from tests.files.test_attachments import PNG
from tests.files.test_browser import shoot
from tests.fixtures.sockets import Listener, Visitor

SHOP = "https://shop.example"
# The shop's website and its chat channel, as the widget's own browser tests make them.
shop = test_browser.shop
chat_desk = test_browser.chat_desk


@pytest.mark.slow
def test_a_file_goes_from_visitor_to_agent_and_back(app, live_server, admin, api, make_token):
    channel, _ = create_chat_channel("Shop chat", team="Support", origins=[SHOP])
    db.session.commit()
    app.config["CHAT_UPLOAD_MAX_BYTES"] = 1000
    online = Listener(live_server, auth={"token": make_token(admin)})  # someone is at work
    visitor = Visitor(live_server, channel.address, SHOP)
    try:
        visitor.wait_for("session")
        sent = visitor.call("file", {"name": "lamp.png", "type": "image/png", "data": PNG})
        assert set(sent) == {"id", "ticket"}, sent
        echo = visitor.wait_for("message", where=lambda d: d["id"] == sent["id"])
        [mine] = echo["attachments"]
        assert mine["filename"] == "lamp.png" and mine["image"] is True
        # The agents get it as the message's attachment, downloadable by the team.
        listed = api.get(f"/api/v1/tickets/{sent['ticket']}/messages").json["items"]
        [attachment] = listed[-1]["attachments"]
        assert api.get(f"/attachments/{attachment['id']}").data == PNG
        # Too large, or a type visitors may not send: refused, nothing stored.
        big = visitor.call("file", {"name": "big.png", "type": "image/png", "data": PNG * 20})
        assert "larger than" in big["error"]
        exe = visitor.call(
            "file", {"name": "x.exe", "type": "application/x-msdownload", "data": b"MZ"}
        )
        assert "cannot be sent" in exe["error"]
        db.session.rollback()
        assert db.session.query(Attachment).count() == 1

        # An agent answers with a file: the visitor gets a link that serves it, inline.
        data = {
            "payload": json.dumps({"body": "Here is the manual."}),
            "files": [(io.BytesIO(b"%PDF-1.4 manual"), "manual.pdf", "application/pdf")],
        }
        reply = api.post(
            f"/api/v1/tickets/{sent['ticket']}/messages",
            data=data,
            content_type="multipart/form-data",
        )
        assert reply.status_code == 201, reply.json
        got = visitor.wait_for("message", where=lambda d: d["id"] == reply.json["id"])
        [link] = got["attachments"]
        assert link["filename"] == "manual.pdf" and link["url"].startswith("/chat/files/")
        served = requests.get(live_server + link["url"], timeout=10)
        assert served.content == b"%PDF-1.4 manual"
        assert served.headers["Content-Disposition"].startswith("attachment")
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert requests.get(live_server + link["url"] + "x", timeout=10).status_code == 404
    finally:
        visitor.close()
        online.close()


@pytest.mark.slow
def test_the_widget_sends_a_file_and_shows_the_agents_file(
    chromium, chat_desk, shop, live_server, api_as, make_token
):
    from playwright.sync_api import expect

    from helpdesk.agents.models import Agent
    from helpdesk.tickets.models import Ticket
    from tests.files.test_attachments import png

    pat = db.session.query(Agent).filter_by(email="pat@example.com").one()
    online = Listener(live_server, auth={"token": make_token(pat)})
    shop.show(test_browser.SHOP_PAGE % {"server": live_server, "key": chat_desk})
    context = test_browser._context(chromium)
    try:
        page, errors = test_browser._shop_tab(context, shop)
        test_browser._open(page)
        picture = png(60, 40)
        page.locator("input[type=file]").set_input_files(
            files=[{"name": "lamp.png", "mimeType": "image/png", "buffer": picture}]
        )
        thumb = page.locator(".hd-message.hd-visitor a.hd-file img.hd-thumb")
        expect(thumb).to_have_count(1)
        db.session.rollback()
        ticket = db.session.query(Ticket).one()
        data = {
            "payload": json.dumps({"body": "Die Anleitung."}),
            "files": [(io.BytesIO(b"%PDF-1.4 manual"), "manual.pdf", "application/pdf")],
        }
        reply = api_as(pat).post(
            f"/api/v1/tickets/{ticket.id}/messages", data=data, content_type="multipart/form-data"
        )
        assert reply.status_code == 201, reply.json
        expect(page.locator(".hd-message.hd-agent a.hd-file", has_text="manual.pdf")).to_have_count(
            1
        )
        page.wait_for_function(
            "() => { const i = document.querySelector('#helpdesk-chat').shadowRoot"
            ".querySelector('img.hd-thumb'); return i && i.complete && i.naturalWidth === 60; }"
        )
        assert not errors, errors
        shoot(page, "chat-files.png")
    finally:
        context.close()
        online.close()
