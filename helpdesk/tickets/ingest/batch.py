"""Ingest in batches: many inbound messages in one transaction, their rows bulk-inserted.

An IMAP poll's fetch, an import or a drained spool hands ``ingest_many`` a list of
messages. Each goes through the same steps as ``ingest`` (``stage``: dedup, match the
sender, thread, SLA, audit trail, the rows; ``finish``: bounces, opt-outs, realtime
events and follow-up jobs for after the commit), but nothing is flushed per message:
the rows of many messages go out in one flush, where SQLAlchemy writes each table's
rows as one multi-row ``INSERT ... RETURNING`` (insertmanyvalues), and the batch
commits once.

Queries see only flushed rows, so a message that depends on one staged before it in
the batch (the same sender or customer, the same provider id, a reference to it) first
flushes what is staged: it then threads exactly as it would one at a time. When
anything in the batch fails, the whole transaction is rolled back and every message
is ingested alone (``ingest``), so one poisoned message never holds back the rest and,
with the dedup on the provider's id, nothing is stored twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import lazyload

from helpdesk import unit_of_work
from helpdesk.channels.inbound import InboundMessage
from helpdesk.customers.identities import InvalidIdentity, normalise
from helpdesk.customers.models import Customer, Identity
from helpdesk.customers.services import organizations_for_emails, prefetched_domains
from helpdesk.extensions import db
from helpdesk.sla import clocks as sla
from helpdesk.tickets.ingest import (
    IngestResult,
    Staged,
    finish,
    ingest,
    prefetched_senders,
    stage,
    stored_duplicate,
)
from helpdesk.tickets.models import Message

log = logging.getLogger(__name__)


def batch_size() -> int:
    """Messages per transaction (``HELPDESK_INGEST_BATCH``; 1: one at a time)."""
    return max(1, int(current_app.config.get("INGEST_BATCH", 50)))


def ingest_many(inbounds: Sequence[InboundMessage]) -> list[IngestResult | Exception]:
    """Store ``inbounds`` in one transaction (in ``batch_size()`` chunks), one at a time
    when a chunk fails; for each, its result or the error that kept it out."""
    results: list[IngestResult | Exception] = []
    size = batch_size()
    for start in range(0, len(inbounds), size):
        results += _chunk(inbounds[start : start + size])
    return results


def _chunk(inbounds: Sequence[InboundMessage]) -> list[IngestResult | Exception]:
    """One transaction for the chunk, or each message alone after any failure."""
    if len(inbounds) == 1:
        return [_alone(inbounds[0])]
    try:
        try:
            results = _committed(inbounds)
        except (IntegrityError, OperationalError):
            # A concurrent ingest made the same customer or message first (or, on SQLite,
            # held the write lock): once more, the batch then finds its rows.
            db.session.rollback()
            results = _committed(inbounds)
    except Exception as exc:  # noqa: BLE001 - whatever it was, each message alone decides
        db.session.rollback()
        log.warning(
            "a batch of %s messages failed (%s: %s): storing them one at a time",
            len(inbounds),
            type(exc).__name__,
            str(exc)[:300],
        )
        return [_alone(inbound) for inbound in inbounds]
    unit_of_work.run_ready()
    return list(results)


def _committed(inbounds: Sequence[InboundMessage]) -> list[IngestResult]:
    """The batch stored in one transaction, committed."""
    with unit_of_work.writing():
        results = _together(inbounds)
        db.session.commit()
    return results


def _alone(inbound: InboundMessage) -> IngestResult | Exception:
    """``ingest`` of one message, or the error that kept it out (rolled back)."""
    try:
        return ingest(inbound)
    except Exception as exc:  # noqa: BLE001 - handed back to the caller, per message
        db.session.rollback()
        return exc


class _Round:
    """What is staged and not flushed yet: the keys a later message must not depend on."""

    def __init__(self) -> None:
        self.staged: list[tuple[int, Staged]] = []
        self.senders: set[tuple[str, str]] = set()
        self.ids: set[tuple[str, str]] = set()
        self.customers: set[int] = set()

    def depends(self, inbound: InboundMessage, sender: tuple[str, str] | None) -> bool:
        """Whether ``inbound`` must see this round's rows before it is staged."""
        return (
            (sender is not None and sender in self.senders)
            or (inbound.channel, inbound.external_id or "") in self.ids
            or any((inbound.channel, ref) in self.ids for ref in inbound.references)
        )

    def add(self, index: int, staged: Staged, sender: tuple[str, str] | None) -> None:
        """Note a staged message."""
        self.staged.append((index, staged))
        if sender is not None:
            self.senders.add(sender)
        if staged.inbound.external_id:
            self.ids.add((staged.inbound.channel, staged.inbound.external_id))
        if not staged.result.created_customer:
            self.customers.add(staged.result.customer.id)


