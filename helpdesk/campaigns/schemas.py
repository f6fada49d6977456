"""Campaign bodies (pydantic, strict) and what the API answers about a campaign."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from helpdesk.customers.schemas import Strict, UtcDateTime
from helpdesk.web.openapi import Shape

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Subject = Annotated[str, StringConstraints(max_length=300)]
Body = Annotated[str, StringConstraints(max_length=20_000)]
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]


class CampaignIn(Strict):
    """A new draft: name, segment, channel, subject (email), body with placeholders
    ``{customer_name}``, ``{first_name}``, ``{organization}``, and the mailbox (email)."""

    name: Name
    segment: Id | None = None
    channel: Literal["email", "sms"] = "email"
    subject: Subject | None = None
    body: Body = ""
    mailbox: Id | None = None


class CampaignPatch(Strict):
    """What may change on a draft."""

    name: Name | None = None
    segment: Id | None = None
    channel: Literal["email", "sms"] | None = None
    subject: Subject | None = None
    body: Body | None = None
    mailbox: Id | None = None


class SendIn(Strict):
    """Send now (no body, or no ``at``), or at ``at``."""

    at: UtcDateTime | None = None


class PreviewIn(Strict):
    """Preview for one customer (the segment's first when not given)."""

    customer: Id | None = None


class Counts(Shape):
    """What became of the recipients."""

    recipients: int
    sent: int
    failed: int
    skipped_no_consent: int
    unsubscribed: int
    pending: int
    no_address: int
    cancelled: int


class CampaignOut(Shape):
    """A campaign (``services.as_json``)."""

    id: int
    name: str
    channel: str
    segment: int | None
    mailbox: int | None
    subject: str | None
    body: str
    status: str
    scheduled_at: str | None
    started_at: str | None
    finished_at: str | None
    created_at: str | None
    counts: Counts | None


class PreviewOut(Shape):
    """The campaign as one customer gets it."""

    customer: int | None
    subject: str | None
    body: str
