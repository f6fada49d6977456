"""The order-status bot: answers "where is my order 10023?" at once, on the same channel.

A follow-up of ingest (see ``ingest.register_follow_up``): ``wanted`` picks, in
memory and without a query, the fresh customer messages on email, SMS and chat
that ask about an order; the job ``answer`` then looks the numbers up **among
the ticket's own customer's orders only** and writes an outbound message with
the author "bot" that is delivered like an agent's reply (``tickets.tasks:deliver``).

What it never does: tell a sender anything about an order that is not theirs.
An order number that does not exist and one that belongs to someone else take
the same path (one query, by number *and* customer), get the same fixed
answer, which never repeats the number asked about, and the same tag for the
agents (``order-bot-unknown``). It stays quiet when an agent has the ticket
(assigned, or an agent answered), when the channel has ``settings["order_bot"]``
set to false, for auto-replies, bounces and lists, for messages that were
stored backdated (imports, the demo's history) and, after ``MAX_ANSWERS`` answers
on one ticket, so that two robots can never talk to each other for long.
Each inbound message is decided once: the decision is written on it, under a
row lock, in the transaction that writes the answer."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import exists, func, select

from helpdesk import jobs, unit_of_work
from helpdesk.automation.bot_texts import compose, language_for
from helpdesk.channels.base import adapter_for
from helpdesk.channels.models import Channel
from helpdesk.customers.identities import InvalidIdentity, normalise
from helpdesk.customers.models import Identity, Order
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.tickets import events
from helpdesk.tickets.models import Message, Ticket

log = logging.getLogger(__name__)


JOB = "helpdesk.automation.bot:answer"
CHANNELS = {"email": "email", "sms": "phone", "chat": "chat"}  # channel -> identity kind
DEFAULT_PATTERN = r"#?\b(\d{5,10})\b"
UNKNOWN_TAG = "order-bot-unknown"
MAX_NUMBERS = 3  # order numbers looked up per message
MAX_ANSWERS = 5  # bot answers per ticket; then only agents write
MAX_SCAN = 5000  # characters of a message searched for an order question
FRESH = timedelta(seconds=30)  # older at ingest: stored backdated, not arriving now
STALE = timedelta(minutes=15)  # a job run this late leaves the question to the agents
NEAR = 30  # characters between an order word and its number ("Bestellung Nr. 10023")

# What makes a message an order question (lower-cased text, word starts).
_ORDER_WORDS = re.compile(
    r"\b(orders?|bestell\w*|auftrag\w*|auftrags\w*|liefer\w*|versand\w*|sendung\w*|"
    r"shipment|shipping|delivery|tracking|track)\b"
)
_STATUS_WORDS = re.compile(
    r"\b(lieferstatus|bestellstatus|versandstatus|auftragsstatus|sendungsstatus|"
    r"sendungsverfolgung|tracking|track|order\s+status|delivery\s+status|shipping\s+status)\b"
)
_ASKING = re.compile(
    r"\?|\b(where|when|status|arrive\w*|news|wo|wann|wie\s+lange|ankommen|angekommen|"
    r"ankunft|kommt|bleibt|neuigkeiten)\b"
)
# Requests a status answer would not serve: they go to an agent untouched.
_OTHER_REQUESTS = re.compile(
    r"\b(invoices?|rechnung\w*|refund\w*|erstatt\w*|gutschrift\w*|retoure\w*|rücksend\w*|"
    r"returns?|widerruf\w*|cancel\w*|storn\w*|reklamation\w*|complain\w*|beschwerde\w*|"
    r"defekt\w*|kaputt\w*|damaged|beschädigt\w*|broken|umtausch\w*|exchange|"
    r"\w*adress\w*|address\w*|änder\w*|change\w*)\b"
)
_REPLY_SUBJECT = re.compile(r"^\s*(re|fw|fwd|aw|wg|sv|vs|antw|tr)\s*(\[\d+\])?\s*:", re.I)
_TICKET_TOKEN = re.compile(r"\[#\d+\]")


# ----- recognising an order question ---------------------------------------------


@lru_cache(maxsize=8)
def _compiled(pattern: str) -> re.Pattern | None:
    """The configured order-number pattern, or None (logged) when it does not compile."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        log.error(
            "HELPDESK_ORDER_NUMBER_PATTERN %r is not a regular expression (%s): "
            "the order bot is off",
            pattern,
            exc,
        )
        return None


