"""Fixtures for the email channel tests: a real Dovecot, a real SMTP server, a mailbox.

Test modules import the fixtures they use (``from tests.email_fixtures import ...``).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest

from tests.imap_server import Dovecot, free_port


@pytest.fixture(scope="session")
def dovecot():
    """One Dovecot for the run (users ``support`` and ``customer``)."""
    if not (shutil.which("dovecot") or os.path.exists("/usr/sbin/dovecot")):
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd; make test does it)")
    server = Dovecot().start()
    yield server
    server.stop()


def _empty(server: Dovecot, user: str) -> None:
    """Delete every mail and every folder but INBOX of ``user``."""
    client = server.client(user)
    for _flags, _sep, name in client.list_folders():
        if name != "INBOX":
            client.delete_folder(name)
    client.select_folder("INBOX")
    uids = client.search(["ALL"])
    if uids:
        client.delete_messages(uids)
        client.expunge()
    client.logout()


@pytest.fixture
def imap(dovecot):
    """The Dovecot with empty mailboxes for this test."""
    for user in dovecot.users:
        _empty(dovecot, user)
    return dovecot


def deliver(
    server: Dovecot, raw: bytes, user: str = "support", folder: str = "INBOX", flags=()
) -> int:
    """APPEND one mail; return its UID."""
    client = server.client(user)
    try:
        answer = client.append(folder, raw, flags=flags)
        return int(answer.split(b"]")[0].split()[-1])  # APPENDUID <validity> <uid>
    finally:
        client.logout()


def make_mail(
    sender="ada@example.com",
    to="support@example.com",
    subject="Order 123 is late",
    text="Where is my order?",
    html=None,
    message_id=None,
    headers=None,
    attachments=(),
    name="Ada Lovelace",
) -> bytes:
    """A realistic mail as bytes."""
    mail = EmailMessage()
    mail["From"] = f"{name} <{sender}>" if name else sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = message_id or make_msgid(domain="mail.example.com")
    for key, value in (headers or {}).items():
        mail[key] = value
    mail.set_content(text)
    if html:
        mail.add_alternative(html, subtype="html")
    for filename, content_type, content in attachments:
        maintype, _, subtype = content_type.partition("/")
        mail.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return mail.as_bytes()


class SmtpRecorder:
    """An aiosmtpd handler that keeps what it receives, or refuses as told."""

    def __init__(self):
        self.received: list[dict] = []
        self.refuse_rcpt: str | None = None  # e.g. "550 5.1.1 no such user"
        self.relay = None  # a callable(raw bytes, recipients) run for every accepted mail
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        """Accept or refuse a recipient."""
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        """Keep the mail."""
        with self.lock:
            self.received.append(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "data": envelope.original_content or envelope.content,
                }
            )
        if self.relay is not None:
            self.relay(envelope.original_content or envelope.content, list(envelope.rcpt_tos))
        return "250 OK queued"


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free loopback port; ``.handler.received``."""
    from aiosmtpd.controller import Controller

    handler = SmtpRecorder()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.handler_obj = handler
    yield controller
    controller.stop()


@pytest.fixture
def mailbox(app, imap, smtp_server):
    """A mailbox ``Support`` <support@example.com> on the test Dovecot and SMTP server."""
    from helpdesk.agents.services import team_named
    from helpdesk.channels.email.mailboxes import add_mailbox
    from helpdesk.extensions import db

    channel = add_mailbox(
        "Support",
        imap.url(),
        f"smtp://127.0.0.1:{smtp_server.port}",
        "support@example.com",
        team_named("Support"),
    )
    db.session.commit()
    return channel


class DroppingProxy:
    """A TCP proxy to a server that cuts the connection after ``limit`` bytes from it."""

    def __init__(self, target_port: int, limit: int | None = None):
        self.target_port, self.limit = target_port, limit
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.cuts = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        """Serve connections until closed."""
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, None), daemon=True).start()
            threading.Thread(
                target=self._pipe, args=(upstream, client, self.limit), daemon=True
            ).start()

    def _pipe(self, source, target, limit) -> None:
        """Copy bytes one way; past ``limit`` close both ends."""
        sent = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) > limit:
                    target.sendall(data[: max(0, limit - sent)])
                    self.cuts += 1
                    break
                target.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def close(self) -> None:
        """Stop accepting."""
        self.listener.close()
