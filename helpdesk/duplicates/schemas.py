"""API bodies and answers of the duplicate finder."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from helpdesk.web.openapi import Shape

Id = Field(ge=1, le=2**31 - 1)


class DismissIn(BaseModel):
    """POST /customers/duplicates/dismiss: the pair that is not one person."""

    model_config = ConfigDict(extra="forbid", strict=True)

    a: int = Id
    b: int = Id


class DuplicatePairOut(Shape):
    """Two customers who are probably one person, and why ("same_email", "same_phone",
    "same_name_in_organization", "similar_name_same_domain")."""

    a: int
    b: int
    reasons: list[str]


class MergePreviewOut(Shape):
    """What a merge would do: the rows that move from "from" to "into" (counts), the
    values that win, the merged addresses and tags; "deleted" is the customer that goes."""

    into: int
    from_: int = Field(alias="from")
    moves: dict[str, int]
    values: dict[str, Any]
    emails: list[str]
    phones: list[str]
    tags: list[str]
    deleted: int