def _together(inbounds: Sequence[InboundMessage]) -> list[IngestResult]:
    """``_staged`` with the SLA policies, the known senders' customers and the
    organizations of the new senders' domains read once for the batch, not per message."""
    senders = _customers_of({key for key in map(_sender, inbounds) if key is not None})
    unknown = {value for (kind, value), found in senders.items() if kind == "email" and not found}
    token = sla.loaded_policies.set(sla.policy_terms())
    known = prefetched_senders.set(senders)
    domains = prefetched_domains.set(organizations_for_emails(unknown))
    try:
        return _staged(inbounds, senders)
    finally:
        prefetched_domains.reset(domains)
        prefetched_senders.reset(known)
        sla.loaded_policies.reset(token)


def _staged(
    inbounds: Sequence[InboundMessage], senders: dict[tuple[str, str], Customer | None]
) -> list[IngestResult]:
    """Stage every message, flushing only when one depends on an earlier one; finish each.
    ``senders``: each sender's customer, kept up to date with the customers made here."""
    stored = _stored_ids(inbounds)
    results: dict[int, IngestResult] = {}
    duplicates: list[int] = []
    current = _Round()

    def flush() -> None:
        nonlocal current
        if not current.staged:
            return
        db.session.flush()  # every staged row: one multi-row INSERT per table
        for index, staged in current.staged:
            results[index] = finish(staged)
        stored.update(current.ids)
        current = _Round()

    def known_customer(customer: Customer) -> None:
        if customer.id in current.customers:  # its tickets, surveys... must be written first
            flush()

    for index, inbound in enumerate(inbounds):
        sender = _sender(inbound)
        if current.depends(inbound, sender):
            flush()
        if inbound.external_id and (inbound.channel, inbound.external_id) in stored:
            duplicates.append(index)  # answered below; a duplicate changes nothing
            continue
        staged = stage(inbound, known_customer)  # (which may flush and start a new round)
        current.add(index, staged, sender)
        if sender is not None and staged.result.created_customer:
            senders[sender] = staged.result.customer
    flush()
    for index in duplicates:
        found = stored_duplicate(inbounds[index])
        assert found is not None  # its id was read (or written) in this transaction
        results[index] = found
    return [results[index] for index in range(len(inbounds))]


def _sender(inbound: InboundMessage) -> tuple[str, str] | None:
    """The normalised identity of the sender, when it has one."""
    try:
        return inbound.sender_kind, normalise(inbound.sender_kind, inbound.sender)
    except InvalidIdentity:
        return None


def _customers_of(senders: set[tuple[str, str]]) -> dict[tuple[str, str], Customer | None]:
    """The customer owning each normalised identity (with its organization), None for an
    unknown one: one query."""
    found: dict[tuple[str, str], Customer | None] = dict.fromkeys(senders)
    if not senders:
        return found
    rows = db.session.execute(
        select(Identity.kind, Identity.value, Customer)
        .join(Customer, Customer.id == Identity.customer_id)
        .where(Identity.value.in_({value for _, value in senders}))
        .options(lazyload(Customer.identities), lazyload(Customer.consents))
    )
    found.update({(k, v): customer for k, v, customer in rows if (k, v) in senders})
    return found


def _stored_ids(inbounds: Sequence[InboundMessage]) -> set[tuple[str, str]]:
    """The (channel, provider id) pairs of the batch already stored: one query."""
    wanted = {(i.channel, i.external_id or "") for i in inbounds if i.external_id}
    if not wanted:
        return set()
    rows = db.session.execute(
        select(Message.channel, Message.external_id).where(
            Message.channel.in_({channel for channel, _ in wanted}),
            Message.external_id.in_({external_id for _, external_id in wanted}),
        )
    )
    return {(channel, external_id or "") for channel, external_id in rows} & wanted
