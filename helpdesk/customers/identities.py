"""Normalised identities: the keys every inbound message is matched on."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import current_app


class InvalidIdentity(ValueError):
    """An address that cannot be normalised."""


def normalise_email(value: str) -> str:
    """Lower-case a syntactically valid address (IDN domains to their ASCII form)."""
    try:
        return _normalised_email((value or "").strip())
    except EmailNotValidError as exc:
        raise InvalidIdentity(f"not an email address: {value!r}") from exc


# An inbound mail's sender is normalised three times on its way in (the batch's lookup,
# its dependency check, matching), a poll sees the same senders again and again, and
# email_validator's checks cost some 0.1 ms an address: the answers are remembered (a
# pure function of the address; an invalid one is not cached, it raises every time).
@lru_cache(maxsize=4096)
def _normalised_email(address: str) -> str:
    """The normalised form of a stripped ``address`` (EmailNotValidError when invalid)."""
    result = validate_email(address, check_deliverability=False)
    local, _, _ = result.normalized.rpartition("@")
    return f"{local}@{result.ascii_domain}".lower()


def normalise_phone(value: str, region: str | None = None) -> str:
    """E.164 form of a phone number written in any common way."""
    raw = (value or "").strip()
    if raw.startswith("00"):  # international prefix used across Europe
        raw = "+" + raw[2:]
    region = region or current_app.config.get("HELPDESK_DEFAULT_REGION", "DE")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity(f"not a phone number: {value!r}") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentity(f"not a phone number: {value!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise(kind: str, value: str) -> str:
    """Normalise ``value`` as an identity of ``kind``."""
    if kind == "email":
        return normalise_email(value)
    if kind == "phone":
        return normalise_phone(value)
    if kind == "chat":
        value = (value or "").strip()
        if not value or len(value) > 200:
            raise InvalidIdentity("chat visitor id must be 1 to 200 characters")
        return value
    raise InvalidIdentity(f"unknown identity kind {kind!r}")


# Email domains anyone can sign up at: no organization may own one (else every new
# customer writing from it would join that organization). A short list of the big
# providers kept here (the PyPI packages of such lists are unmaintained); add to it as
# needed. Subdomains are not listed: only exact domains are owned.
FREE_MAIL_DOMAINS = frozenset(
    """
    aol.com aim.com gmail.com googlemail.com gmx.at gmx.ch gmx.com gmx.de gmx.net gmx.org
    hotmail.com hotmail.de hotmail.co.uk hotmail.fr hotmail.it live.com live.de live.co.uk
    msn.com outlook.com outlook.de icloud.com me.com mac.com yahoo.com yahoo.de yahoo.co.uk
    yahoo.fr yahoo.it ymail.com rocketmail.com web.de t-online.de freenet.de arcor.de
    posteo.de posteo.net mailbox.org online.de email.de mail.de kabelmail.de vodafonemail.de
    protonmail.com proton.me pm.me tutanota.com tutanota.de tuta.io zoho.com zohomail.eu
    mail.com mail.ru yandex.com yandex.ru gmx.fr laposte.net orange.fr free.fr libero.it
    bluewin.ch hushmail.com fastmail.com fastmail.fm qq.com 163.com 126.com naver.com
    """.split()
)


def is_free_mail(domain: str) -> bool:
    """Whether ``domain`` is a free-mail provider's (see FREE_MAIL_DOMAINS)."""
    return domain.strip().lower().rstrip(".") in FREE_MAIL_DOMAINS
