"""Polling support mailboxes over IMAP (imapclient): new mail in, nothing lost, nothing twice.

Per mailbox ``Channel.state`` keeps the folder's UIDVALIDITY, the last UID
looked at, UIDs to retry and UIDs still pending. Mail is fetched in batches
with ``BODY.PEEK[]`` (so nothing is marked seen early), each mail is ingested
and committed, and only then is the batch marked seen (or moved to the
processed folder) and the progress saved. A crash anywhere in between makes
the next poll fetch those mails again, and ingest deduplicates them on their
Message-ID. When UIDVALIDITY changes, UIDs mean nothing any more: the folder
is compared with the database by Message-ID and only unknown mail is fetched.
A lease in the state keeps two workers from polling one mailbox at once.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import date

from imapclient import DELETED, SEEN, IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy import select

from helpdesk import jobs
from helpdesk.channels.email.headers import key_of_headers
from helpdesk.channels.email.inbound import (
    HEAD_BYTES,
    Mailbox,
    Receipt,
    limits,
    receive_many,
    too_large,
    unreadable,
)
from helpdesk.channels.email.mailboxes import (
    EMAIL,
    Server,
    imap_login,
    mailboxes,
    our_addresses,
    save_state,
    server,
)
from helpdesk.channels.email.reader import Reader, Reading, read_processes
from helpdesk.channels.inbound import InboundMessage
from helpdesk.channels.models import Channel
from helpdesk.channels.oauth.providers import OAuthError
from helpdesk.channels.oauth.tokens import ensure_token, is_oauth
from helpdesk.extensions import db
from helpdesk.tickets.ingest import ingest
from helpdesk.tickets.models import Message

log = logging.getLogger(__name__)
# imapclient logs protocol traffic (with the LOGIN line) at DEBUG: keep credentials out.
logging.getLogger("imapclient").setLevel(logging.INFO)
BATCH = 50
MAX_ATTEMPTS = 5  # then the mail is stored raw for a person, with the reason
MAX_BATCH_BYTES = 50 * 2**20  # a batch of large mails is fetched in smaller pieces
POLL_BUDGET = 240  # seconds of work per poll, within RQ's job timeout; the rest comes next poll


@dataclass
class PollResult:
    """What one poll of one mailbox did."""

    mailbox: str
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    own: int = 0
    failed: int = 0
    busy: bool = False
    error: str | None = None

    def summary(self) -> str:
        """One line for the log and the CLI."""
        if self.busy:
            return f"{self.mailbox}: another poll is running"
        line = (
            f"{self.mailbox}: {self.fetched} fetched, {self.stored} stored, "
            f"{self.duplicates} already stored, {self.own} from our own addresses, "
            f"{self.failed} to retry"
        )
        return line + (f"; error: {self.error}" if self.error else "")


def connect(imap: Server) -> IMAPClient:
    """A logged-in IMAP connection."""
    client = IMAPClient(imap.host, port=imap.port, ssl=imap.tls, timeout=60)
    try:
        imap_login(client, imap)
    except Exception:
        client.shutdown()
        raise
    return client


def poll_all() -> int:
    """Periodic job: queue a poll of every active mailbox on the ``mail`` queue."""
    ids = [channel.id for channel in mailboxes()]
    for channel_id in ids:
        jobs.submit("helpdesk.channels.email.imap:poll_mailbox", channel_id, queue_name="mail")
    return len(ids)


def poll(name: str | None = None) -> list[PollResult]:
    """Poll the mailboxes (or the one called ``name``) now, in this process."""
    return [poll_mailbox(channel.id) for channel in mailboxes(name)]


def poll_mailbox(
    channel_id: int, timings: dict | None = None, budget: float = POLL_BUDGET, batch: int = BATCH
) -> PollResult:
    """Job: fetch and ingest the new mail of one mailbox (``timings`` collects seconds)."""
    db.session.rollback()  # the poll owns its transactions; start from fresh rows
    channel = db.session.get(Channel, channel_id)
    if channel is None or channel.kind != EMAIL or not channel.active:
        return PollResult(mailbox=str(channel_id), error="no such active mailbox")
    result = PollResult(channel.name)
    token = uuid.uuid4().hex
    if not save_state(channel_id, token, take=True):
        result.busy = True
        return result
    try:
        if is_oauth(channel):
            ensure_token(channel_id)  # refreshed when due; a revoked consent raises
        _poll(channel, token, result, timings if timings is not None else {}, budget, batch)
    except (IMAPClientError, OSError, OAuthError) as exc:  # down, login refused, conn. lost
        db.session.rollback()
        result.error = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("poll of mailbox %s stopped: %s", result.mailbox, result.error)
    finally:
        save_state(channel_id, token, release=True, error=result.error)
    log.info("poll %s", result.summary())
    return result


def _poll(
    channel: Channel, token: str, result: PollResult, timings: dict, budget: float, batch: int
) -> None:
    """Fetch, ingest, mark, save progress; batch by batch."""
    imap = server(channel, "imap")
    processed = (channel.settings.get("imap") or {}).get("processed_folder")
    state = dict(channel.state or {})
    own = our_addresses()
    channel_id, mailbox = channel.id, Mailbox.of(channel)
    client = connect(imap)
    try:
        info = client.select_folder(imap.folder)
        validity = int(info[b"UIDVALIDITY"])
        if processed and not client.folder_exists(processed):
            client.create_folder(processed)
        if state.get("uidvalidity") == validity:
            last = int(state.get("last_uid") or 0)
            retry = {int(uid): n for uid, n in (state.get("retry") or {}).items()}
            new = [uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last]
            todo = sorted(set(state.get("pending") or []) | set(retry) | set(new))
        else:
            last = int(info.get(b"UIDNEXT") or 1) - 1
            retry, todo = {}, _unimported(client, state)
            if state.get("uidvalidity") is not None:
                log.warning(
                    "mailbox %s: UIDVALIDITY changed; %s mails not stored yet found by Message-ID",
                    result.mailbox,
                    len(todo),
                )
            state = {"since": state.get("since") or date.today().isoformat()}
        save_state(
            channel_id,
            token,
            validity=validity,
            last_uid=last,
            retry=retry,
            pending=[uid for uid in todo if uid <= last],
            since=state.get("since"),
        )
        deadline = time.monotonic() + budget
        max_bytes = limits()[0]
        sizes = _sizes(client, todo)
        batches = _batches(todo, sizes, batch, max_bytes)

        def write(
            number: int,
            mails: list[tuple[int, bytes, int | None]],
            done: list[int],
            reading: Reading,
        ) -> None:
            """Ingest a fetched batch, mark it, save the progress."""
            nonlocal last
            made = reading.result(timings)
            for uid, receipt in _store(mailbox, mails, retry, own, timings, made).items():
                if receipt is None:
                    result.failed += 1
                    continue
                done.append(uid)
                result.stored += receipt.outcome == "stored"
                result.duplicates += receipt.outcome == "duplicate"
                result.own += receipt.outcome == "own"
            began = time.perf_counter()
            _mark(client, done, processed)
            timings["mark"] = timings.get("mark", 0.0) + time.perf_counter() - began
            last = max(last, *batches[number])
            later = [uid for rest in batches[number + 1 :] for uid in rest]
            save_state(
                channel_id,
                token,
                validity=validity,
                last_uid=last,
                retry=retry,
                pending=[uid for uid in later if uid <= last],
            )

        # Each batch is read (in worker processes) while the one before it is written.
        with Reader(read_processes(), len(batches), len(todo)) as reader:
            written: tuple | None = None
            for number, chunk in enumerate(batches):
                began = time.perf_counter()
                mails, done = _fetch(client, chunk, sizes, max_bytes, retry)
                timings["fetch"] = timings.get("fetch", 0.0) + time.perf_counter() - began
                result.fetched += len(mails)
                reading = reader.start(mailbox, [raw for _, raw, size in mails if size is None])
                if written is not None:
                    write(*written)
                written = (number, mails, done, reading)
                if time.monotonic() > deadline:
                    break
            if written is not None:
                write(*written)
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - the connection may be gone already
            try:
                client.shutdown()
            except Exception:  # noqa: BLE001
                pass


def _sizes(client: IMAPClient, uids: list[int]) -> dict[int, int]:
    """Each mail's RFC822.SIZE, asked before any mail is fetched."""
    sizes: dict[int, int] = {}
    for start in range(0, len(uids), 1000):
        for uid, data in client.fetch(uids[start : start + 1000], ["RFC822.SIZE"]).items():
            sizes[uid] = int(data.get(b"RFC822.SIZE") or 0)
    return sizes


