"""A signed-in mailbox's tokens: kept in the channel's sealed ``secrets`` (the refresh
token, the access token and when it expires), refreshed a little before they expire.

A refused refresh (``invalid_grant``: the consent was revoked, the password changed)
is written to the mailbox's ``state["oauth_error"]``, shown on its settings screen and
in ``/healthz``, until an admin signs in again."""

from __future__ import annotations

import logging
import time

from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.channels.models import Channel
from helpdesk.channels.oauth.providers import PROVIDERS, OAuthError, refresh
from helpdesk.extensions import db

log = logging.getLogger(__name__)
MARGIN = 300  # seconds before its expiry an access token is replaced


def is_oauth(channel: Channel) -> bool:
    """Does the mailbox sign in with a provider's token (not a password)?"""
    return (channel.settings or {}).get("auth") in PROVIDERS


def token_secrets(tokens: dict, old_refresh: str = "") -> dict:
    """The secrets to keep from a token answer (a missing refresh token keeps the old)."""
    lifetime = int(tokens.get("expires_in") or 3600)
    return {
        "refresh_token": tokens.get("refresh_token") or old_refresh,
        "access_token": tokens["access_token"],
        "token_expires_at": str(int(time.time()) + lifetime),
    }


def access_token(channel: Channel) -> str:
    """The mailbox's access token, refreshed first when it expires within ``MARGIN``.
    The new tokens (and a revoked consent's mark) are set on the row, not flushed: the
    caller writes them (the poll's ``ensure_token`` commits; a reply's delivery carries
    them into the transaction that records the send). OAuthError when the provider
    refuses."""
    stored = dict(channel.secrets or {})
    expires = int(stored.get("token_expires_at") or 0)
    if stored.get("access_token") and expires - MARGIN > time.time():
        return stored["access_token"]
    found = PROVIDERS[channel.settings["auth"]]
    if not stored.get("refresh_token"):
        raise OAuthError(f"mailbox {channel.name!r} has no refresh token: sign in again")
    try:
        tokens = refresh(found, stored["refresh_token"])
    except OAuthError as exc:
        if exc.revoked:
            channel.state = {**(channel.state or {}), "oauth_error": str(exc)[:500]}
            log.warning("mailbox %s: consent revoked: %s", channel.name, exc)
        raise
    channel.secrets = {**stored, **token_secrets(tokens, stored["refresh_token"])}
    state = dict(channel.state or {})
    if state.pop("oauth_error", None) is not None:
        channel.state = state
    return channel.secrets["access_token"]


def ensure_token(channel_id: int) -> None:
    """Refresh a signed-in mailbox's access token if due, in a transaction of its own
    under the row's lock (two polls or workers refresh once); commits, also the mark of
    a revoked consent before raising."""
    with unit_of_work.writing():
        db.session.rollback()
        channel = db.session.execute(
            select(Channel)
            .where(Channel.id == channel_id)
            .with_for_update(of=Channel)
            .execution_options(populate_existing=True)
        ).scalar_one()
        if not is_oauth(channel):
            db.session.rollback()
            return
        try:
            access_token(channel)
        except OAuthError:
            db.session.commit()
            raise
        db.session.commit()


def revoked_mailboxes() -> dict[str, str]:
    """Mailbox name → the provider's refusal, for every mailbox whose consent is gone."""
    rows = db.session.execute(select(Channel).where(Channel.kind == "email")).scalars()
    return {c.name: c.state["oauth_error"] for c in rows if (c.state or {}).get("oauth_error")}
