"""Signed-in mailboxes at work: the poll logs in to a real Dovecot with XOAUTH2 (its
``oauth2`` passdb asks the stand-in's introspection endpoint whose the token is) and
fetches mail; replies go out through aiosmtpd, whose XOAUTH2 checks the token the same
way; a revoked consent stops one mailbox, is shown, and the others go on."""

from __future__ import annotations

import base64
import time
from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select

from helpdesk.channels.base import DeliveryError
from helpdesk.channels.email import imap
from helpdesk.channels.email.adapter import smtp_send
from helpdesk.channels.models import Channel
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket
from tests.fixtures.agents import login
from tests.fixtures.dovecot import Dovecot, free_port
from tests.fixtures.email import SmtpRecorder, deliver, make_mail
from tests.fixtures.oauth import sign_in

pytestmark = pytest.mark.slow  # a Dovecot of its own
USERS = ("poll@example.com", "revoked@example.com", "going@example.com")


@pytest.fixture
def app_config(oauth_app_config):
    return oauth_app_config


@pytest.fixture(scope="module")
def oauth_dovecot(oauth_provider):
    """A Dovecot whose users also log in with a token the stand-in calls active."""
    server = Dovecot(users=USERS, introspection_url=f"{oauth_provider.url}/introspect")
    yield server.start()
    server.stop()


@pytest.fixture
def admin_client(client, admin):
    login(client, admin.email)
    return client


def _signed_in(client, provider, address: str, imap_port=None, smtp_port=None) -> Channel:
    """A mailbox signed in at the stand-in, its servers moved to the local ones."""
    answer, _asked = sign_in(client, provider, address=address)
    assert answer.status_code == 302
    db.session.rollback()
    channel = db.session.execute(select(Channel).where(Channel.address == address)).scalar_one()
    local = {"host": "127.0.0.1", "tls": False, "user": address}
    channel.settings = {
        **channel.settings,
        "imap": {**local, "port": imap_port or free_port(), "folder": "INBOX"},
        "smtp": {**local, "port": smtp_port or free_port(), "starttls": False},
    }
    db.session.commit()
    return channel


def _expire(channel: Channel) -> None:
    channel.secrets = {**channel.secrets, "token_expires_at": str(int(time.time()) + 5)}
    db.session.commit()


def test_the_poll_logs_in_with_xoauth2_and_fetches_mail(
    admin_client, oauth_provider, oauth_dovecot
):
    channel = _signed_in(admin_client, oauth_provider, USERS[0], oauth_dovecot.port)
    deliver(oauth_dovecot, make_mail(to=USERS[0], subject="Token login"), user=USERS[0])
    _expire(channel)  # the poll refreshes it first
    result = imap.poll_mailbox(channel.id)
    assert (result.fetched, result.stored, result.error) == (1, 1, None)
    assert oauth_provider.grants[-1]["grant_type"] == "refresh_token"
    assert f"user=<{USERS[0]}>, method=XOAUTH2" in oauth_dovecot.log()
    assert db.session.execute(select(Ticket.subject)).scalar_one() == "Token login"


def test_a_revoked_consent_is_shown_and_the_other_mailboxes_go_on(
    admin_client, client, oauth_provider, oauth_dovecot
):
    revoked = _signed_in(admin_client, oauth_provider, USERS[1], oauth_dovecot.port)
    going = _signed_in(admin_client, oauth_provider, USERS[2], oauth_dovecot.port)
    deliver(oauth_dovecot, make_mail(to=USERS[2], subject="Still here"), user=USERS[2])
    oauth_provider.revoke(USERS[1])
    _expire(revoked)
    results = {r.mailbox: r for r in imap.poll()}
    assert "invalid_grant" in results[USERS[1]].error
    assert (results[USERS[2]].stored, results[USERS[2]].error) == (1, None)
    db.session.rollback()
    assert "invalid_grant" in db.session.get(Channel, revoked.id).state["oauth_error"]
    assert db.session.get(Channel, going.id).state.get("oauth_error") is None
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json["mailboxes"] == {USERS[1]: "error: sign-in revoked"}
    listing = admin_client.get("/settings/mailboxes").get_data(as_text=True)
    assert listing.count("Sign-in revoked: sign in again.") == 1
    screen = admin_client.get(f"/settings/mailboxes/{revoked.id}").get_data(as_text=True)
    assert "AADSTS70000" in screen  # the provider's own words, for the admin
    # Consent given again: signing in once more clears the error.
    oauth_provider.revoked.discard(USERS[1])
    sign_in(admin_client, oauth_provider, address=USERS[1])
    db.session.rollback()
    assert "oauth_error" not in db.session.get(Channel, revoked.id).state
    assert "mailboxes" not in client.get("/healthz").json


class XOAuth2Recorder(SmtpRecorder):
    """aiosmtpd: XOAUTH2 logins accepted only with a token the stand-in calls active."""

    def __init__(self, provider):
        super().__init__()
        self.provider, self.logins = provider, []

    async def auth_XOAUTH2(self, server, args):
        user, _, rest = base64.b64decode(args[1]).decode().partition("\x01auth=Bearer ")
        user, token = user.removeprefix("user="), rest.rstrip("\x01")
        self.logins.append((user, token))
        return AuthResult(success=self.provider.active(token) == user, handled=False)


@pytest.fixture
def xoauth2_smtp(oauth_provider):
    from aiosmtpd.controller import Controller

    handler = XOAuth2Recorder(oauth_provider)
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        auth_require_tls=False,
        auth_exclude_mechanism=["LOGIN", "PLAIN"],
    )
    controller.start()
    yield handler, controller.port
    controller.stop()


def _mail(sender: str) -> EmailMessage:
    mime = EmailMessage()
    mime["From"], mime["To"], mime["Subject"] = sender, "ada@example.org", "Re: order"
    mime.set_content("It ships today.")
    return mime


def test_replies_go_out_with_xoauth2_and_a_fresh_token(admin_client, oauth_provider, xoauth2_smtp):
    handler, port = xoauth2_smtp
    address = "send@example.com"
    channel = _signed_in(admin_client, oauth_provider, address, smtp_port=port)
    _expire(channel)
    smtp_send(channel, _mail(address), "ada@example.org")
    db.session.commit()
    assert handler.logins == [(address, channel.secrets["access_token"])]
    assert oauth_provider.grants[-1]["grant_type"] == "refresh_token"
    assert handler.received[0]["to"] == ["ada@example.org"]
    # A token the server does not accept is a retryable failure (535), not a lost reply.
    channel.secrets = {**channel.secrets, "access_token": "at-forged"}
    with pytest.raises(DeliveryError) as refused:
        smtp_send(channel, _mail(address), "ada@example.org")
    assert "535" in str(refused.value) and not refused.value.permanent
    # The consent revoked: no token to log in with, the reply waits for a new sign-in.
    oauth_provider.revoke(address)
    _expire(channel)
    with pytest.raises(DeliveryError) as revoked:
        smtp_send(channel, _mail(address), "ada@example.org")
    assert "invalid_grant" in str(revoked.value) and not revoked.value.permanent
    assert len(handler.received) == 1
