"""The channel settings screens through the test client: admins only (404 to others),
forms validated by the same services as the CLI, passwords and identity secrets never
rendered back, and every change audited. The connection test's servers are real: a
closed port here; Dovecot and aiosmtpd in test_browser.py."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from helpdesk.audit.models import AuditEvent
from helpdesk.channels.models import Channel
from helpdesk.extensions import db
from tests.fixtures.agents import login, page_csrf
from tests.fixtures.dovecot import free_port

PASSWORD = "Zq-9 very secret!"
ROUTES = [
    ("GET", "/settings/mailboxes"),
    ("GET", "/settings/mailboxes/new"),
    ("POST", "/settings/mailboxes/new"),
    ("GET", "/settings/mailboxes/{email}"),
    ("POST", "/settings/mailboxes/{email}"),
    ("POST", "/settings/mailboxes/test"),
    ("POST", "/settings/mailboxes/{email}/pause"),
    ("POST", "/settings/mailboxes/{email}/resume"),
    ("GET", "/settings/phone-numbers"),
    ("GET", "/settings/phone-numbers/new"),
    ("POST", "/settings/phone-numbers/new"),
    ("GET", "/settings/phone-numbers/{phone}"),
    ("POST", "/settings/phone-numbers/{phone}"),
    ("POST", "/settings/phone-numbers/{phone}/delete"),
    ("GET", "/settings/chat-widgets"),
    ("GET", "/settings/chat-widgets/new"),
    ("POST", "/settings/chat-widgets/new"),
    ("GET", "/settings/chat-widgets/{chat}"),
    ("POST", "/settings/chat-widgets/{chat}"),
    ("POST", "/settings/chat-widgets/{chat}/rotate-secret"),
]


def _mailbox_form(csrf: str, **changes) -> dict:
    """A mailbox form as the screen posts it: servers on closed loopback ports."""
    form = {
        "csrf_token": csrf,
        "name": "Support",
        "address": "support@example.com",
        "team": "",
        "auth": "password",
        "imap_host": "127.0.0.1",
        "imap_port": str(free_port()),
        "imap_security": "none",
        "imap_user": "support",
        "imap_password": PASSWORD,
        "imap_folder": "INBOX",
        "smtp_host": "127.0.0.1",
        "smtp_port": str(free_port()),
        "smtp_security": "none",
        "smtp_user": "support",
        "smtp_password": PASSWORD,
        "save_anyway": "1",
    }
    form.update(changes)
    return form


@pytest.fixture
def admin_client(client, admin):
    """The test client logged in as the admin; ``.csrf`` the session's CSRF token."""
    login(client, admin.email)
    client.csrf = page_csrf(client)
    return client


@pytest.fixture
def channels(app):
    """One channel of each kind, by kind."""
    from helpdesk.channels.chat.widgets import save_widget
    from helpdesk.channels.email.mailboxes import add_mailbox
    from helpdesk.channels.twilio.numbers import save_number

    mailbox = add_mailbox(
        "Box", f"imap://u:{PASSWORD}@127.0.0.1:1/INBOX", "smtp://127.0.0.1:1", "box@example.com"
    )
    phone = save_number(None, "+49 30 1234567")
    chat, _secret = save_widget(None, "Shop", ["https://shop.example"])
    db.session.commit()
    return {"email": mailbox.id, "phone": phone.id, "chat": chat.id}


@pytest.mark.parametrize("role", ["agent", "lead"])
def test_only_admins_see_the_channel_settings(client, make_agent, channels, role):
    agent = make_agent("someone@example.com", role=role, teams=["Support"])
    login(client, agent.email)
    csrf = page_csrf(client)
    for method, path in ROUTES:
        url = path.format(**channels)
        answer = client.open(url, method=method, data={"csrf_token": csrf})
        assert answer.status_code == 404, f"{method} {url}: {answer.status_code}"
    assert db.session.get(Channel, channels["phone"]) is not None  # nothing removed


