"""SMS over Twilio: inbound texts become tickets through ingest, agents' replies go
out through the REST API, delivery status comes back by callback, and STOP is
honoured.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
from urllib.parse import unquote_to_bytes

from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException

from helpdesk import unit_of_work
from helpdesk.channels.base import ChannelAdapter, DeliveryError
from helpdesk.channels.inbound import InboundAttachment, InboundMessage
from helpdesk.channels.models import Channel
from helpdesk.channels.twilio.common import (
    e164,
    media_allowed,
    our_number,
    phone_channel,
    public_url,
    rest_client,
)
from helpdesk.customers import consents
from helpdesk.extensions import db
from helpdesk.tickets import replies
from helpdesk.tickets.ingest import IngestResult, ingest
from helpdesk.tickets.models import Message, Ticket

log = logging.getLogger(__name__)
CHANNEL = "sms"
MAX_BODY = 1600  # Twilio's limit for one message; it splits that into carrier segments itself
MAX_MEDIA = 10  # Twilio sends at most ten media per MMS
# Twilio's standard opt-out and opt-in keywords (Advanced Opt-Out defaults).
OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN = {"START", "YES", "UNSTOP"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")
# Descriptions of the delivery errors agents meet most (twilio.com/docs/api/errors).
ERRORS = {
    "21610": "the recipient has opted out of messages from this number (replied STOP)",
    "21211": "the 'To' number is not a valid phone number",
    "21614": "the 'To' number cannot receive text messages",
    "30001": "queue overflow",
    "30002": "account suspended",
    "30003": "unreachable destination handset",
    "30004": "message blocked",
    "30005": "unknown destination handset",
    "30006": "landline or unreachable carrier",
    "30007": "filtered by the carrier",
    "30008": "unknown error",
}
_RANK = {"queued": 1, "sent": 2, "delivered": 3}
_STATUS = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


def _raw_field(raw: bytes, name: str) -> bytes | None:
    """The undecoded bytes of one form field, to notice text that is not UTF-8."""
    wanted = name.encode()
    for pair in raw.split(b"&"):
        key, _, value = pair.partition(b"=")
        if unquote_to_bytes(key.replace(b"+", b" ")) == wanted:
            return unquote_to_bytes(value.replace(b"+", b" "))
    return None


def _text(form, raw: bytes, review: list[str]) -> str:
    """The message text: invalid UTF-8 read as Windows-1252, control characters dropped."""
    text = form.get("Body") or ""
    undecoded = _raw_field(raw, "Body")
    if undecoded:
        try:
            text = undecoded.decode("utf-8")
        except UnicodeDecodeError:
            text = undecoded.decode("cp1252", errors="replace")
            review.append(
                "the text was not valid UTF-8 (read as Windows-1252; "
                "the request is kept as it came)"
            )
    text = _CONTROL.sub("", text)
    if form.get("MessageType") == "location" and form.get("Latitude"):
        location = f"Location: {form.get('Latitude')}, {form.get('Longitude', '')}"
        text = f"{text}\n{location}".strip()
    return text


def _media(form, review: list[str]) -> list[InboundAttachment]:
    """MMS media as attachments to fetch later (``MediaUrlN``, ``MediaContentTypeN``)."""
    found = []
    for index in range(MAX_MEDIA):
        url = (form.get(f"MediaUrl{index}") or "").strip()
        if not url:
            continue
        content_type = (form.get(f"MediaContentType{index}") or "").strip()[:255]
        extension = (mimetypes.guess_extension(content_type) or "") if content_type else ""
        found.append(
            InboundAttachment(
                filename=f"media-{index + 1}{extension}",
                content_type=content_type or "application/octet-stream",
                source_url=url[:1000],
            )
        )
        if not media_allowed(url):
            review.append(f"media {index + 1} is not on Twilio and will not be fetched")
    announced = form.get("NumMedia") or "0"
    if not announced.isdigit() or int(announced) != len(found):
        review.append(f"NumMedia said {announced[:20]!r} but {len(found)} media came")
    return found


def _title(text: str, media: int) -> str | None:
    """A ticket title from the text: its first 40 characters, '...' when cut."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    if first:
        return first if len(first) <= 40 else first[:40] + "..."
    return f"MMS with {media} attachment{'s' if media != 1 else ''}" if media else None