def number_pattern() -> re.Pattern | None:
    """The order-number pattern in force (group 1 is the number when it has groups)."""
    return _compiled(current_app.config.get("ORDER_NUMBER_PATTERN") or DEFAULT_PATTERN)


def question_text(message: Message) -> str:
    """The words of ``message`` the customer wrote now: a mail's new part (not the quote)
    and its subject unless it is a reply's."""
    meta = message.meta or {}
    text = meta.get("reply_text") if message.channel == "email" else None
    text = (text if isinstance(text, str) else message.body_text or "")[:MAX_SCAN]
    subject = message.subject or ""
    if message.channel == "email" and subject and not _REPLY_SUBJECT.match(subject):
        text = _TICKET_TOKEN.sub(" ", subject)[:300] + "\n" + text
    return text


def _number(match: re.Match) -> str:
    """The order number of a pattern match: group 1 when the pattern has groups."""
    return (match.group(1) if match.re.groups else match.group(0)).strip()


def order_numbers(message: Message) -> list[str]:
    """The order numbers ``message`` asks about (at most MAX_NUMBERS), or [] if it does not
    ask about an order: an order word and a question or a status word, and none of the
    requests the bot cannot serve (invoices, returns, ...); or a bare number as the whole
    SMS or chat message."""
    pattern = number_pattern()
    if pattern is None:
        return []
    text = question_text(message)
    if message.channel in ("sms", "chat"):
        bare = text.strip().strip("?!.").strip()
        match = pattern.fullmatch(bare)
        if match:
            return [_number(match)]
    lower = text.lower()
    if _OTHER_REQUESTS.search(lower):
        return []
    keywords = list(_ORDER_WORDS.finditer(lower))
    if not keywords or not (_STATUS_WORDS.search(lower) or _ASKING.search(lower)):
        return []
    matches = [m for m in pattern.finditer(text) if _number(m)]
    # "Bestellung Nr. 10023": numbers right after an order word win over a postcode or phone.
    near = [
        m
        for m in matches
        if any(
            0 <= m.start() - k.end() <= NEAR and "\n" not in text[k.end() : m.start()]
            for k in keywords
        )
    ]
    numbers = list(dict.fromkeys(_number(m) for m in (near or matches)))
    return numbers[:MAX_NUMBERS]


def wanted(message: Message) -> bool:
    """Whether to run the bot for this just-stored message (no query: ingest's hot path)."""
    if (
        message.channel not in CHANNELS
        or message.direction != "in"
        or message.is_auto
        or message.author_kind != "customer"
    ):
        return False
    created = message.created_at or utcnow()
    if utcnow() - created > FRESH:
        return False  # stored backdated: an import or the demo's history, not a live question
    try:
        return bool(order_numbers(message))
    except Exception:  # noqa: BLE001 - never let the bot break storing a message
        log.exception("order bot could not read message %s", message.id)
        return False


# ----- the job --------------------------------------------------------------------


def bot_enabled(ticket: Ticket) -> bool:
    """The switch of the message's channel row: ``settings["order_bot"]``, on by default."""
    if ticket.channel_id is None:
        return True
    channel = db.session.get(Channel, ticket.channel_id)
    return channel is None or bool((channel.settings or {}).get("order_bot", True))


def _agent_has_it(ticket: Ticket) -> bool:
    """An agent took over: the ticket is assigned, or an agent has written to the customer."""
    if ticket.assignee_id is not None:
        return True
    return bool(
        db.session.execute(
            select(
                exists().where(
                    Message.ticket_id == ticket.id,
                    Message.author_kind == "agent",
                    Message.direction == "out",
                )
            )
        ).scalar()
    )


def _from_ticket_owner(message: Message, ticket: Ticket) -> bool:
    """The sender is the ticket's own contact, and that address is the ticket's customer's."""
    kind = CHANNELS[message.channel]
    try:
        sender = normalise(kind, message.sender or "")
    except InvalidIdentity:
        return False
    if not ticket.contact or sender != ticket.contact:
        return False  # e.g. someone cc'd answering on another customer's thread
    owner = db.session.execute(
        select(Identity.customer_id).where(Identity.kind == kind, Identity.value == sender)
    ).scalar()
    return owner is not None and owner == ticket.customer_id