def test_a_mailbox_is_saved_and_its_password_never_shown_back(admin_client, admin):
    answer = admin_client.post("/settings/mailboxes/new", data=_mailbox_form(admin_client.csrf))
    assert answer.status_code == 302, answer.get_data(as_text=True)
    channel = db.session.execute(select(Channel).where(Channel.kind == "email")).scalar_one()
    assert channel.secrets == {"imap_password": PASSWORD, "smtp_password": PASSWORD}
    assert channel.settings["auth"] == "password"
    assert channel.settings["imap"] == {
        "host": "127.0.0.1",
        "port": channel.settings["imap"]["port"],
        "tls": False,
        "user": "support",
        "folder": "INBOX",
    }
    # Stored encrypted, as every channel secret.
    raw = db.session.execute(text("SELECT secrets FROM channels")).scalar_one()
    assert PASSWORD not in str(raw)
    pages = [
        admin_client.get("/settings/mailboxes"),
        admin_client.get(f"/settings/mailboxes/{channel.id}"),
        admin_client.get("/api/v1/audit?object_type=channel"),
        admin_client.get("/settings/audit"),
        admin_client.post(
            "/settings/mailboxes/test",
            data=_mailbox_form(admin_client.csrf, id=str(channel.id), imap_password=""),
        ),
    ]
    for page in pages:
        assert page.status_code == 200, page.request.path
        assert PASSWORD not in page.get_data(as_text=True), page.request.path
    assert 'name="imap_password"' in pages[1].get_data(as_text=True)

    # A blank password on edit keeps the stored one; a typed one replaces it (audited as
    # changed, never with the value).
    form = _mailbox_form(
        admin_client.csrf, imap_password="", smtp_password="", name="Sales", signature="Acme Sales"
    )
    assert admin_client.post(f"/settings/mailboxes/{channel.id}", data=form).status_code == 302
    db.session.expire_all()
    assert channel.name == "Sales" and channel.settings["signature"] == "Acme Sales"
    assert "Acme Sales</textarea>" in admin_client.get(
        f"/settings/mailboxes/{channel.id}"
    ).get_data(as_text=True)
    assert channel.secrets["imap_password"] == PASSWORD
    form = _mailbox_form(admin_client.csrf, smtp_password="new one", name="Sales")
    assert admin_client.post(f"/settings/mailboxes/{channel.id}", data=form).status_code == 302
    db.session.expire_all()
    assert channel.secrets == {"imap_password": PASSWORD, "smtp_password": "new one"}
    events = (
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.object_type == "channel", AuditEvent.object_id == channel.id)
            .order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )
    assert [e.action for e in events] == ["channel.create", "channel.update", "channel.update"]
    assert events[0].agent_id == admin.id
    assert events[2].after["passwords_changed"] == ["smtp_password"]
    assert "passwords_changed" not in events[1].after
    assert "new one" not in str([(e.before, e.after) for e in events])


def test_the_mailbox_form_validates_as_the_cli(admin_client):
    bad = {
        "imap_port": "99999",
        "smtp_security": "ssl",
        "address": "not an address",
        "name": "",
        "imap_host": "",
        "auth": "kerberos",
    }
    for field, value in bad.items():
        form = _mailbox_form(admin_client.csrf, **{field: value})
        answer = admin_client.post("/settings/mailboxes/new", data=form)
        assert answer.status_code == 422, field
        page = answer.get_data(as_text=True)
        assert 'class="error form-error"' in page
        assert PASSWORD not in page  # not even the password just typed
    assert db.session.execute(select(Channel.id)).first() is None


def test_saving_tests_the_connection_first(admin_client):
    form = _mailbox_form(admin_client.csrf)
    del form["save_anyway"]
    answer = admin_client.post("/settings/mailboxes/new", data=form)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "The connection test failed: nothing was saved." in page
    assert re.search(r'check-result failed" data-kind="imap".*ConnectionRefusedError', page)
    assert db.session.execute(select(Channel.id)).first() is None
    answer = admin_client.post("/settings/mailboxes/test", data=form)
    assert answer.json["imap"]["ok"] is False and answer.json["smtp"]["ok"] is False
    assert "ConnectionRefusedError" in answer.json["smtp"]["detail"]
    answer = admin_client.post("/settings/mailboxes/test", data={**form, "imap_port": "x"})
    assert answer.status_code == 422 and answer.json["error"]["fields"] == {"imap_port": "bad"}


def test_pause_and_resume(admin_client, channels):
    from helpdesk.channels.email.mailboxes import mailboxes

    box = channels["email"]
    admin_client.post(f"/settings/mailboxes/{box}/pause", data={"csrf_token": admin_client.csrf})
    assert mailboxes() == []  # not polled
    assert "paused" in admin_client.get("/settings/mailboxes").get_data(as_text=True)
    admin_client.post(f"/settings/mailboxes/{box}/resume", data={"csrf_token": admin_client.csrf})
    assert [m.id for m in mailboxes()] == [box]


