"""A mailbox's IMAP and SMTP servers as a form gives them: validated as ``parse_url``
validates a URL, and tried live (log in, open the folder; EHLO, STARTTLS, log in), for the
screen's "Test connection" and the CLI's check before saving."""

from __future__ import annotations

import logging
import re
import smtplib
from dataclasses import dataclass

from flask_babel import gettext as _
from imapclient import IMAPClient

from helpdesk.channels.email.adapter import smtp_session
from helpdesk.channels.email.mailboxes import DEFAULT_PORTS, Server, imap_login
from helpdesk.errors import Invalid

log = logging.getLogger(__name__)
TIMEOUT = 15  # seconds: an admin waits for the answer
_HOST = re.compile(r"[a-z0-9.:\[\]-]+")


@dataclass
class Check:
    """The outcome of one connection test: ``ok`` and what the server said."""

    ok: bool
    detail: str

    def as_dict(self) -> dict:
        """For the screen's JSON answer."""
        return {"ok": self.ok, "detail": self.detail}


def check_server(kind: str, host, port, security, user, folder=None) -> dict:
    """The settings of one IMAP or SMTP server from a form's fields, validated as
    ``parse_url`` does; ``security``: "tls", "starttls" (SMTP) or "none"."""
    host = (host or "").strip().lower()
    if not host or len(host) > 253 or not _HOST.fullmatch(host):
        raise Invalid(_("Enter a host name."), fields={f"{kind}_host": "bad"})
    try:
        port = int(port) if str(port or "").strip() else None
    except ValueError:
        port = -1
    securities = ("tls", "starttls", "none") if kind == "smtp" else ("tls", "none")
    if security not in securities:
        raise Invalid(_("Choose how to secure the connection."), fields={f"{kind}_security": "bad"})
    if port is None:
        port = DEFAULT_PORTS[kind + ("s" if security == "tls" else "")]
    if not 0 < port < 65536:
        raise Invalid(_("The port is a number from 1 to 65535."), fields={f"{kind}_port": "bad"})
    user = (user or "").strip()
    if len(user) > 320:
        raise Invalid(_("The user name is too long."), fields={f"{kind}_user": "bad"})
    settings = {"host": host, "port": port, "tls": security == "tls", "user": user}
    if kind == "imap":
        folder = (folder or "").strip() or "INBOX"
        if len(folder) > 200:
            raise Invalid(_("The folder name is too long."), fields={"imap_folder": "bad"})
        settings["folder"] = folder
    else:
        settings["starttls"] = security == "starttls"
    return settings


def security_of(settings: dict, kind: str) -> str:
    """The form's "security" choice of stored server settings."""
    if settings.get("tls"):
        return "tls"
    return "starttls" if kind == "smtp" and settings.get("starttls") else "none"


def test_imap(imap: Server) -> Check:
    """Log in to the IMAP server and open the folder read-only."""
    try:
        client = IMAPClient(imap.host, port=imap.port, ssl=imap.tls, timeout=TIMEOUT)
        try:
            imap_login(client, imap)
            folder = client.select_folder(imap.folder, readonly=True)
        finally:
            client.shutdown()
    except Exception as exc:  # noqa: BLE001 - any failure is the admin's to see
        log.info("IMAP test of %s:%s failed: %s", imap.host, imap.port, type(exc).__name__)
        return Check(False, _describe(exc))
    count = int(folder.get(b"EXISTS", 0))
    return Check(True, _("%(folder)s opened, %(count)d messages.", folder=imap.folder, count=count))


def test_smtp(smtp: Server) -> Check:
    """Greet the SMTP server, secure the connection as set and log in when a user is set."""
    try:
        with smtp_session(smtp, TIMEOUT) as connection:
            code, _answer = connection.noop()
    except Exception as exc:  # noqa: BLE001 - any failure is the admin's to see
        log.info("SMTP test of %s:%s failed: %s", smtp.host, smtp.port, type(exc).__name__)
        return Check(False, _describe(exc))
    return Check(True, _("The server answered (%(code)d).", code=code))


def _describe(exc: Exception) -> str:
    """An exception as the admin reads it (servers never echo the password)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        answer = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"{exc.smtp_code} {answer}"
    return f"{type(exc).__name__}: {exc}"[:500]
