"""The conversation page in Chromium: a mail's remote images are not fetched until the
agent chooses to load them for that message."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from helpdesk.channels.email.inbound import Mailbox, receive
from helpdesk.extensions import db
from tests.fixtures.browser import WAIT_MS, image_sentinel, log_in
from tests.fixtures.email import make_mail

pytestmark = pytest.mark.slow  # a browser against a live server

GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


class Pixels:
    """A web server somewhere else: records every path asked for, answers a GIF."""

    def __init__(self):
        self.paths: list[str] = []
        self.arrived = threading.Condition()
        pixels = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server name
                with pixels.arrived:
                    pixels.paths.append(self.path)
                    pixels.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.send_header("Content-Length", str(len(GIF)))
                self.end_headers()
                self.wfile.write(GIF)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, path: str) -> list[str]:
        """The paths asked for up to and including ``path`` (waits for it)."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: path in self.paths, timeout=WAIT_MS / 1000)
            return list(self.paths)


@pytest.fixture
def pixels():
    server = Pixels()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_remote_images_load_only_when_the_agent_asks(page, app, live_server, make_agent, pixels):
    from helpdesk.agents.services import team_named
    from helpdesk.channels.email.mailboxes import add_mailbox

    make_agent("pat@example.com", teams=["Support"], password="correct horse")
    channel = add_mailbox(
        "Support",
        "imap://u:p@127.0.0.1:1/INBOX",
        "smtp://127.0.0.1:1",
        "support@example.com",
        team_named("Support"),
    )
    db.session.commit()
    body = (
        f'<p>Hello <img src="{pixels.url}/track.gif?who=ada" width="1" height="1">'
        f'<img src="{pixels.url}/logo.gif" alt="logo"></p>'
    )
    receipt = receive(Mailbox.of(channel), make_mail(text="Hello", html=body))
    db.session.rollback()
    log_in(page, "pat@example.com")
    page.goto(f"/tickets/{receipt.ticket_id}")
    message = page.locator(f"article.message#m{receipt.message_id}")
    frame = message.locator("iframe.mail-html")
    expect(frame).to_be_attached()
    inside = page.frame_locator(f"#m{receipt.message_id} iframe.mail-html")
    expect(inside.locator("img[data-remote-src]")).to_have_count(2)
    # The frame has loaded (its images asked for or refused); then an image of the test's
    # own from the same server: nothing the mail holds came before it.
    page.wait_for_function(
        """id => { const f = document.querySelector(`#m${id} iframe.mail-html`);
                   return f.contentDocument && f.contentDocument.readyState === "complete"; }""",
        arg=receipt.message_id,
    )
    image_sentinel(page, f"{pixels.url}/sentinel.gif")
    assert pixels.wait_for("/sentinel.gif") == ["/sentinel.gif"]

    button = message.locator("button.load-images")
    expect(button).to_contain_text("Load remote images")
    expect(button).to_contain_text("Externe Bilder laden")
    button.click()
    seen = pixels.wait_for("/logo.gif")
    assert (
        "/track.gif?who=ada" in pixels.wait_for("/track.gif?who=ada") and seen[0] == "/sentinel.gif"
    )
    expect(inside.locator(f'img[src="{pixels.url}/logo.gif"]')).to_have_count(1)
    expect(button).to_have_count(0)
    assert not page.seen.errors, page.seen.report()
