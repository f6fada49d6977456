"""Normalised identities: the keys every inbound message is matched on."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import current_app


class InvalidIdentity(ValueError):
    """An address that cannot be normalised."""


def normalise_email(value: str) -> str:
    """Lower-case a syntactically valid address (IDN domains to their ASCII form)."""
    try:
        result = validate_email((value or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidIdentity(f"not an email address: {value!r}") from exc
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
