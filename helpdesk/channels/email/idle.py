"""IMAP IDLE: poll a mailbox the moment the server announces new mail.

Scheduled polls stay the safety net; IDLE only makes new mail arrive sooner.
Each mailbox gets one thread holding one IDLE connection (re-issued well
within the 29 minutes RFC 2177 allows); servers without IDLE are polled on
an interval instead. The poll itself is ``email_imap.poll_mailbox``, so the
lease keeps an IDLE-triggered poll and a scheduled one from running together.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask, current_app
from imapclient.exceptions import IMAPClientError

from helpdesk.channels.email.imap import connect, poll_mailbox
from helpdesk.channels.email.mailboxes import mailboxes, server
from helpdesk.channels.models import Channel
from helpdesk.extensions import db

log = logging.getLogger(__name__)
IDLE_SECONDS = 600  # re-issue IDLE this often (RFC 2177: at most 29 minutes)
RETRY_SECONDS = 30  # after a lost connection


def _new_mail(responses) -> bool:
    """Whether untagged IDLE responses announce mail (``* n EXISTS``)."""
    return any(len(item) > 1 and item[1] in (b"EXISTS", b"RECENT") for item in responses)


def watch(
    channel_id: int,
    stop: threading.Event,
    idle_seconds: float = IDLE_SECONDS,
    fallback_seconds: float = 60,
) -> int:
    """Poll ``channel_id`` now and whenever mail arrives, until ``stop``; return polls run."""
    polls = 0
    while not stop.is_set():
        poll_mailbox(channel_id)
        polls += 1
        channel = db.session.get(Channel, channel_id)
        if channel is None or not channel.active:
            return polls
        imap = server(channel, "imap")
        state = dict(channel.state or {})  # what the poll saw (last_uid)
        db.session.rollback()  # hold no transaction while waiting
        try:
            client = connect(imap)
        except (IMAPClientError, OSError) as exc:
            log.warning("IDLE on mailbox %s: cannot connect: %s", channel_id, exc)
            stop.wait(RETRY_SECONDS)
            continue
        try:
            selected = client.select_folder(imap.folder, readonly=True)
            if arrived_since_poll(selected, state):
                continue  # mail came between the poll and now: IDLE would not announce it
            if not client.has_capability("IDLE"):
                stop.wait(fallback_seconds)
                continue
            client.idle()
            deadline = time.monotonic() + idle_seconds
            while not stop.is_set() and time.monotonic() < deadline:
                # Short checks so that ``stop`` is honoured promptly.
                if _new_mail(client.idle_check(timeout=1)):
                    break
            client.idle_done()
        except (IMAPClientError, OSError) as exc:
            log.warning("IDLE on mailbox %s interrupted: %s", channel_id, exc)
            stop.wait(1)
        finally:
            try:
                client.logout()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                client.shutdown()
    return polls


def arrived_since_poll(selected: dict, state: dict) -> bool:
    """Whether the folder (as SELECT answered) holds a mail newer than the last the poll
    took: one delivered after the poll's search, before IDLE began, which IDLE never
    announces (it reports only what arrives while it runs)."""
    uidnext, validity = selected.get(b"UIDNEXT"), selected.get(b"UIDVALIDITY")
    if uidnext is None or validity is None or state.get("uidvalidity") != int(validity):
        return False
    return int(uidnext) - 1 > int(state.get("last_uid") or 0)


def _watch_in_app(app: Flask, channel_id: int, stop: threading.Event) -> None:
    """``watch`` in a thread with its own app context (its own database session)."""
    with app.app_context():
        try:
            watch(channel_id, stop)
        finally:
            db.session.remove()


def watch_all(name: str | None = None, stop: threading.Event | None = None) -> None:
    """Watch every active mailbox (or the one called ``name``) until ``stop`` is set."""
    stop = stop or threading.Event()
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy
    threads = [
        threading.Thread(
            target=_watch_in_app,
            args=(app, channel.id, stop),
            name=f"idle-{channel.name}",
            daemon=True,
        )
        for channel in mailboxes(name)
    ]
    for thread in threads:
        thread.start()
    try:
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=1)
    except KeyboardInterrupt:
        stop.set()