def _fetch(
    client: IMAPClient, uids: list[int], sizes: dict[int, int], max_bytes: int, retry: dict
) -> tuple[list[tuple[int, bytes, int | None]], list[int]]:
    """The mails of ``uids`` as ``(uid, raw, None)``, or ``(uid, head, size)`` with only
    their first HEAD_BYTES when over ``max_bytes``; and the UIDs deleted since the search."""
    whole = [uid for uid in uids if sizes.get(uid, 0) <= max_bytes]
    large = [uid for uid in uids if sizes.get(uid, 0) > max_bytes]
    fetched = dict(client.fetch(whole, ["BODY.PEEK[]"])) if whole else {}
    if large:
        fetched.update(client.fetch(large, [f"BODY.PEEK[]<0.{HEAD_BYTES}>"]))
    mails: list[tuple[int, bytes, int | None]] = []
    gone = []
    for uid in uids:
        data = fetched.get(uid) or {}
        raw = data.get(b"BODY[]")
        head = data.get(b"BODY[]<0>")
        if raw is None and head is None:  # deleted by someone else since the search
            gone.append(uid)
            retry.pop(uid, None)
            continue
        # over HELPDESK_MAIL_MAX_BYTES only its head was fetched: with its whole size
        mails.append((uid, raw, None) if raw is not None else (uid, head or b"", sizes[uid]))
    return mails, gone


