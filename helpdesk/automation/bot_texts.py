"""What the order-status bot (and the order updates) say: German and English texts, the
language a customer is answered in, and an order's status written out. Plain
``string.Template``s: only named values, never attribute access."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from string import Template

from helpdesk.customers.models import Order

log = logging.getLogger(__name__)


_GERMAN = frozenset(
    "wo ist meine mein meiner bestellung lieferstatus wann kommt bitte danke hallo und nicht "
    "noch ich habe bestellt bestellnummer grüße gruß guten tag sendung lieferung paket schon "
    "wie lange der die das eine einen mit für auf".split()
)
_ENGLISH = frozenset(
    "where is my order when status please thanks thank hello hi the and not yet delivery "
    "tracking package parcel has have been did it of for with a an arrive".split()
)
_WORD = re.compile(r"[a-zäöüß]+")


# ----- the texts -----------------------------------------------------------------


@dataclass(frozen=True)
class Texts:
    """The bot's words in one language. ``$name`` placeholders only (string.Template):
    plain text, nothing reachable but the values handed in."""

    status: dict[str, str]
    other_status: str
    carrier: str
    carrier_tracking_number: str
    tracking_url: str
    expected: str
    closing: str
    unknown: str
    unknown_also: str
    months: tuple[str, ...] | None  # None: numeric date


TEXTS = {
    "en": Texts(
        status={
            "pending": "We have received your order $number and are waiting for the payment.",
            "paid": "Your order $number is paid and will be prepared for shipping soon.",
            "processing": "Your order $number is being prepared for shipping.",
            "shipped": "Your order $number has been shipped.",
            "delayed": "Your order $number is delayed; we are sorry for the wait.",
            "delivered": "Your order $number has been delivered.",
            "cancelled": "Your order $number has been cancelled.",
            "returned": "Your order $number has been returned to us.",
        },
        other_status="The status of your order $number: $status.",
        carrier="Carrier: $carrier",
        carrier_tracking_number="Carrier: $carrier, tracking number $tracking_number",
        tracking_url="Track it here: $tracking_url",
        expected="Expected delivery: $expected_delivery",
        closing="This is an automatic answer. Just reply if you need anything else; "
        "a colleague will help you.",
        unknown="We could not find that order under your contact details; "
        "a colleague will look into it.",
        unknown_also="We could not find the other order number you gave under your contact "
        "details; a colleague will look into it.",
        months=(
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
    ),
    "de": Texts(
        status={
            "pending": "Ihre Bestellung $number ist bei uns eingegangen; "
            "die Zahlung steht noch aus.",
            "paid": "Ihre Bestellung $number ist bezahlt und wird bald für den Versand "
            "vorbereitet.",
            "processing": "Ihre Bestellung $number wird gerade für den Versand vorbereitet.",
            "shipped": "Ihre Bestellung $number ist versandt.",
            "delayed": "Ihre Bestellung $number verzögert sich leider; "
            "bitte entschuldigen Sie die Wartezeit.",
            "delivered": "Ihre Bestellung $number wurde zugestellt.",
            "cancelled": "Ihre Bestellung $number wurde storniert.",
            "returned": "Ihre Bestellung $number ist an uns zurückgegangen.",
        },
        other_status="Der Stand Ihrer Bestellung $number: $status.",
        carrier="Versand mit $carrier",
        carrier_tracking_number="Versand mit $carrier, Sendungsnummer $tracking_number",
        tracking_url="Sendungsverfolgung: $tracking_url",
        expected="Voraussichtliche Zustellung: $expected_delivery",
        closing="Dies ist eine automatische Antwort. Wenn Sie noch etwas brauchen, antworten "
        "Sie einfach; jemand aus unserem Team hilft Ihnen weiter.",
        unknown="Wir konnten diese Bestellung unter Ihren Kontaktdaten nicht finden; "
        "jemand aus unserem Team kümmert sich darum.",
        unknown_also="Die andere genannte Bestellnummer konnten wir unter Ihren Kontaktdaten "
        "nicht finden; jemand aus unserem Team kümmert sich darum.",
        months=None,
    ),
}


def _value(text: str | None, limit: int = 200) -> str:
    """An order field as one line of plain text (shop data may hold anything)."""
    return " ".join(str(text or "").split())[:limit]


def _render(template: str, **values: str) -> str:
    """Fill the named ``$placeholders``; nothing else is reachable."""
    return Template(template).substitute({k: _value(v, 500) for k, v in values.items()})


def _date(value: date, texts: Texts) -> str:
    """A delivery date as people of the language write it."""
    if texts.months is None:
        return f"{value.day:02d}.{value.month:02d}.{value.year}"
    return f"{value.day} {texts.months[value.month - 1]} {value.year}"


def order_text(order: Order, language: str) -> str:
    """What the bot says about one of the customer's own orders."""
    texts = TEXTS[language]
    template = texts.status.get(order.status)
    lines = [
        _render(template, number=order.number)
        if template
        else _render(texts.other_status, number=order.number, status=order.status)
    ]
    carrier, tracking = _value(order.carrier, 100), _value(order.tracking_number, 100)
    if carrier and tracking:
        lines.append(
            _render(texts.carrier_tracking_number, carrier=carrier, tracking_number=tracking)
        )
    elif carrier:
        lines.append(_render(texts.carrier, carrier=carrier))
    url = _value(order.tracking_url, 500)
    if url.lower().startswith(("https://", "http://")):
        lines.append(_render(texts.tracking_url, tracking_url=url))
    if order.expected_delivery is not None and order.status not in (
        "delivered",
        "cancelled",
        "returned",
    ):
        lines.append(
            _render(texts.expected, expected_delivery=_date(order.expected_delivery, texts))
        )
    return "\n".join(lines)


