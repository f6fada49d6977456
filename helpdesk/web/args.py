"""The one parser of URL arguments, for the REST API and the agent pages alike: no NUL
characters anywhere in the URL, integers whole and within bounds, ids that can exist.

A refused argument raises ``Invalid`` (422, the JSON error shape), naming it."""

from __future__ import annotations

from typing import TypeVar, overload

from flask import request

from helpdesk.errors import Invalid, NotFound
from helpdesk.extensions import db

T = TypeVar("T")
# Ids are INTEGER columns: PostgreSQL refuses a larger number, SQLite one past 2**63.
MAX_ID = 2**31 - 1
MAX_PAGE = 100_000
_MAX_DIGITS = 20  # characters: longer is no integer we use


def refuse_unstorable_url() -> None:
    """Refuse URLs the database cannot even be asked about: NUL characters, ids past
    INTEGER (a before_request hook of every API and page blueprint)."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and value > MAX_ID:
            raise NotFound("no such thing")
        if isinstance(value, str) and "\x00" in value:
            raise Invalid("the URL holds a NUL character", fields={name: "NUL character"})
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise Invalid(
                "a query argument holds a NUL character",
                fields={name.replace("\x00", ""): "NUL character"},
            )


@overload
def int_arg(name: str, default: int, minimum: int = 1, maximum: int = MAX_ID) -> int: ...
@overload
def int_arg(
    name: str, default: None = None, minimum: int = 1, maximum: int = MAX_ID
) -> int | None: ...
def int_arg(
    name: str, default: int | None = None, minimum: int = 1, maximum: int = MAX_ID
) -> int | None:
    """An integer query argument within bounds (``default`` when absent or empty), or a
    422 naming it."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    try:
        # int() of 4,300 digits or more raises too; none of ours is longer than 20
        number = int(value) if len(value) <= _MAX_DIGITS else None
    except ValueError:
        number = None
    if number is None:
        raise Invalid(f"{name} must be a whole number", fields={name: "not a whole number"})
    if number < minimum or number > maximum:
        raise Invalid(
            f"{name} must be between {minimum} and {maximum}", fields={name: "out of range"}
        )
    return number


def page_number(name: str = "page") -> int:
    """A page number from the query string: 1 when absent, at most ``MAX_PAGE``."""
    return int_arg(name, 1, maximum=MAX_PAGE)


def get_row(model: type[T], ident: object) -> T | None:
    """The row of ``model`` with primary key ``ident``; None when none can exist."""
    storable = not isinstance(ident, int) or 0 < ident <= MAX_ID
    return db.session.get(model, ident) if storable else None
