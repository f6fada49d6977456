"""Consents: what a customer agreed to, per purpose (``CONSENT_PURPOSES``), with when and
where it was said. Every change is written to the audit log (``consent.change``).

An SMS STOP (or Twilio's error 21610, which means the same) is kept as the purpose
``sms_marketing`` refused with a source beginning ``sms opt-out:``; while it stands the
customer's number is not texted at all: no marketing, no order updates by SMS (they go
by email when they can), no agent reply by SMS. START lifts that (the source becomes
``sms opt-in: START``) without granting marketing: that takes a consent of its own.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import g, has_app_context, has_request_context, request

from helpdesk.audit.services import record
from helpdesk.customers.models import CONSENT_PURPOSES, Consent, Customer
from helpdesk.db import iso, utcnow
from helpdesk.errors import Invalid
from helpdesk.extensions import db

log = logging.getLogger(__name__)
OPT_OUT = "sms opt-out: "
OPT_IN = "sms opt-in: "


def of(customer: Customer, purpose: str) -> Consent | None:
    """The customer's consent row for ``purpose``, if one was ever recorded."""
    return next((c for c in customer.consents if c.purpose == purpose), None)


def granted(customer: Customer, purpose: str) -> bool:
    """Whether the customer agreed to ``purpose`` (never asked counts as no)."""
    consent = of(customer, purpose)
    return consent is not None and consent.granted


def sms_blocked(customer: Customer) -> bool:
    """Whether the customer texted STOP (and not START since): no SMS of any kind."""
    consent = of(customer, "sms_marketing")
    return (
        consent is not None and not consent.granted and (consent.source or "").startswith(OPT_OUT)
    )


def _json(consent: Consent | None) -> dict[str, Any]:
    """One purpose as the API shows it; never asked: not granted, no time, no source."""
    if consent is None:
        return {"granted": False, "at": None, "source": None}
    return {"granted": consent.granted, "at": iso(consent.at), "source": consent.source}


def as_json(customer: Customer) -> dict[str, dict[str, Any]]:
    """``{purpose: {"granted", "at", "source"}}`` for every purpose."""
    return {purpose: _json(of(customer, purpose)) for purpose in CONSENT_PURPOSES}


def default_source() -> str:
    """Where a change comes from when the caller does not say: ``api`` (a bearer token),
    ``agent:ID`` (an agent's session, the pages), ``system`` outside requests."""
    agent = getattr(g, "agent", None) if has_app_context() else None
    if has_request_context() and request.headers.get("Authorization", "").lower().startswith(
        "bearer "
    ):
        return "api"
    if agent is None and has_request_context():
        from flask_login import current_user

        agent = current_user if getattr(current_user, "is_authenticated", False) else None
    return f"agent:{agent.id}" if agent is not None else "system"


def change(
    customer: Customer,
    purpose: str,
    granted: bool,
    source: str | None = None,
    at: datetime | None = None,
) -> bool:
    """Record what the customer said about ``purpose``; audited; whether anything changed.

    The same answer from the same source again changes nothing. ``customer`` must have
    an id (flushed).
    """
    if purpose not in CONSENT_PURPOSES:
        raise Invalid("no such consent purpose", {f"consents.{purpose}": "unknown purpose"})
    source = (source or default_source())[:200]
    consent = of(customer, purpose)
    if consent is not None and consent.granted == granted and consent.source == source:
        return False
    before = _json(consent) if consent is not None else None
    if consent is None:
        consent = Consent(purpose=purpose)
        customer.consents.append(consent)
    consent.granted, consent.source, consent.at = granted, source, at or utcnow()
    db.session.flush()
    record(
        "consent.change",
        object_type="customer",
        object_id=customer.id,
        customer_id=customer.id,
        before={"purpose": purpose, **before} if before else None,
        after={"purpose": purpose, **_json(consent)},
    )
    return True


def apply(customer: Customer, statements: dict[str, dict]) -> None:
    """Apply ``{purpose: {"granted", "source"?, "at"?}}`` (the API's ``consents``)."""
    for purpose, said in statements.items():
        change(customer, purpose, said["granted"], said.get("source"), said.get("at"))


def sms_opt_out(customer: Customer, opted_out: bool, why: str) -> bool:
    """A STOP (``opted_out``) or START by SMS, or the carrier's word for one; whether it
    changed anything (a START from someone who never stopped changes nothing)."""
    if opted_out == sms_blocked(customer):
        return False
    consent = of(customer, "sms_marketing")
    granted = False if opted_out else bool(consent and consent.granted)
    change(customer, "sms_marketing", granted, (OPT_OUT if opted_out else OPT_IN) + why)
    log.info("customer %s %s SMS", customer.id, "opted out of" if opted_out else "opted in to")
    return True


def merge(into: Customer, other: Customer) -> None:
    """Before ``other`` is folded into ``into``: of each purpose the later statement wins."""
    for theirs in list(other.consents):
        mine = of(into, theirs.purpose)
        if mine is None or mine.at < theirs.at:
            change(into, theirs.purpose, theirs.granted, theirs.source, theirs.at)
