"""A mail's HTML in the agent's frame: remote images blocked until the agent loads
them for that message, sizing and positioning CSS dropped, for mail stored before too."""

from __future__ import annotations

import html

import pytest

from helpdesk.channels.email.inbound import Mailbox, receive
from helpdesk.extensions import db
from helpdesk.tickets.html import FRAME_POLICY, clean_html, framed
from helpdesk.tickets.models import Message
from tests.fixtures.agents import login
from tests.fixtures.email import make_mail

TRACKED = (
    '<p style="color:red;width:1px;height:1px;margin-left:-900px;padding:0">Hello'
    '<img src="https://tracker.example/p.gif?who=ada" alt="logo">'
    '<img src="http://10.0.0.1/admin/reboot"><img src="/logout"><img src="//evil.example/x">'
    '<img alt="a>b" src="https://tracker.example/2.gif"></p>'
)


def test_remote_images_wait_and_other_sources_are_dropped():
    shown, remote = framed(clean_html(TRACKED))
    assert remote
    assert shown.count('data-remote-src="') == 3
    assert 'data-remote-src="https://tracker.example/p.gif?who=ada"' in shown
    assert ' src="' not in shown  # nothing in the frame loads by itself
    assert "/logout" not in shown and "evil.example" not in shown
    assert 'style="color:red;"' in shown  # sizing and positioning gone, colour kept
    assert framed(clean_html("<p>Only text</p>")) == ("<p>Only text</p>", False)


def test_mail_stored_before_is_framed_the_same():
    old = '<p style="width:1px;margin:0 0 0 -900px;color:blue">x<img src="https://t.example/p"></p>'
    shown, remote = framed(old)  # as the older cleaner stored it
    assert remote and 'style="color:blue;"' in shown and ' src="' not in shown


@pytest.fixture
def ticket_page(app, client, make_agent):
    """The conversation page of a tracked mail, as a logged-in agent gets it."""
    from helpdesk.agents.services import team_named
    from helpdesk.channels.email.mailboxes import add_mailbox

    make_agent("pat@example.com", teams=["Support"])
    channel = add_mailbox(
        "Support",
        "imap://u:p@127.0.0.1:1/INBOX",
        "smtp://127.0.0.1:1",
        "support@example.com",
        team_named("Support"),
    )
    db.session.commit()
    receipt = receive(Mailbox.of(channel), make_mail(text="Hello", html=TRACKED))
    login(client, "pat@example.com")
    response = client.get(f"/tickets/{receipt.ticket_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True), db.session.get(Message, receipt.message_id)


def test_the_conversation_page_frames_the_mail_with_images_blocked(ticket_page):
    page, message = ticket_page
    assert "tracker.example" in message.body_html  # stored as cleaned; blocked when shown
    frame = html.unescape(page.split('srcdoc="', 1)[1].split('"></iframe>', 1)[0])
    assert f'<meta http-equiv="Content-Security-Policy" content="{FRAME_POLICY}">' in frame
    assert 'data-remote-src="https://tracker.example/p.gif?who=ada"' in frame
    assert ' src="' not in frame.split("<body>", 1)[1]
    assert "Load remote images" in page and "Externe Bilder laden" in page
    assert f'class="load-images" data-message="{message.id}"' in page
