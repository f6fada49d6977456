"""``/settings/mailboxes``: the support mailboxes, their last poll and its error; add and
edit one (the servers, a live connection test before saving), pause and resume.

Passwords are write-only: never rendered back, a blank one on edit keeps the stored
one. Saving tests both connections first (as ``helpdesk mailbox add`` does) unless the
admin says to save anyway."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.automation.autoack import MAX_TEXT
from helpdesk.channels.email import mailboxes
from helpdesk.channels.email.mailboxes import EMAIL, Server
from helpdesk.channels.models import Channel
from helpdesk.channels.oauth import providers
from helpdesk.channels.settings import servers
from helpdesk.channels.settings.pages import bp, chosen_team, team_choices, text, when
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.web.pages import CONTENT_SECURITY_POLICY, get_or_404

SECURITY = {"tls": "TLS", "starttls": "STARTTLS", "none": ""}


def _mailbox_or_404(channel_id: int) -> Channel:
    """The mailbox with that id; 404 for any other channel."""
    channel = get_or_404(Channel, channel_id)
    if channel.kind != EMAIL:
        abort(404)
    return channel


@bp.get("/settings/mailboxes")
def mailbox_list():
    """Every mailbox: address, team, active or paused, last poll and its error."""
    rows = db.session.execute(
        select(Channel).where(Channel.kind == EMAIL).order_by(Channel.name)
    ).scalars()
    signin = providers.configured()
    response = make_response(
        render_template(
            "settings/mailboxes.html",
            mailboxes=[(m, when((m.state or {}).get("last_poll_at"))) for m in rows],
            providers=signin,
        )
    )
    if signin:  # the sign-in form leads on to the providers' sign-in pages
        origins = " ".join(sorted({providers.authorize_origin(p) for p in signin}))
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "form-action 'self'", f"form-action 'self' {origins}"
        )
    return response


def _servers(channel: Channel | None) -> tuple[dict, dict, dict]:
    """The form's IMAP and SMTP settings and passwords (None: keep the stored one)."""
    imap = servers.check_server(
        "imap",
        text("imap_host", 300),
        text("imap_port", 10),
        text("imap_security", 10),
        text("imap_user", 400),
        text("imap_folder", 300),
    )
    processed = text("imap_processed_folder", 300)
    if processed:
        imap["processed_folder"] = processed
    smtp = servers.check_server(
        "smtp",
        text("smtp_host", 300),
        text("smtp_port", 10),
        text("smtp_security", 10),
        text("smtp_user", 400),
    )
    passwords = {}
    for kind in ("imap", "smtp"):
        typed = request.form.get(f"{kind}_password") or ""
        if len(typed) > 1000:
            raise Invalid(_("This field is too long."), fields={f"{kind}_password": "too long"})
        passwords[f"{kind}_password"] = typed if typed or channel is None else None
    return imap, smtp, passwords


def _test(channel: Channel | None, imap: dict, smtp: dict, passwords: dict) -> dict:
    """Try both servers with the form's settings (a blank password: the stored one)."""
    stored = (channel.secrets or {}) if channel is not None else {}

    def password(kind: str) -> str:
        typed = passwords.get(f"{kind}_password")
        return typed if typed is not None else stored.get(f"{kind}_password") or ""

    imap_server = Server(
        imap["host"], imap["port"], imap["tls"], imap["user"], password("imap"), imap["folder"]
    )
    smtp_server = Server(
        smtp["host"],
        smtp["port"],
        smtp["tls"],
        smtp["user"],
        password("smtp"),
        starttls=smtp["starttls"],
    )
    if channel is not None and request.form.get("auth", "password") != "password":
        # a signed-in mailbox: try its stored access token (XOAUTH2), no password
        imap_server.token = smtp_server.token = stored.get("access_token") or ""
    return {"imap": servers.test_imap(imap_server), "smtp": servers.test_smtp(smtp_server)}


def _save(channel: Channel | None):
    """Validate, test the connections unless told not to, save; the form again on error."""
    results: dict = {}
    try:
        imap, smtp, passwords = _servers(channel)
        list_domains = text("list_domains", 2000).replace(",", " ").split()
        ack_text = text("auto_ack_text", MAX_TEXT)
        signature = text("signature", 2000).replace("\r\n", "\n")
        team = chosen_team()
        auth = text("auth", 20) or "password"
        signed_in = ((channel.settings or {}).get("auth") if channel else None) or "password"
        if auth not in ("password", signed_in):
            raise Invalid(
                _("Use the sign-in button to connect a mailbox with Microsoft or Google."),
                fields={"auth": "sign in first"},
            )
        if not request.form.get("save_anyway"):
            results = _test(channel, imap, smtp, passwords)
            if not all(check.ok for check in results.values()):
                raise Invalid(_("The connection test failed: nothing was saved."))
        with unit_of_work.write_phase():
            saved = mailboxes.save_mailbox(
                channel,
                text("name", 200),
                text("address", 400),
                imap,
                smtp,
                passwords,
                team=team,
                from_name=text("from_name", 200) or None,
                list_domains=list_domains,
                auth=auth,
                extra={
                    "auto_ack": bool(request.form.get("auto_ack")),
                    "auto_ack_text": ack_text,
                    # Blank: none (kept as "", so clearing it clears the stored one).
                    "signature": signature,
                },
            )
            unit_of_work.commit()
    except Invalid as exc:
        db.session.rollback()
        return _form(channel, exc, results), 422
    flash(_("Mailbox %(name)s saved.", name=saved.name))
    return redirect(url_for("channel_settings.mailbox_list"))