def test_phone_numbers_added_edited_and_removed(admin_client, admin):
    from helpdesk.agents.services import team_named

    team = team_named("Hotline")
    db.session.commit()
    form = {"csrf_token": admin_client.csrf, "number": "12 call me", "team": str(team.id)}
    answer = admin_client.post("/settings/phone-numbers/new", data=form)
    assert answer.status_code == 422 and "phone" in answer.get_data(as_text=True).lower()
    form["number"] = "+49 30 1234567"
    assert admin_client.post("/settings/phone-numbers/new", data=form).status_code == 302
    phone = db.session.execute(select(Channel).where(Channel.kind == "phone")).scalar_one()
    assert (phone.address, phone.team_id, phone.name) == ("+49301234567", team.id, "+49301234567")
    assert "+49301234567" in admin_client.get("/settings/phone-numbers").get_data(as_text=True)
    for field, value in {"hours": "sometimes", "timezone": "Mars/Base", "language": "x"}.items():
        answer = admin_client.post(
            f"/settings/phone-numbers/{phone.id}", data={**form, field: value}
        )
        assert answer.status_code == 422, field
    edit = {**form, "name": "Hotline", "hours": "mon-fri 09:00-17:00", "timezone": "Europe/Berlin"}
    assert admin_client.post(f"/settings/phone-numbers/{phone.id}", data=edit).status_code == 302
    db.session.expire_all()
    assert phone.settings == {"hours": "mon-fri 09:00-17:00", "timezone": "Europe/Berlin"}
    assert phone.name == "Hotline"
    # The CLI saves through the same service: a second number with the same name is refused.
    result = CliRunner().invoke(
        admin_client.application.cli, ["phone", "add", "+4940999", "--name", "Hotline"]
    )
    assert result.exit_code != 0 and "exists already" in result.output
    answer = admin_client.post(
        f"/settings/phone-numbers/{phone.id}/delete", data={"csrf_token": admin_client.csrf}
    )
    assert answer.status_code == 302
    db.session.expire_all()
    assert db.session.execute(select(Channel.id)).first() is None
    actions = db.session.execute(
        select(AuditEvent.action).where(AuditEvent.object_type == "channel").order_by(AuditEvent.id)
    ).scalars()
    assert list(actions) == ["channel.create", "channel.update", "channel.delete"]


def test_chat_widget_secret_shown_once_and_rotated(admin_client):
    from helpdesk.channels.chat.services import identity_hash

    form = {
        "csrf_token": admin_client.csrf,
        "name": "Shop",
        "team": "",
        "origins": "https://shop.example\nhttp://127.0.0.1:8080/",
        "greeting": "Hallo!",
        "offline_message": "",
        "color": "#0F766E",
        "text_color": "#ffffff",
    }
    for field, value in {
        "origins": "shop.example",
        "color": "teal",
        "text_color": "#14b8a6",
    }.items():
        answer = admin_client.post("/settings/chat-widgets/new", data={**form, field: value})
        assert answer.status_code == 422, field
    answer = admin_client.post("/settings/chat-widgets/new", data=form)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    widget = db.session.execute(select(Channel).where(Channel.kind == "chat")).scalar_one()
    secret = widget.secrets["identity_secret"]
    page = answer.get_data(as_text=True)
    assert secret in page
    assert widget.settings["origins"] == ["https://shop.example", "http://127.0.0.1:8080"]
    assert widget.settings["color"] == "#0f766e"
    assert widget.settings["offline_message"].startswith("We are not online")
    snippet = f'data-channel="{widget.address}" data-color="#0f766e"'
    again = admin_client.get(f"/settings/chat-widgets/{widget.id}").get_data(as_text=True)
    assert secret not in again and snippet in again.replace("&#34;", '"').replace("&quot;", '"')
    assert secret not in admin_client.get("/settings/chat-widgets").get_data(as_text=True)
    answer = admin_client.post(
        f"/settings/chat-widgets/{widget.id}/rotate-secret", data={"csrf_token": admin_client.csrf}
    )
    db.session.expire_all()
    rotated = widget.secrets["identity_secret"]
    assert rotated != secret and rotated in answer.get_data(as_text=True)
    from helpdesk.channels.chat.services import _verified_email

    assert (
        _verified_email(widget, f"a@example.com:{identity_hash(secret, 'a@example.com')}") is None
    )
    token = f"a@example.com:{identity_hash(rotated, 'a@example.com')}"
    assert _verified_email(widget, token) == "a@example.com"
    actions = db.session.execute(
        select(AuditEvent.action).where(AuditEvent.object_type == "channel").order_by(AuditEvent.id)
    ).scalars()
    assert list(actions) == ["channel.create", "channel.rotate_secret"]


def test_the_cli_saves_through_the_same_services(app):
    runner = CliRunner()
    result = runner.invoke(
        app.cli, ["chat", "add", "Shop", "--origin", "https://shop.example", "--team", "Web"]
    )
    assert result.exit_code == 0, result.output
    widget = db.session.execute(select(Channel).where(Channel.kind == "chat")).scalar_one()
    first = widget.secrets["identity_secret"]
    assert f'data-channel="{widget.address}" data-color="#2563eb"' in result.output
    assert first in result.output
    result = runner.invoke(app.cli, ["chat", "add", "Other", "--origin", "shop.example"])
    assert result.exit_code != 0 and "not a website address" in result.output
    result = runner.invoke(app.cli, ["chat", "rotate-secret", "Shop"])
    db.session.expire_all()
    assert result.exit_code == 0 and widget.secrets["identity_secret"] in result.output
    assert widget.secrets["identity_secret"] != first

    assert runner.invoke(app.cli, ["phone", "add", "+49 40 999999"]).exit_code == 0
    result = runner.invoke(app.cli, ["phone", "remove", "+4940999999"])
    assert result.exit_code == 0, result.output
    actions = db.session.execute(
        select(AuditEvent.action).where(AuditEvent.object_type == "channel").order_by(AuditEvent.id)
    ).scalars()
    assert list(actions) == [
        "channel.create",
        "channel.rotate_secret",
        "channel.create",
        "channel.delete",
    ]
