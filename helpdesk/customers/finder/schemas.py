"""The customer list's query parameters (for the OpenAPI document), the bulk body and
what the list answers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from helpdesk.customers.models import CONSENT_PURPOSES
from helpdesk.customers.schemas import CustomerOut, Id, Strict, Tag
from helpdesk.customers.search import SORTS
from helpdesk.segments.schemas import Filter
from helpdesk.web.openapi import Param, Shape, choice, integer, text

DATE = "YYYY-MM-DD, an ISO time, or Nd (N days ago)"
FILTER_PARAMS = (
    Param("q", text(200), "Full text: name, emails, phones, organization, address, notes"),
    Param("email", text(320)),
    Param("phone", text(320)),
    Param("tag", text(50), "A tag (repeat for several: all of them)"),
    Param("organization", integer(), "An organization id"),
    Param(
        "account_manager",
        {"oneOf": [{"const": "me"}, integer()]},
        "An agent id or me: the customer's own, else the organization's",
    ),
    Param("language", text(20)),
    Param("country", text(2), "ISO 3166-1 alpha-2"),
    Param("consent", choice(CONSENT_PURPOSES), "A purpose the customer granted"),
    Param("has_open_tickets", choice(("true", "false"))),
    Param("last_contact_before", text(40), DATE),
    Param("last_contact_after", text(40), DATE),
    Param("created_after", text(40), DATE),
    Param("ids", text(11000), "Comma-separated customer ids"),
    Param("sort", choice(("relevance", *SORTS))),
)


class CustomerListOut(Shape):
    """One page of customers with the total that match."""

    items: list[CustomerOut]
    next: str | None
    total: int
    total_exact: bool


class BulkIn(Strict):
    """A bulk action on chosen customers (``ids``) or on everything a filter matches."""

    action: Literal["tag", "untag", "set_account_manager"]
    ids: list[Id] | None = Field(default=None, min_length=1, max_length=1000)
    filter: Filter | None = None
    tag: Tag | None = None
    account_manager: Id | None = None


class BulkOut(Shape):
    """How many customers the action changed."""

    changed: int