def compose(found: list[Order], unknown: bool, language: str) -> str:
    """The whole answer: each own order found, then the neutral sentence if any was not."""
    texts = TEXTS[language]
    parts = [order_text(order, language) for order in found]
    if unknown:
        parts.append(texts.unknown_also if found else texts.unknown)
    else:
        parts.append(texts.closing)
    return "\n\n".join(parts)


def language_for(customer, text: str) -> str:
    """The customer's language if the bot speaks it, else a guess from the words, else English."""
    stated = (getattr(customer, "language", None) or "").strip().lower()[:2]
    if stated in TEXTS:
        return stated
    words = _WORD.findall(text.lower())
    german = sum(w in _GERMAN for w in words) + sum(ch in "äöüß" for ch in text.lower())
    english = sum(w in _ENGLISH for w in words)
    return "de" if german > english else "en"


# ----- order updates (automation/order_updates.py) --------------------------------

UPDATE_STATUS_WORDS = {
    "en": {
        "shipped": "shipped",
        "delayed": "delayed",
        "delivered": "delivered",
        "cancelled": "cancelled",
    },
    "de": {
        "shipped": "versandt",
        "delayed": "verzögert",
        "delivered": "zugestellt",
        "cancelled": "storniert",
    },
}
UPDATE_SUBJECTS = {"en": "Order {number}: {status}", "de": "Bestellung {number}: {status}"}
UPDATE_WHY = {
    "en": "You get this message because you asked to hear about your orders. "
    "Just reply if you have a question.",
    "de": "Sie erhalten diese Nachricht, weil Sie über Ihre Bestellungen informiert werden "
    "möchten. Wenn Sie eine Frage haben, antworten Sie einfach.",
}


def update_subject(order: Order, language: str) -> str:
    """The subject of a ticket opened for an update: "Order 10023: shipped"."""
    words = UPDATE_STATUS_WORDS.get(language, UPDATE_STATUS_WORDS["en"])
    number = " ".join(order.number.split())[:64]
    template = UPDATE_SUBJECTS.get(language, UPDATE_SUBJECTS["en"])
    return template.format(number=number, status=words.get(order.status, order.status))[:300]


def update_body(order: Order, language: str) -> str:
    """The update: the order bot's status text and why it came."""
    return f"{order_text(order, language)}\n\n{UPDATE_WHY.get(language, UPDATE_WHY['en'])}"
