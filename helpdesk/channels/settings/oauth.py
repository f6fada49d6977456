"""Signing a mailbox in with Microsoft or Google from ``/settings/mailboxes``: the start
sends the admin to the provider, the callback (the redirect URI registered in the
provider's console) trades the code and saves the mailbox.

The flow waits in the admin's signed session cookie under its random ``state``: bound
to this admin's browser, taken out on first use, refused once expired."""

from __future__ import annotations

import time

from flask import abort, flash, redirect, request, session, url_for
from flask_babel import gettext as _

from helpdesk import unit_of_work
from helpdesk.channels.oauth import signin
from helpdesk.channels.settings.pages import bp
from helpdesk.errors import Invalid
from helpdesk.extensions import db

FLOWS = "mailbox_oauth_flows"
MAX_FLOWS = 5  # flows begun and not finished that one session keeps


@bp.get("/settings/mailboxes/oauth/<provider>")
def mailbox_oauth_start(provider: str):
    """Send the admin to the provider to sign in as ``?address=`` (``&name=``: the
    mailbox's name, default the address)."""
    if provider not in ("microsoft", "google"):
        abort(404)
    link, flow = signin.start(
        provider, request.args.get("address", "")[:400], request.args.get("name", "")[:200]
    )
    now = time.time()
    flows = [f for f in session.get(FLOWS, []) if f.get("expires", 0) > now]
    session[FLOWS] = [*flows[-(MAX_FLOWS - 1) :], flow]
    return redirect(link)


@bp.get("/settings/mailboxes/oauth/callback")
def mailbox_oauth_callback():
    """The provider sends the admin back here with ``code`` and ``state``."""
    state = request.args.get("state", "")
    flows = session.get(FLOWS, [])
    flow = next((f for f in flows if state and f.get("state") == state), None)
    if flow is None:
        abort(404)  # unknown, used or another browser's state
    session[FLOWS] = [f for f in flows if f is not flow]  # single use
    if flow.get("expires", 0) <= time.time():
        abort(404)
    if request.args.get("error"):
        reason = (request.args.get("error_description") or request.args["error"])[:300]
        flash(_("Signing in failed: %(reason)s", reason=reason))
        return redirect(url_for("channel_settings.mailbox_list"))
    try:
        with unit_of_work.write_phase():
            channel = signin.finish(flow, request.args.get("code", ""))
            unit_of_work.commit()
    except Invalid as exc:
        db.session.rollback()
        flash(exc.message)
        return redirect(url_for("channel_settings.mailbox_list")), 303
    flash(_("Mailbox %(name)s signed in.", name=channel.name))
    return redirect(url_for("channel_settings.edit_mailbox", channel_id=channel.id))
