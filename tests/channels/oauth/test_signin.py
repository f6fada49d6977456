"""Connecting a mailbox by signing in with Microsoft or Google, against the local
stand-in of their OAuth endpoints (tests/fixtures/oauth.py): the authorization code
with PKCE (S256), the state bound to the admin's session and used once, the tokens
sealed at rest, the access token refreshed before it expires."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from helpdesk.channels.models import Channel
from helpdesk.channels.oauth import tokens
from helpdesk.extensions import db
from tests.fixtures.agents import login
from tests.fixtures.oauth import CLIENT_ID, PUBLIC_URL, sign_in

CALLBACK = f"{PUBLIC_URL}/settings/mailboxes/oauth/callback"


@pytest.fixture
def app_config(oauth_app_config):
    return oauth_app_config


@pytest.fixture
def admin_client(client, admin):
    login(client, admin.email)
    return client


def _mailbox(address: str) -> Channel:
    return db.session.execute(select(Channel).where(Channel.address == address)).scalar_one()


def test_signing_in_with_microsoft_uses_pkce_and_seals_the_tokens(admin_client, oauth_provider):
    answer, asked = sign_in(
        admin_client, oauth_provider, address="Support@Contoso.example", name="Contoso"
    )
    assert answer.status_code == 302
    assert asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"] == CALLBACK
    assert asked["code_challenge_method"] == "S256"
    assert asked["scope"].split() == [
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "https://outlook.office.com/SMTP.Send",
        "offline_access",
    ]
    grant = oauth_provider.grants[-1]  # the verifier goes only to the token endpoint
    assert grant["grant_type"] == "authorization_code" and grant["code_verifier"]
    assert grant["code_verifier"] not in str(asked)
    channel = _mailbox("support@contoso.example")
    assert answer.headers["Location"].endswith(f"/settings/mailboxes/{channel.id}")
    assert channel.name == "Contoso" and channel.settings["auth"] == "microsoft"
    assert channel.settings["imap"]["host"] == "outlook.office365.com"
    assert channel.settings["smtp"] == {
        "host": "smtp.office365.com",
        "port": 587,
        "tls": False,
        "starttls": True,
        "user": "support@contoso.example",
    }
    refresh = channel.secrets["refresh_token"]
    assert oauth_provider.refresh_tokens[refresh] == "support@contoso.example"
    assert oauth_provider.active(channel.secrets["access_token"]) == "support@contoso.example"
    assert int(channel.secrets["token_expires_at"]) > time.time() + 3000
    raw = db.session.execute(text("SELECT secrets FROM channels")).scalar_one()
    assert refresh not in str(raw)  # sealed at rest
    page = admin_client.get(f"/settings/mailboxes/{channel.id}").get_data(as_text=True)
    assert refresh not in page and channel.secrets["access_token"] not in page
    assert "Sign in again with Microsoft" in page


def test_the_state_is_the_admins_and_used_once(web_app, admin, oauth_provider):
    import requests

    admin_client = login(web_app.test_client(), admin.email)
    start = admin_client.get("/settings/mailboxes/oauth/google?address=help@example.org")
    back = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    callback = urlsplit(back.headers["Location"])
    path = f"{callback.path}?{callback.query}"
    # Another browser of the same admin does not hold this state.
    other = login(web_app.test_client(), admin.email)
    assert other.get(path).status_code == 404
    assert other.get("/settings/mailboxes/oauth/callback?state=x&code=y").status_code == 404
    done = admin_client.get(path)
    assert done.status_code == 302 and "/settings/mailboxes/" in done.headers["Location"]
    db.session.rollback()
    assert _mailbox("help@example.org").settings["auth"] == "google"
    assert admin_client.get(path).status_code == 404  # used
    # An expired flow is refused like an unknown one.
    start = admin_client.get("/settings/mailboxes/oauth/google?address=late@example.org")
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    with admin_client.session_transaction() as session:
        flows = session["mailbox_oauth_flows"]
        flows[-1]["expires"] = time.time() - 1
        session["mailbox_oauth_flows"] = flows
    late = admin_client.get(f"/settings/mailboxes/oauth/callback?state={state}&code=c")
    assert late.status_code == 404
    assert (
        db.session.execute(select(Channel).where(Channel.address == "late@example.org")).first()
        is None
    )


def test_bad_starts_are_refused(admin_client, app, web_app, make_agent, oauth_provider):
    # The sign-in form may lead on to the providers' sign-in pages, and nowhere else.
    policy = admin_client.get("/settings/mailboxes").headers["Content-Security-Policy"]
    assert f"form-action 'self' {oauth_provider.url};" in policy
    assert (
        admin_client.get("/settings/mailboxes/oauth/yahoo?address=a@b.example").status_code == 404
    )
    assert admin_client.get("/settings/mailboxes/oauth/google?address=nope").status_code == 422
    app.config["OAUTH_GOOGLE_CLIENT_ID"] = None  # not set up: no button, no flow
    assert (
        admin_client.get("/settings/mailboxes/oauth/google?address=a@b.example").status_code == 404
    )
    page = admin_client.get("/settings/mailboxes").get_data(as_text=True)
    assert "Sign in with Microsoft" in page and "Sign in with Google" not in page
    agent = make_agent("lead@example.com", role="lead", teams=["Support"])
    lead = login(web_app.test_client(), agent.email)
    assert lead.get("/settings/mailboxes/oauth/microsoft?address=a@b.example").status_code == 404


def test_the_cli_prints_the_link_that_starts_the_sign_in(app, admin_client, oauth_provider):
    runner = CliRunner()
    result = runner.invoke(
        app.cli,
        ["mailbox", "add", "Gmail", "--oauth", "google", "--address", "Desk@Gmail.example"],
    )
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[-1]
    assert (
        link
        == f"{PUBLIC_URL}/settings/mailboxes/oauth/google?address=desk%40gmail.example&name=Gmail"
    )
    start = admin_client.get(link.removeprefix(PUBLIC_URL))
    asked = parse_qs(urlsplit(start.headers["Location"]).query)
    assert start.headers["Location"].startswith(f"{oauth_provider.url}/o/oauth2/v2/auth?")
    assert asked["scope"] == ["https://mail.google.com/"]
    assert asked["access_type"] == ["offline"] and asked["login_hint"] == ["desk@gmail.example"]
    refused = runner.invoke(
        app.cli,
        [
            "mailbox",
            "add",
            "X",
            "--oauth",
            "google",
            "--address",
            "x@example.org",
            "--imap-url",
            "imap://a:b@h/INBOX",
        ],
    )
    assert refused.exit_code != 0


def test_the_access_token_is_refreshed_before_it_expires(admin_client, oauth_provider):
    sign_in(admin_client, oauth_provider, address="desk@example.net")
    channel = _mailbox("desk@example.net")
    first = channel.secrets["access_token"]
    asked = len(oauth_provider.grants)
    assert tokens.access_token(channel) == first  # an hour left: no request
    assert len(oauth_provider.grants) == asked
    # Four minutes left: inside the margin, so it is replaced now.
    channel.secrets = {**channel.secrets, "token_expires_at": str(int(time.time()) + 240)}
    db.session.commit()
    tokens.ensure_token(channel.id)
    channel = _mailbox("desk@example.net")
    assert oauth_provider.grants[-1]["grant_type"] == "refresh_token"
    assert channel.secrets["access_token"] != first
    assert oauth_provider.active(channel.secrets["access_token"]) == "desk@example.net"
    assert int(channel.secrets["token_expires_at"]) > time.time() + 3000
    # The refresh token was not rotated by the provider: the stored one stays.
    assert channel.secrets["refresh_token"] in oauth_provider.refresh_tokens