def _form(channel: Channel | None, error: Invalid | None = None, results: dict | None = None):
    """The add or edit form: the posted values again after an error (passwords never)."""
    settings = (channel.settings or {}) if channel is not None else {}
    imap, smtp = settings.get("imap") or {}, settings.get("smtp") or {}
    values = {
        "name": channel.name if channel else "",
        "address": channel.address if channel else "",
        "team": str(channel.team_id or "") if channel else "",
        "from_name": settings.get("from_name", ""),
        "auth": settings.get("auth", "password"),
        "imap_host": imap.get("host", ""),
        "imap_port": imap.get("port", ""),
        "imap_security": servers.security_of(imap, "imap") if imap else "tls",
        "imap_user": imap.get("user", ""),
        "imap_folder": imap.get("folder", "INBOX"),
        "imap_processed_folder": imap.get("processed_folder", ""),
        "smtp_host": smtp.get("host", ""),
        "smtp_port": smtp.get("port", ""),
        "smtp_security": servers.security_of(smtp, "smtp") if smtp else "starttls",
        "smtp_user": smtp.get("user", ""),
        "list_domains": " ".join(settings.get("list_domains", [])),
        "auto_ack": settings.get("auto_ack", False),
        "auto_ack_text": settings.get("auto_ack_text", ""),
        "signature": settings.get("signature", ""),
    }
    if request.method == "POST":
        values.update({k: v for k, v in request.form.items() if k in values})
        values["auto_ack"] = bool(request.form.get("auto_ack"))
    return render_template(
        "settings/mailbox.html",
        channel=channel,
        values=values,
        error=error,
        results={k: v.as_dict() for k, v in (results or {}).items()},
        teams=team_choices(),
        auth_methods=_methods(channel),
        provider=providers.PROVIDERS.get(settings.get("auth", "")),
        has_password={
            kind: bool((channel.secrets or {}).get(f"{kind}_password")) if channel else False
            for kind in ("imap", "smtp")
        },
    )


def _methods(channel: Channel | None) -> list[str]:
    """The sign-in methods the form offers: a password, or the provider signed in with."""
    auth = ((channel.settings or {}).get("auth") if channel is not None else None) or "password"
    return ["password"] + ([auth] if auth in mailboxes.AUTH_METHODS and auth != "password" else [])


@bp.route("/settings/mailboxes/new", methods=["GET", "POST"])
def new_mailbox():
    """Connect a new mailbox."""
    return _save(None) if request.method == "POST" else _form(None)


@bp.route("/settings/mailboxes/<int:channel_id>", methods=["GET", "POST"])
def edit_mailbox(channel_id: int):
    """Change a mailbox (a blank password keeps the stored one)."""
    channel = _mailbox_or_404(channel_id)
    return _save(channel) if request.method == "POST" else _form(channel)


@bp.post("/settings/mailboxes/test")
def test_connection():
    """The live "Test connection": the form's IMAP and SMTP settings tried now, as JSON
    (``id``: the mailbox being edited, whose stored passwords stand in for blank ones)."""
    ident = text("id", 12)
    channel = _mailbox_or_404(int(ident)) if ident.isdigit() else None
    try:
        imap, smtp, passwords = _servers(channel)
    except Invalid as exc:
        return jsonify({"error": {"message": exc.message, "fields": exc.fields}}), 422
    results = _test(channel, imap, smtp, passwords)
    return jsonify({kind: check.as_dict() for kind, check in results.items()})


@bp.post("/settings/mailboxes/<int:channel_id>/pause")
def pause_mailbox(channel_id: int):
    """Pause a mailbox: no polling, no replies through it, until resumed."""
    return _set_paused(channel_id, True)


@bp.post("/settings/mailboxes/<int:channel_id>/resume")
def resume_mailbox(channel_id: int):
    """Resume a paused mailbox."""
    return _set_paused(channel_id, False)


def _set_paused(channel_id: int, paused: bool):
    with unit_of_work.write_phase():
        channel = _mailbox_or_404(channel_id)
        mailboxes.set_paused(channel, paused)
        unit_of_work.commit()
    if paused:
        flash(_("Mailbox %(name)s paused.", name=channel.name))
    else:
        flash(_("Mailbox %(name)s resumed.", name=channel.name))
    return redirect(url_for("channel_settings.mailbox_list"))
