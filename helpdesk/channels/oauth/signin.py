"""Connecting a mailbox by signing in with its provider: the flow's start (a state, a
PKCE verifier, the provider's sign-in link) and its end (the code traded for tokens, the
mailbox saved with the provider's servers and the tokens sealed in its secrets).

Where the flow waits in between is the caller's: the web keeps it in the admin's signed
session, bound to that admin, single-use, expiring after ``FLOW_SECONDS``."""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlencode

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from helpdesk.channels.email.mailboxes import EMAIL, KEEP, save_mailbox
from helpdesk.channels.models import Channel
from helpdesk.channels.oauth.providers import (
    OAuthError,
    authorize_url,
    exchange_code,
    pkce_pair,
    provider,
)
from helpdesk.channels.oauth.tokens import token_secrets
from helpdesk.customers.identities import InvalidIdentity, normalise_email
from helpdesk.errors import Invalid, NotFound
from helpdesk.extensions import db

FLOW_SECONDS = 600  # the admin has this long to sign in at the provider


def start(provider_name: str, address: str, name: str = "") -> tuple[str, dict]:
    """The provider's sign-in link and the flow to keep until the callback."""
    found = provider(provider_name)
    if found is None:
        raise NotFound(_("Signing in with this provider is not set up here."))
    try:
        address = normalise_email(address)
    except InvalidIdentity as exc:
        raise Invalid(str(exc), fields={"address": "not an email address"}) from exc
    name = (name or "").strip() or address
    if len(name) > 100:
        raise Invalid(_("The mailbox needs a name of 1 to 100 characters."), fields={"name": "bad"})
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    flow = {
        "state": state,
        "verifier": verifier,
        "provider": found.name,
        "address": address,
        "name": name,
        "expires": time.time() + FLOW_SECONDS,
    }
    return authorize_url(found, state, challenge, address), flow


def start_link(provider_name: str, address: str, name: str = "") -> str:
    """The helpdesk's own link that starts signing in (``helpdesk mailbox add --oauth``):
    opened by a logged-in admin, it leads on to the provider."""
    start(provider_name, address, name)  # refuses what the link would refuse
    base = current_app.config.get("PUBLIC_URL")
    if not base:
        raise Invalid(_("Set PUBLIC_URL: the provider sends the admin back there."))
    query = urlencode({"address": normalise_email(address), **({"name": name} if name else {})})
    return f"{base}/settings/mailboxes/oauth/{provider_name}?{query}"


def finish(flow: dict, code: str) -> Channel:
    """Trade the code for tokens and save the mailbox (a new one, or the one with that
    address or name); flushes. Invalid when the provider refuses."""
    found = provider(flow["provider"])
    if found is None:
        raise NotFound(_("Signing in with this provider is not set up here."))
    if not code or len(code) > 4000:
        raise Invalid(_("The provider sent no authorization code."), fields={"code": "missing"})
    try:
        tokens = exchange_code(found, code, flow["verifier"])
    except OAuthError as exc:
        raise Invalid(_("Signing in failed: %(reason)s", reason=str(exc))) from exc
    channel = (
        db.session.execute(
            select(Channel).where(
                Channel.kind == EMAIL,
                (Channel.address == flow["address"]) | (Channel.name == flow["name"]),
            )
        )
        .scalars()
        .first()
    )
    settings = (channel.settings or {}) if channel is not None else {}
    same = settings.get("auth") == found.name  # signing in again keeps its servers
    imap = settings["imap"] if same else {**found.imap, "user": flow["address"]}
    smtp = settings["smtp"] if same else {**found.smtp, "user": flow["address"]}
    old_refresh = (channel.secrets or {}).get("refresh_token", "") if same and channel else ""
    kept = token_secrets(tokens, old_refresh)
    if not kept["refresh_token"]:
        raise Invalid(_("The provider gave no refresh token: allow offline access and retry."))
    channel = save_mailbox(
        channel,
        channel.name if channel is not None else flow["name"],
        flow["address"],
        imap,
        smtp,
        {"imap_password": "", "smtp_password": "", **kept},
        team=KEEP,
        auth=found.name,
    )
    state = dict(channel.state or {})
    if state.pop("oauth_error", None) is not None:
        channel.state = state
    db.session.flush()
    return channel
