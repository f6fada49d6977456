"""The Twilio webhooks' spool: no inbound SMS or call is lost while the database is down.

Twilio does not retry an inbound SMS or call that answered an error, so every signed
request is first written to a file in ``SPOOL_DIR`` (``HELPDESK_SPOOL_DIR``, else
``instance/spool/``), fsynced, with an exclusive ``flock`` held while the request is
handled. Handled, the file is removed; when the database cannot be reached it stays, the
caller gets a TwiML answer that needs no database (an SMS: an empty answer; a call:
take a message), and the periodic job ``drain`` handles it once the database is back.
Handling is idempotent on ``MessageSid``/``CallSid``, so a request handled twice (a
crash between the commit and the removal) is stored once.

The spool is a folder on one machine: the web processes and whoever runs ``drain``
(the scheduler's jobs: a worker with Redis, ``helpdesk serve`` without) share it.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from flask import current_app
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from twilio.twiml.messaging_response import MessagingResponse
from werkzeug.datastructures import MultiDict

from helpdesk import unit_of_work
from helpdesk.channels.twilio import outbound as twilio_outbound
from helpdesk.channels.twilio import sms as twilio_sms
from helpdesk.channels.twilio import voice as twilio_voice
from helpdesk.extensions import db

log = logging.getLogger(__name__)
FAILED = "failed"  # requests that cannot be handled at all (kept for an operator)


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached (down, cut, locked, unopenable)."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _sms(form, raw: bytes, args, replay: bool) -> Any:
    twilio_sms.receive(form, raw)
    return MessagingResponse()


def _sms_status(form, raw: bytes, args, replay: bool) -> Any:
    with unit_of_work.writing():
        twilio_sms.delivery_status(form, args.get("message"))
        unit_of_work.commit()
    return MessagingResponse()


def _voice(form, raw: bytes, args, replay: bool) -> Any:
    # A replayed call is long over: it is recorded, but no agent's screen pops.
    _, response = twilio_voice.incoming(form, pop=not replay)
    return response


def _voice_status(form, raw: bytes, args, replay: bool) -> Any:
    with unit_of_work.writing():
        response = twilio_voice.status(form, args.get("agent"))
        unit_of_work.commit()
    return response


def _voice_outbound(form, raw: bytes, args, replay: bool) -> Any:
    return twilio_outbound.dial(form)


def _voice_recording(form, raw: bytes, args, replay: bool) -> Any:
    with unit_of_work.writing():
        response = twilio_outbound.recording(form)
        unit_of_work.commit()
    return response


HANDLERS: dict[str, Callable[[Any, bytes, Any, bool], Any]] = {
    "sms": _sms,
    "sms_status": _sms_status,
    "voice": _voice,
    "voice_status": _voice_status,
    "voice_outbound": _voice_outbound,
    "voice_recording": _voice_recording,
}


def fallback(kind: str, form) -> Any:
    """What Twilio hears while the database is down (the request is spooled)."""
    if kind.startswith("voice"):
        return twilio_voice.answer_without_database(form, incoming=kind == "voice")
    return MessagingResponse()


def handle(kind: str, form, raw: bytes, args, replay: bool = False) -> Any:
    """Handle one webhook request of ``kind``; return its TwiML."""
    return HANDLERS[kind](form, raw, args, replay)


def spool_dir() -> Path:
    """The spool folder (made when missing)."""
    path = Path(current_app.config["SPOOL_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def _fsync_dir(path: Path) -> None:
    """Make a rename or creation in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Entry:
    """A spooled request, locked by its holder until ``done`` or ``keep``."""

    path: Path
    fd: int

    def done(self) -> None:
        """Handled: remove the file (a lost removal only means one idempotent replay)."""
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)

    def keep(self) -> None:
        """Not handled: leave the file for ``drain``."""
        os.close(self.fd)


def write(kind: str, path: str, query: str, raw: bytes) -> Entry:
    """Write a request durably (fsynced file and folder), locked for its handler."""
    directory = spool_dir()
    name = f"{time.time_ns():020d}-{kind}-{uuid.uuid4().hex[:12]}.json"
    record = {
        "kind": kind,
        "path": path,
        "query": query,
        "body": base64.b64encode(raw).decode("ascii"),
        "received_at": time.time(),
    }
    temporary = directory / (name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, json.dumps(record).encode())
        os.fsync(fd)
        os.rename(temporary, directory / name)
        _fsync_dir(directory)
    except BaseException:
        os.close(fd)
        temporary.unlink(missing_ok=True)
        raise
    return Entry(directory / name, fd)


def _form(body: bytes) -> MultiDict:
    """A spooled form body as the request's form."""
    return MultiDict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def pending() -> list[Path]:
    """The spooled requests, oldest first."""
    return sorted(spool_dir().glob("*.json"))


def drain() -> int:
    """Job: handle the spooled requests in the order they came; stop at the first one the
    database is still down for. Returns how many were handled."""
    handled = 0
    for path in pending():
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue  # handled meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # its request is being handled right now
        entry = Entry(path, fd)
        if os.fstat(fd).st_nlink == 0:  # handled and removed before we locked it
            entry.keep()
            continue
        try:
            record = json.loads(path.read_bytes())
            body = base64.b64decode(record["body"])
            handle(record["kind"], _form(body), body, _form(record["query"].encode()), True)
        except Exception as exc:
            rollback()
            if database_unavailable(exc):
                entry.keep()
                log.warning("spool: the database is still unavailable (%s)", exc)
                break
            log.exception("spool: %s cannot be handled; moved to %s/", path.name, FAILED)
            (path.parent / FAILED).mkdir(exist_ok=True)
            os.rename(path, path.parent / FAILED / path.name)
            entry.keep()
            continue
        entry.done()
        handled += 1
    if handled:
        log.info("spool: %d spooled Twilio request(s) handled", handled)
    return handled


def rollback() -> None:
    """Forget the failed transaction (the connection may be gone: that is fine)."""
    try:
        db.session.rollback()
    except Exception:  # a dead connection cannot roll back; the pool discards it
        log.debug("rollback after a failed spooled request failed", exc_info=True)