def inbound_message(form, raw: bytes, channel: Channel | None) -> InboundMessage:
    """Turn Twilio's incoming-message webhook fields into an InboundMessage."""
    review: list[str] = []
    sender = (form.get("From") or "").strip()[:320]
    if not sender:
        review.append("the message came without a sender number")
    text = _text(form, raw, review)
    media = _media(form, review)
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or "").strip()
    if not sid:
        # A retry of the same request still deduplicates.
        sid = "sha256:" + hashlib.sha256(raw).hexdigest()
        review.append("no MessageSid in the request")
    meta = {
        "twilio": {
            k: form.get(v)
            for k, v in (
                ("account_sid", "AccountSid"),
                ("messaging_service_sid", "MessagingServiceSid"),
                ("segments", "NumSegments"),
                ("from_country", "FromCountry"),
            )
            if form.get(v)
        }
    }
    return InboundMessage(
        channel=CHANNEL,
        sender_kind="phone",
        sender=sender,
        text=text,
        sender_name=(form.get("ProfileName") or "").strip()[:200] or None,
        subject=_title(text, len(media)),
        recipient=(form.get("To") or "")[:320] or None,
        external_id=sid[:500],
        channel_id=channel.id if channel else None,
        attachments=media,
        raw=raw,
        review_reason="; ".join(review) or None,
        meta=meta,
    )


def receive(form, raw: bytes) -> IngestResult:
    """Ingest one incoming SMS/MMS; a STOP or START keyword sets the customer's opt-out in
    the same transaction."""
    inbound = inbound_message(form, raw, phone_channel(form.get("To")))
    keyword = (form.get("Body") or "").strip().upper()
    if keyword in OPT_OUT or keyword in OPT_IN:
        inbound.opt_out = keyword in OPT_OUT
    return ingest(inbound)