def _batches(uids: list[int], sizes: dict[int, int], batch: int, max_bytes: int) -> list[list[int]]:
    """``uids`` in fetch batches of at most ``batch`` mails and MAX_BATCH_BYTES."""
    batches: list[list[int]] = []
    current: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        size = HEAD_BYTES if size > max_bytes else size
        if current and (len(current) >= batch or total + size > MAX_BATCH_BYTES):
            batches.append(current)
            current, total = [], 0
        current.append(uid)
        total += size
    return batches + ([current] if current else [])


def _unimported(client: IMAPClient, state: dict) -> list[int]:
    """UIDs to fetch on a first poll (unseen mail) or after UIDVALIDITY changed.

    After a change, every unseen mail and every mail since the mailbox was
    connected is compared by Message-ID (or header digest) with what is stored.
    """
    candidates = set(client.search(["UNSEEN"]))
    if state.get("uidvalidity") is None:
        return sorted(candidates)
    if state.get("since"):
        candidates |= set(client.search(["SINCE", date.fromisoformat(state["since"])]))
    keys: dict[int, str] = {}
    ordered = sorted(candidates)
    for start in range(0, len(ordered), 500):
        headers = client.fetch(ordered[start : start + 500], ["BODY.PEEK[HEADER]"])
        for uid, data in headers.items():
            keys[uid] = key_of_headers(data.get(b"BODY[HEADER]") or b"")
    known: set[str | None] = set()
    values = list(set(keys.values()))
    for start in range(0, len(values), 500):
        known |= set(
            db.session.execute(
                select(Message.external_id).where(
                    Message.channel == EMAIL, Message.external_id.in_(values[start : start + 500])
                )
            ).scalars()
        )
    db.session.rollback()
    return [uid for uid in ordered if keys.get(uid) not in known]


def _store(
    channel: Mailbox,
    mails: list[tuple[int, bytes, int | None]],
    retry: dict[int, int],
    own: set[str],
    timings: dict,
    read: list[InboundMessage | None],
) -> dict[int, Receipt | None]:
    """Ingest a fetch's mails together (``(uid, raw, size)``: ``raw`` only the mail's head
    when its whole ``size`` is over the limit); a mail that failed counts an attempt
    (None), never dropped. ``read``: the messages ``email.reader`` made of the whole mails,
    in order (None: made here)."""
    made: list[tuple[bytes, InboundMessage | None]] = []
    outcomes: dict[int, Receipt | Exception] = {}
    uids = []
    whole = iter(read)
    for uid, raw, size in mails:
        try:
            made.append((raw, too_large(raw, size, channel) if size is not None else next(whole)))
            uids.append(uid)
        except Exception as exc:  # noqa: BLE001 - counted as this mail's attempt below
            outcomes[uid] = exc
    try:
        receipts = receive_many(channel, made, timings, own)
    except Exception as exc:  # noqa: BLE001 - e.g. the database went away: each retried
        db.session.rollback()
        receipts = [exc] * len(made)
    outcomes.update(zip(uids, receipts, strict=True))
    return {uid: _outcome(channel, uid, raw, retry, outcomes[uid]) for uid, raw, _ in mails}


def _outcome(
    channel: Mailbox, uid: int, raw: bytes, retry: dict[int, int], outcome: Receipt | Exception
) -> Receipt | None:
    """A stored mail's receipt; for a failed one, count the attempt (None) until the last,
    which stores the mail raw for a person with the reason."""
    if isinstance(outcome, Receipt):
        retry.pop(uid, None)
        return outcome
    exc = outcome
    attempts = retry.get(uid, 0) + 1
    log.error(
        "mail UID %s of mailbox %s not stored (attempt %s): %s: %s",
        uid,
        channel.name,
        attempts,
        type(exc).__name__,
        str(exc)[:300],
    )
    if attempts >= MAX_ATTEMPTS:
        try:
            reason = f"storing it failed {attempts} times: {type(exc).__name__}: {exc}"
            stored = ingest(unreadable(raw, channel, reason[:500]))
            retry.pop(uid, None)
            return Receipt("stored", stored.message.id, stored.ticket.id)
        except Exception:  # noqa: BLE001 - keep it for the next poll
            db.session.rollback()
    retry[uid] = attempts
    return None


def _mark(client: IMAPClient, uids: list[int], processed: str | None) -> None:
    """Mark stored mail seen, or move it to the processed folder."""
    if not uids:
        return
    if not processed:
        client.add_flags(uids, [SEEN], silent=True)
    elif client.has_capability("MOVE"):
        client.add_flags(uids, [SEEN], silent=True)
        client.move(uids, processed)
    else:
        client.copy(uids, processed)
        client.add_flags(uids, [SEEN, DELETED], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:
            client.expunge()
