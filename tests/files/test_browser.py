"""The main path in Chromium: an agent attaches a file to an email reply; the customer's
mail server receives it as a MIME attachment and the thread shows it as a thumbnail.
(``HELPDESK_SCREENSHOTS=DIR`` keeps screenshots of the page there.)"""

from __future__ import annotations

import os
from email import message_from_bytes, policy

import pytest
from playwright.sync_api import expect

from helpdesk.extensions import db
from tests.files.test_attachments import png
from tests.fixtures.browser import log_in

pytestmark = pytest.mark.slow  # a browser against a live server


def shoot(page, name: str) -> None:
    """A screenshot for the docs, when asked for."""
    folder = os.environ.get("HELPDESK_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name), full_page=True)


def test_reply_with_a_file_reaches_the_customer_as_an_attachment(
    page, app, live_server, make_agent, make_customer, make_ticket, smtp_server, tmp_path
):
    from helpdesk.agents.services import team_named
    from helpdesk.channels.email.mailboxes import add_mailbox

    pat = make_agent("pat@example.com", teams=["Support"], name="Pat", password="correct horse")
    add_mailbox(
        "Support",
        "imap://u:p@127.0.0.1:1/INBOX",
        f"smtp://127.0.0.1:{smtp_server.port}",
        "support@example.com",
        team_named("Support"),
    )
    db.session.commit()
    ada = make_customer("Ada Lovelace", emails=["ada@example.com"])
    ticket = make_ticket(
        ada, "Broken lamp", body="It flickers.", channel="email", team=pat.teams[0].id
    )
    photo = tmp_path / "wiring.png"
    picture = png(240, 160)
    photo.write_bytes(picture)

    log_in(page, "pat@example.com")
    page.goto(f"/tickets/{ticket}")
    reply = page.locator("form#reply")
    reply.locator("textarea[name=body]").fill("Please check the wiring as shown.")
    reply.locator("input[type=file][name=files]").set_input_files(str(photo))
    reply.locator("summary", has_text="Cc / Bcc").click()
    reply.locator("input[name=cc]").fill("workshop@example.com")
    reply.locator("button[type=submit]").click()

    thumbnail = page.locator("#thread article.message.out img.thumbnail")
    expect(thumbnail).to_have_count(1)
    expect(thumbnail).to_have_attribute("alt", "wiring.png")
    page.wait_for_function(
        "() => { const i = document.querySelector('#thread img.thumbnail');"
        " return i && i.complete && i.naturalWidth === 240; }"
    )
    expect(reply.locator("input[type=file]")).to_have_value("")
    [envelope] = smtp_server.handler_obj.received
    assert envelope["to"] == ["ada@example.com", "workshop@example.com"]
    mail = message_from_bytes(envelope["data"], policy=policy.default)
    [part] = list(mail.iter_attachments())
    assert part.get_filename() == "wiring.png" and part.get_content() == picture
    assert not page.seen.errors, page.seen.report()
    shoot(page, "reply-with-attachment.png")

    page.goto(f"/tickets/new?customer={ada.id}")
    expect(page.locator("form#compose")).to_be_visible()
    shoot(page, "compose.png")
