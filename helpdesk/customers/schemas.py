"""API input models (pydantic, strict, unknown fields refused) and JSON shapes of the CRM."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from iso3166 import countries_by_alpha2
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from helpdesk.customers import consents
from helpdesk.customers.models import (
    CONSENT_PURPOSES,
    ORDER_STATUSES,
    Customer,
    Note,
    Order,
    Organization,
)
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
Purpose = Literal[CONSENT_PURPOSES]  # type: ignore[valid-type]
FieldKey = Annotated[str, StringConstraints(max_length=100)]
ADDRESS_FIELDS = ("street", "postcode", "city", "country")


def _in_utc(value: datetime) -> datetime:
    """A naive time counts as UTC; one that leaves the calendar in UTC is refused."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None


UtcDateTime = Annotated[datetime, AfterValidator(_in_utc)]


def _country(value: str) -> str | None:
    """An ISO 3166-1 alpha-2 code, upper-cased; empty clears it."""
    code = value.strip().upper()
    if not code:
        return None
    if code not in countries_by_alpha2:
        raise ValueError("not an ISO 3166-1 alpha-2 country code (DE, AT, CH, ...)")
    return code


Country = Annotated[str, StringConstraints(max_length=2), AfterValidator(_country)]


class Strict(BaseModel):
    """Strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class AddressIn(Strict):
    """A postal address; in a PATCH only the parts sent change (null or "" clears one)."""

    street: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None
    city: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    country: Country | None = None


class ConsentIn(Strict):
    """What the customer said about one purpose; ``at`` defaults to now, ``source`` to
    ``agent:ID`` (the pages) or ``api`` (a token)."""

    granted: bool
    source: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    at: UtcDateTime | None = None


def address_fields(data: dict) -> dict:
    """``address: {...}`` as the columns street, postcode, city, country (null: all cleared)."""
    if "address" not in data:
        return data
    address = data.pop("address")
    if address is None:
        address = dict.fromkeys(ADDRESS_FIELDS)
    data.update({key: value or None for key, value in address.items()})
    return data


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
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    custom_fields: dict[FieldKey, FieldValue] = Field(default_factory=dict, max_length=50)
    address: AddressIn | None = None
    account_manager: Id | None = None
    consents: dict[Purpose, ConsentIn] | None = None
    # The contract's older shorthand for consents.order_updates.granted.
    order_updates: bool | None = None

    def to_service(self, only_set: bool = False) -> dict:
        """The fields under the names the service uses."""
        data = self.model_dump(exclude_unset=only_set)
        if "organization" in data:
            data["organization_id"] = data.pop("organization")
        if "account_manager" in data:
            data["account_manager_id"] = data.pop("account_manager")
        if data.get("order_updates") is not None:
            data.setdefault("consents", None)
            data["consents"] = {"order_updates": {"granted": data["order_updates"]}} | (
                data["consents"] or {}
            )
        data.pop("order_updates", None)
        if not only_set and data.get("address") is None:
            data.pop("address", None)
        return address_fields(data)


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
    """How a customer wants to be reached; ``order_updates`` is the consent of that name,
    ``sms_opt_out`` that they texted STOP (customers/consents.py)."""

    language: str | None
    preferred_channel: str | None
    order_updates: bool
    sms_opt_out: bool


class AddressOut(Shape):
    """A postal address; ``country`` is ISO 3166-1 alpha-2."""

    street: str | None
    postcode: str | None
    city: str | None
    country: str | None


class ConsentOut(Shape):
    """One purpose: granted or not, when, and where it was said (never asked: null times)."""

    granted: bool
    at: str | None
    source: str | None


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
    address: AddressOut
    consents: dict[str, ConsentOut]
    account_manager: int | None
    account_manager_effective: int | None
    created_at: str | None
    updated_at: str | None
    last_contact_at: str | None


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


def address_json(row: Customer | Organization) -> dict[str, str | None]:
    """The postal address of a customer or an organization."""
    return {key: getattr(row, key) for key in ADDRESS_FIELDS}


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
            "order_updates": consents.granted(customer, "order_updates"),
            "sms_opt_out": consents.sms_blocked(customer),
        },
        "custom_fields": dict(customer.custom_fields or {}),
        "address": address_json(customer),
        "consents": consents.as_json(customer),
        # The customer's own account manager; the effective one falls back to the
        # organization's when the customer has none.
        "account_manager": customer.account_manager_id,
        "account_manager_effective": customer.account_manager_id
        or (org.account_manager_id if org else None),
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
