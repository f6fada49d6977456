"""API input models (pydantic, strict, unknown fields refused) and JSON shapes of the CRM."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, overload

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from helpdesk.customers.models import ORDER_STATUSES, Customer, Note, Order, Organization
from helpdesk.db import iso
from helpdesk.web.openapi import Ref, Shape

Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]
Domain = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        max_length=253,
        pattern=r"^([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$",
    ),
]
# Row ids are INTEGER columns; a larger number is refused here, not by the database.
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
FieldValue = Annotated[str, StringConstraints(max_length=2000)] | int | float | bool | None
CHANNEL_NAMES = Literal["email", "sms", "voice", "chat"]
OrderStatus = Literal[ORDER_STATUSES]  # type: ignore[valid-type]


def _in_utc(value: datetime) -> datetime:
    """A naive time counts as UTC; one that leaves the calendar in UTC is refused."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None


UtcDateTime = Annotated[datetime, AfterValidator(_in_utc)]


class Strict(BaseModel):
    """Strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class CustomerIn(Strict):
    """Fields a customer can be created or changed with."""

    name: Short | None = None
    emails: list[Address] = Field(default_factory=list, max_length=20)
    phones: list[Address] = Field(default_factory=list, max_length=20)
    organization: Id | None = None
    title: Short | None = None
    key_person: bool = False
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Za-z]{2})?$")] | None = None
    preferred_channel: CHANNEL_NAMES | None = None
    order_updates: bool = False
    sms_opt_out: bool = False
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    custom_fields: dict[Annotated[str, StringConstraints(max_length=100)], FieldValue] = Field(
        default_factory=dict, max_length=50
    )

    def to_service(self, only_set: bool = False) -> dict:
        """The fields under the names the service uses."""
        data = self.model_dump(exclude_unset=only_set)
        if "organization" in data:
            data["organization_id"] = data.pop("organization")
        return data


Side = Literal["into", "from"]


class MergeKeep(Strict):
    """Whose value wins, per field: "into" (this customer's, the default) or "from"."""

    name: Side | None = None
    title: Side | None = None
    organization: Side | None = None
    language: Side | None = None
    preferred_channel: Side | None = None

    def to_service(self) -> dict[str, str]:
        """As merging.merged_values takes it (the model's column names)."""
        names = {"organization": "organization_id"}
        return {names.get(k, k): v for k, v in self.model_dump(exclude_none=True).items()}


class MergeIn(Strict):
    """POST /customers/ID/merge: the customer folded into this one, and whose values win."""

    from_: Id = Field(alias="from")
    keep: MergeKeep | None = None


class NoteIn(Strict):
    """A note on a customer."""

    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]


class OrganizationIn(Strict):
    """Fields an organization can be created or changed with."""

    name: Name
    domains: list[Domain] = Field(default_factory=list, max_length=50)
    notes: Annotated[str, StringConstraints(max_length=20000)] | None = None
    account_manager: Id | None = None


class OrganizationPatch(OrganizationIn):
    """PATCH: every field optional."""

    name: Name | None = None  # type: ignore[assignment]  # optional in a PATCH


class OrderLineIn(Strict):
    """One line of an order."""

    sku: Annotated[str, StringConstraints(max_length=64)] | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    quantity: int = Field(default=1, ge=1, le=1_000_000)
    unit_price: Decimal | None = Field(
        default=None, ge=0, le=Decimal("9999999999"), decimal_places=2
    )


class OrderIn(Strict):
    """PUT /orders/NUMBER from the shop or ERP."""

    customer: Id | None = None
    customer_email: Address | None = None
    customer_phone: Address | None = None
    customer_name: Short | None = None
    status: OrderStatus = "pending"
    lines: list[OrderLineIn] = Field(default_factory=list, max_length=500)
    total: Decimal | None = Field(default=None, ge=0, le=Decimal("9999999999"), decimal_places=2)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    carrier: Annotated[str, StringConstraints(max_length=100)] | None = None
    tracking_number: Annotated[str, StringConstraints(max_length=100)] | None = None
    tracking_url: (
        Annotated[str, StringConstraints(max_length=500, pattern=r"^https?://\S+$")] | None
    ) = None
    expected_delivery: date | None = None
    ordered_at: UtcDateTime | None = None


# --- what the API answers (documented in /api/v1/openapi.json; built below) ----------