def _why_not(message: Message, ticket: Ticket) -> str | None:
    """Why the bot must stay quiet on ``message``, or None."""
    if (
        message.direction != "in"
        or message.is_auto
        or message.author_kind != "customer"
        or message.channel not in CHANNELS
    ):
        return "not a customer's message"
    if message.channel != ticket.channel:
        return "the ticket runs on another channel"
    if utcnow() - message.created_at > STALE:
        return "too late for an automatic answer"
    if ticket.status == "closed":
        return "the ticket is closed"
    if not bot_enabled(ticket):
        return "the bot is off on this channel"
    if _agent_has_it(ticket):
        return "an agent has the ticket"
    if not _from_ticket_owner(message, ticket):
        return "the sender is not the ticket's customer"
    answered = db.session.execute(
        select(func.count())
        .select_from(Message)
        .where(Message.ticket_id == ticket.id, Message.author_kind == "bot")
    ).scalar()
    assert answered is not None  # a COUNT answers one row
    if answered >= MAX_ANSWERS:
        return "the bot has answered this ticket often enough"
    adapter = adapter_for(message.channel)
    if adapter is None:
        return "no transport for the channel"
    refusal = adapter.refusal(ticket)
    if refusal:
        return refusal[:200]
    return None


def answer(message_id: int) -> None:
    """Job: answer the order question in message ``message_id`` (once, whatever happens)."""
    with unit_of_work.write_phase():
        # Lock the question: a second run of this job waits here, then finds it decided.
        message = (
            db.session.execute(
                select(Message)
                .where(Message.id == message_id)
                .with_for_update(of=Message)
                .execution_options(populate_existing=True)
            )
            .unique()
            .scalar_one_or_none()
        )
        if message is None or (message.meta or {}).get("order_bot"):
            db.session.rollback()
            return
        ticket = db.session.get(Ticket, message.ticket_id, populate_existing=True)
        assert ticket is not None  # a message's ticket_id is a non-null foreign key
        reason = _why_not(message, ticket)
        numbers = order_numbers(message) if reason is None else []
        if reason is None and not numbers:
            reason = "no order question"
        if reason is not None:
            _decided(message, {"outcome": "skipped", "why": reason})
            unit_of_work.commit()
            log.info("order bot skipped message %s: %s", message_id, reason)
            return
        # One query, by number and customer together: another customer's order and one
        # that does not exist are the same empty result, down to the code path.
        found = (
            db.session.execute(
                select(Order).where(
                    Order.customer_id == ticket.customer_id, Order.number.in_(numbers)
                )
            )
            .scalars()
            .all()
        )
        by_number = {order.number: order for order in found}
        if message.channel == "chat" and not (message.meta or {}).get("identity_verified"):
            # A chat visitor may have typed someone else's email: only a visitor signed
            # in by the shop (identity token) is told about orders; the others get the
            # same answer as for a number that is not theirs, and an agent.
            by_number = {}
        mine = [by_number[n] for n in numbers if n in by_number]
        unknown = len(mine) < len(numbers)
        language = language_for(ticket.customer, question_text(message))
        reply = _send(ticket, message, compose(mine, unknown, language))
        outcome = "unknown" if unknown else "answered"
        if unknown and UNKNOWN_TAG not in ticket.tags:
            old = ticket.tags
            ticket.set_tags(old + [UNKNOWN_TAG])
            events.record(ticket, "tags", {"from": old, "to": ticket.tags})
        events.record(
            ticket,
            "order_bot",
            {"outcome": outcome, "message": message.id, "reply": reply.id, "language": language},
        )
        _decided(message, {"outcome": outcome, "reply": reply.id})
        events.announce_message(reply, ticket)
        jobs.enqueue(
            "helpdesk.channels.delivery:deliver", reply.id, queue_name="outbound", retries=3
        )
        unit_of_work.commit()
    log.info("order bot answered message %s (%s)", message_id, outcome)


def _decided(message: Message, decision: dict) -> None:
    """Write the bot's decision on the question (so no run decides it again)."""
    message.meta = {**(message.meta or {}), "order_bot": decision}


def _send(ticket: Ticket, question: Message, body: str) -> Message:
    """The bot's outbound message on the question's channel."""
    from helpdesk.tickets.replies import automatic_reply

    return automatic_reply(
        ticket, question.channel, body, {"order_bot": {"in_reply_to": question.id}}
    )
