"""The customer list's filter: query arguments (or a segment's stored filter) parsed and
checked into a :class:`CustomerFilter`; ``customers.search`` turns it into SQL.

A bad value raises ``Invalid`` naming the argument (a 422 on the API, a message on the
page)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from helpdesk.customers.identities import InvalidIdentity, normalise
from helpdesk.customers.models import CONSENT_PURPOSES
from helpdesk.db import utcnow
from helpdesk.errors import Invalid
from helpdesk.fields import services as fields
from helpdesk.web.args import MAX_ID

SORTS = ("name", "-name", "created_at", "-created_at", "last_contact_at", "-last_contact_at")
SINGLE = (
    "q",
    "email",
    "phone",
    "organization",
    "account_manager",
    "language",
    "country",
    "consent",
    "has_open_tickets",
    "last_contact_before",
    "last_contact_after",
    "created_after",
    "ids",
    "sort",
)
KEYS = (*SINGLE, "tag")  # and field.KEY
MAX_TAGS = 10
MAX_IDS = 1000
_RELATIVE = re.compile(r"^(\d{1,5})d$")


@dataclass(frozen=True)
class CustomerFilter:
    """A parsed, checked filter of the customer list."""

    q: str | None = None
    email: str | None = None
    phone: str | None = None
    tags: tuple[str, ...] = ()
    organization: int | None = None
    account_manager: int | str | None = None  # an agent id, or "me"
    language: str | None = None
    country: str | None = None
    consent: str | None = None
    has_open_tickets: bool | None = None
    last_contact_before: datetime | None = None
    last_contact_after: datetime | None = None
    created_after: datetime | None = None
    fields: tuple[tuple[str, Any], ...] = ()
    ids: tuple[int, ...] = ()
    sort: str | None = None
    # The arguments as given (stripped, empty ones left out): for links and segments.
    given: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def args(self) -> dict[str, str | list[str]]:
        """The filter as query arguments (``tag`` a list when repeated)."""
        out: dict[str, str | list[str]] = {}
        for key, value in self.given:
            if key == "tag":
                tags = out.setdefault("tag", [])
                assert isinstance(tags, list)
                tags.append(value)
            else:
                out[key] = value
        return out

    def without_sort(self) -> dict[str, str | list[str]]:
        """The arguments without ``sort`` (a segment's filter, a sort link's base)."""
        return {k: v for k, v in self.args().items() if k != "sort"}


def _pairs(args: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, value) pairs of a MultiDict (request.args) or a dict of strings or lists."""
    getlist = getattr(args, "getlist", None)
    pairs: list[tuple[str, str]] = []
    for key in list(args.keys()):
        values = getlist(key) if getlist else args[key]
        if not isinstance(values, list):
            values = [values]
        for value in values:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise Invalid(f"{key} must be text", fields={key: "must be text"})
            pairs.append((key, str(value).strip()))
    return [(k, v) for k, v in pairs if v != ""]


def _bad(key: str, what: str) -> Invalid:
    return Invalid(f"{key}: {what}", fields={key: what})


def _time(key: str, value: str) -> datetime:
    """A date (start of that day, UTC), an ISO time, or ``Nd`` (N days ago)."""
    relative = _RELATIVE.match(value)
    if relative:
        return utcnow() - timedelta(days=int(relative.group(1)))
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(key, "not a date (YYYY-MM-DD), a time or Nd") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise _bad(key, "out of range") from None


def _id(key: str, value: str) -> int:
    if not value.isdigit() or len(value) > 10 or not 0 < int(value) <= MAX_ID:
        raise _bad(key, "not an id")
    return int(value)


def _single(key: str, value: str, values: dict[str, Any]) -> None:
    """Check one argument of SINGLE and put its typed value in ``values``."""
    if len(value) > 200 or (key in ("email", "phone") and len(value) > 320):
        raise _bad(key, "too long")
    if key == "q":
        values[key] = value
    elif key in ("email", "phone"):
        try:
            values[key] = normalise(key, value)
        except InvalidIdentity as exc:
            raise _bad(key, str(exc)) from exc
    elif key == "organization":
        values[key] = _id(key, value)
    elif key == "account_manager":
        values[key] = "me" if value == "me" else _id(key, value)
    elif key == "language":
        if not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?", value):
            raise _bad(key, "not a language code")
        values[key] = value
    elif key == "country":
        if not re.fullmatch(r"[A-Za-z]{2}", value):
            raise _bad(key, "not a two-letter country code")
        values[key] = value.upper()
    elif key == "consent":
        if value not in CONSENT_PURPOSES:
            raise _bad(key, "one of " + ", ".join(CONSENT_PURPOSES))
        values[key] = value
    elif key == "has_open_tickets":
        if value not in ("true", "false"):
            raise _bad(key, "true or false")
        values[key] = value == "true"
    elif key in ("last_contact_before", "last_contact_after", "created_after"):
        values[key] = _time(key, value)
    elif key == "ids":
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if len(parts) > MAX_IDS:
            raise _bad(key, f"at most {MAX_IDS} ids")
        values[key] = tuple(_id(key, p) for p in parts)
    elif key == "sort":
        if value not in (*SORTS, "relevance"):
            raise _bad(key, "one of relevance, " + ", ".join(SORTS))
        values[key] = value


def parse(args: Mapping[str, Any], strict: bool = False) -> CustomerFilter:
    """A CustomerFilter from query arguments (or a segment's filter); Invalid naming the
    argument otherwise. ``strict``: unknown keys are refused too (segments); the list
    leaves them to the caller (``page``, ``per_page``, ``format``...)."""
    values: dict[str, Any] = {}
    tags: list[str] = []
    custom: dict[str, Any] = {}
    given: list[tuple[str, str]] = []
    defined = None
    for key, value in _pairs(args):
        if key in SINGLE:
            if key in values:
                raise _bad(key, "given twice")
            _single(key, value, values)
        elif key == "tag":
            if len(value) > 50 or len(tags) >= MAX_TAGS:
                raise _bad(key, f"at most {MAX_TAGS} tags of 50 characters")
            tags.append(value)
        elif key.startswith("field."):
            defined = fields.definitions("customer") if defined is None else defined
            definition = defined.get(key[6:])
            if definition is None:
                raise _bad(key, "no such custom field")
            try:
                custom[definition.key] = fields.clean_value(definition, value)
            except ValueError as exc:
                raise _bad(key, str(exc)) from None
        elif strict:
            raise _bad(key, "not a filter of the customer list")
        else:
            continue
        given.append((key, value))
    return CustomerFilter(
        tags=tuple(tags),
        fields=tuple(custom.items()),
        given=tuple(given),
        **values,
    )