def segments(text: str) -> int:
    """How many carrier segments Twilio bills ``text`` as (GSM-7 or UCS-2)."""
    if all(c in _GSM7 or c in _GSM7_EXTENDED for c in text):
        units, single, multi = sum(2 if c in _GSM7_EXTENDED else 1 for c in text), 160, 153
    else:
        units, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else -(-units // multi)


def split_text(text: str, limit: int = MAX_BODY) -> list[str]:
    """Cut ``text`` into messages of at most ``limit`` UTF-16 units, at a space if one is near."""
    parts, rest = [], text
    while len(rest.encode("utf-16-le")) // 2 > limit:
        cut, units = 0, 0
        while units + (2 if ord(rest[cut]) > 0xFFFF else 1) <= limit:
            units += 2 if ord(rest[cut]) > 0xFFFF else 1
            cut += 1
        space = max(rest.rfind(" ", 0, cut), rest.rfind("\n", 0, cut))
        if space > cut // 2:
            cut = space + 1
        parts.append(rest[:cut])
        rest = rest[cut:]
    if rest or not parts:
        parts.append(rest)
    return parts


def _failure(exc: TwilioRestException) -> DeliveryError:
    """A DeliveryError from Twilio's answer: a 4xx cannot succeed on retry, a 5xx may."""
    code = str(exc.code or "")
    what = ERRORS.get(code) or exc.msg or "refused"
    permanent = 400 <= (exc.status or 0) < 500 and exc.status != 429
    return DeliveryError(f"Twilio error {code or exc.status}: {what}", permanent=permanent)


class SmsAdapter(ChannelAdapter):
    """Sends agents' SMS replies with the Twilio REST client."""

    kind = CHANNEL
    settings = ("TWILIO_ACCOUNT_SID", "TWILIO_NUMBER", "PUBLIC_URL")
    secret_settings = ("TWILIO_AUTH_TOKEN",)

    def refusal(self, ticket: Ticket) -> str | None:
        """Why a reply on ``ticket`` must not be texted, if it must not."""
        if ticket.customer is not None and consents.sms_blocked(ticket.customer):
            return (
                "Not sent: the customer has opted out of SMS (they texted STOP). They can "
                "text START to opt back in; until then, reach them on another channel."
            )
        return None

    def send(self, message: Message, ticket: Ticket) -> str | None:
        """Text ``message`` to the ticket's number, in as many messages as its length needs."""
        reason = self.refusal(ticket)
        if reason:
            raise DeliveryError(reason, permanent=True)
        to = e164(message.recipient or ticket.contact)
        channel = db.session.get(Channel, ticket.channel_id) if ticket.channel_id else None
        sender = our_number(channel)
        if to is None or sender is None:
            raise DeliveryError(
                "Not sent: "
                + (
                    "the ticket has no phone number to text"
                    if to is None
                    else "no Twilio number is set up"
                ),
                permanent=True,
            )
        try:
            client = rest_client()
        except LookupError as exc:
            raise DeliveryError(f"Not sent: {exc}", permanent=True) from exc
        callback = public_url(f"/webhooks/twilio/sms/status?message={message.id}")
        parts = split_text(message.body_text)
        sids: list[str] = []
        for part in parts:
            try:
                sent = client.messages.create(
                    to=to,
                    from_=sender,
                    body=part,
                    **({"status_callback": callback} if callback else {}),
                )
            except TwilioRestException as exc:
                failure = _failure(exc)
                if str(exc.code) == "21610":
                    # Twilio knows of a STOP we missed; remember it (kept despite the rollback).
                    _opted_out(ticket.id)
                if sids:  # never resend the parts that already went out
                    failure = DeliveryError(
                        f"only {len(sids)} of {len(parts)} parts sent: {failure}", permanent=True
                    )
                raise failure from exc
            sids.append(sent.sid)
        message.meta = {
            **(message.meta or {}),
            "twilio": {
                "sids": sids,
                "segments": sum(segments(p) for p in parts),
                "parts": {sid: "queued" for sid in sids},
            },
        }
        return sids[0]


def delivery_status(form, message_id: str | None) -> Message | None:
    """Apply a message status callback; retries and late callbacks change nothing."""
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    status = _STATUS.get((form.get("MessageStatus") or form.get("SmsStatus") or "").lower())
    message = None
    if message_id and message_id.isdigit():
        message = db.session.get(Message, int(message_id))
    if message is None and sid:
        message = db.session.execute(
            select(Message).where(Message.channel == CHANNEL, Message.external_id == sid)
        ).scalar_one_or_none()
    if (
        message is None
        or message.direction != "out"
        or message.channel != CHANNEL
        or status is None
        or not sid
    ):
        return None
    twilio = dict((message.meta or {}).get("twilio") or {})
    parts = {**twilio.get("parts", {}), sid: status}
    # One reply can be several Twilio messages: it is as far as its slowest part.
    failed = next((s for s in parts.values() if s in ("failed", "undelivered")), None)
    combined = failed or min(parts.values(), key=lambda s: _RANK[s])
    error = None
    code = (form.get("ErrorCode") or "").strip()[:20]
    if failed:
        what = (form.get("ErrorMessage") or "").strip()[:500] or ERRORS.get(code, "")
        error = (
            f"Twilio error {code}: {what}".strip(": ")
            if code
            else f"Twilio reported the message {combined}"
        )
    was_final = message.status in replies.FINAL
    replies.delivery_status(message, combined, error, {"twilio": {**twilio, "parts": parts}})
    if failed and code == "21610" and not was_final:
        ticket = db.session.get(Ticket, message.ticket_id)
        assert ticket is not None  # a message's ticket_id is a non-null foreign key
        replies.sms_opt_out(ticket.customer, True, "Twilio error 21610", ticket)
    return message


def _opted_out(ticket_id: int) -> None:
    """Twilio refused a send because the customer opted out (error 21610): remember it, in
    a transaction of its own (the send's is rolled back)."""
    with unit_of_work.writing():
        ticket = db.session.get(Ticket, ticket_id)
        if ticket is not None and ticket.customer is not None:
            replies.sms_opt_out(ticket.customer, True, "Twilio error 21610", ticket)
        unit_of_work.commit()
