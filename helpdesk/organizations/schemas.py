"""API input models and JSON shapes of organizations."""

from __future__ import annotations

from typing import Annotated, Any, overload

from pydantic import Field, StringConstraints

from helpdesk.customers.models import Organization
from helpdesk.customers.schemas import (
    AddressIn,
    AddressOut,
    CustomerOut,
    Domain,
    FieldKey,
    FieldValue,
    Id,
    Name,
    Strict,
    address_fields,
    address_json,
)
from helpdesk.db import iso
from helpdesk.web.openapi import Shape


class OrganizationIn(Strict):
    """Fields an organization can be created or changed with."""

    name: Name
    domains: list[Domain] = Field(default_factory=list, max_length=50)
    notes: Annotated[str, StringConstraints(max_length=20000)] | None = None
    account_manager: Id | None = None
    industry: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    address: AddressIn | None = None
    custom_fields: dict[FieldKey, FieldValue] = Field(default_factory=dict, max_length=50)

    def to_service(self, only_set: bool = False) -> dict:
        """The fields under the names the service uses."""
        data = self.model_dump(exclude_unset=only_set)
        if "account_manager" in data:
            data["account_manager_id"] = data.pop("account_manager")
        if not only_set and data.get("address") is None:
            data.pop("address", None)
        return address_fields(data)


class OrganizationPatch(OrganizationIn):
    """PATCH: every field optional."""

    name: Name | None = None  # type: ignore[assignment]  # optional in a PATCH


class OrganizationOut(Shape):
    """An organization (``organization_json``); ``account_manager`` is an agent id."""

    id: int
    name: str
    domains: list[str]
    notes: str | None
    account_manager: int | None
    industry: str | None
    address: AddressOut
    custom_fields: dict[str, Any]
    created_at: str | None


class OrganizationDetail(OrganizationOut):
    """An organization with its people, key people first."""

    people: list[CustomerOut]


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
        "industry": org.industry,
        "address": address_json(org),
        "custom_fields": dict(org.custom_fields or {}),
        "created_at": iso(org.created_at),
    }