class PreferencesOut(Shape):
    """How a customer wants to be reached."""

    language: str | None
    preferred_channel: str | None
    order_updates: bool
    sms_opt_out: bool


class CustomerOut(Shape):
    """A customer (``customer_json``)."""

    id: int
    name: str | None
    emails: list[str]
    phones: list[str]
    chat_visitors: list[str]
    organization: Ref | None
    title: str | None
    key_person: bool
    tags: list[str]
    preferences: PreferencesOut
    custom_fields: dict[str, Any]
    created_at: str | None
    updated_at: str | None
    last_contact_at: str | None


class OrganizationOut(Shape):
    """An organization (``organization_json``); ``account_manager`` is an agent id."""

    id: int
    name: str
    domains: list[str]
    notes: str | None
    account_manager: int | None
    created_at: str | None


class OrganizationDetail(OrganizationOut):
    """An organization with its people, key people first."""

    people: list[CustomerOut]


class OrderLineOut(Shape):
    """One line of an order; amounts are decimal strings."""

    sku: str | None
    name: str
    quantity: int
    unit_price: str | None


class OrderOut(Shape):
    """An order (``order_json``); amounts are decimal strings."""

    id: int
    number: str
    customer_id: int | None
    status: str
    total: str | None
    currency: str | None
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    expected_delivery: str | None
    ordered_at: str | None
    updated_at: str | None
    lines: list[OrderLineOut]


class NoteOut(Shape):
    """A note on a customer."""

    id: int
    customer_id: int
    body: str
    author: Ref | None
    created_at: str | None


class TimelineOut(Shape):
    """One page of a customer's history, newest first: messages, calls, orders, notes."""

    items: list[dict[str, Any]]
    next: str | None


class ExportOut(Shape):
    """Everything held about a person (a data-subject access request)."""

    customer: CustomerOut
    identities: list[dict[str, Any]]
    tickets: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    orders: list[OrderOut]
    notes: list[NoteOut]


@overload
def organization_json(org: Organization) -> dict[str, Any]: ...
@overload
def organization_json(org: None) -> None: ...
def organization_json(org: Organization | None) -> dict[str, Any] | None:
    """An organization."""
    if org is None:
        return None
    return {
        "id": org.id,
        "name": org.name,
        "domains": [d.domain for d in org.domains],
        "notes": org.notes,
        "account_manager": org.account_manager_id,
        "created_at": iso(org.created_at),
    }


def customer_json(customer: Customer) -> dict:
    """A customer with identities, organization and preferences."""
    org = customer.organization
    return {
        "id": customer.id,
        "name": customer.name,
        "emails": customer.values("email"),
        "phones": customer.values("phone"),
        "chat_visitors": customer.values("chat"),
        # Typed into the chat, not confirmed: never mailed, never matched.
        "unverified_email": customer.unverified_email,
        "organization": {"id": org.id, "name": org.name} if org else None,
        "title": customer.title,
        "key_person": customer.key_person,
        "tags": list(customer.tags or []),
        "preferences": {
            "language": customer.language,
            "preferred_channel": customer.preferred_channel,
            "order_updates": customer.order_updates,
            "sms_opt_out": customer.sms_opt_out,
        },
        "custom_fields": dict(customer.custom_fields or {}),
        "created_at": iso(customer.created_at),
        "updated_at": iso(customer.updated_at),
        "last_contact_at": iso(customer.last_contact_at),
    }


def money(value: Decimal | None) -> str | None:
    """Amounts as strings, so no float rounding reaches a client."""
    return None if value is None else f"{value:.2f}"


def order_json(order: Order) -> dict:
    """An order with its lines."""
    return {
        "id": order.id,
        "number": order.number,
        "customer_id": order.customer_id,
        "status": order.status,
        "total": money(order.total),
        "currency": order.currency,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "tracking_url": order.tracking_url,
        "expected_delivery": order.expected_delivery.isoformat()
        if order.expected_delivery
        else None,
        "ordered_at": iso(order.ordered_at),
        "updated_at": iso(order.updated_at),
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price),
            }
            for line in order.lines
        ],
    }


def note_json(note: Note) -> dict:
    """A note on a customer."""
    author = note.author
    return {
        "id": note.id,
        "customer_id": note.customer_id,
        "body": note.body,
        "author": {"id": author.id, "name": author.name} if author else None,
        "created_at": iso(note.created_at),
    }
