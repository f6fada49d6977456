"""Bulk loading of customers and orders from CSV (`helpdesk import customers|orders FILE`).

The header row names the columns, in any order (unknown ones refuse the file):

customers: name, email, phone, organization, title, key_person, language,
  preferred_channel, tags, order_updates. Several emails, phones or tags are
  separated by ``;``. A row whose email or phone belongs to a customer updates
  that customer: its addresses and tags are added to, the other filled-in
  fields replaced; an empty cell changes nothing. A row without email or phone
  always makes a new customer.
orders: number, customer_email / customer_phone / customer_id, customer_name,
  status, total, currency, ordered_at, carrier, tracking_number, tracking_url,
  expected_delivery, lines (``sku|name|quantity|unit_price`` items separated by ``;``).

Files are UTF-8 (with or without BOM), separated by ``,`` or ``;``, and read as
a stream. Each row is checked by the API's schemas and written by the CRM
services in a savepoint of its own, so a bad row is reported with its line
number (the header is line 1) while the others load; commits every 500 rows.
"""

from __future__ import annotations

import codecs
import csv
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.exc import DataError, IntegrityError

from helpdesk import unit_of_work
from helpdesk.customers import orders, services
from helpdesk.customers.models import Customer, Organization
from helpdesk.customers.schemas import CustomerIn, OrderIn
from helpdesk.errors import Conflict, HelpdeskError
from helpdesk.extensions import db
from helpdesk.organizations.schemas import OrganizationIn

log = logging.getLogger(__name__)
BATCH = 500
SAMPLE = 64 * 1024  # read up front to tell a text file from anything else
CUSTOMER_COLUMNS = tuple(
    "name email phone organization title key_person language preferred_channel tags "
    "order_updates".split()
)
ORDER_COLUMNS = tuple(
    "number customer_email customer_phone customer_id customer_name status total currency "
    "ordered_at carrier tracking_number tracking_url expected_delivery lines".split()
)
# Schema and service field names as the file's columns call them, for error messages.
COLUMN_OF = {
    "emails": "email",
    "phones": "phone",
    "customer": "customer_id",
    "organization_id": "organization",
}


@dataclass
class ImportReport:
    """How many rows loaded, and why each refused row was refused (line number, message)."""

    loaded: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


class Refused(ValueError):
    """A row (or the file) that cannot be loaded; the message says why."""


def import_customers(path: str | Path) -> ImportReport:
    """Create or update customers from a CSV file."""
    return _load(path, CUSTOMER_COLUMNS, _Customers().load)


def import_orders(path: str | Path) -> ImportReport:
    """Create or update orders from a CSV file."""
    return _load(path, ORDER_COLUMNS, _order)


def _load(
    path: str | Path, columns: tuple[str, ...], load_row: Callable[[dict[str, str]], None]
) -> ImportReport:
    """Load every row in a savepoint of its own; commit in batches."""
    report = ImportReport()
    seen = 0
    try:
        with unit_of_work.writing():
            for line, row in _rows(Path(path), columns, report):
                try:
                    load_row(row)
                except (Refused, HelpdeskError, ValidationError, IntegrityError, DataError) as exc:
                    report.errors.append((line, _message(exc)))
                else:
                    report.loaded += 1
                seen += 1
                if seen % BATCH == 0:
                    unit_of_work.commit()
            unit_of_work.commit()
    except BaseException:
        db.session.rollback()
        raise
    log.info("import of %s: %s rows loaded, %s refused", path, report.loaded, len(report.errors))
    return report


def _rows(
    path: Path, columns: tuple[str, ...], report: ImportReport
) -> Iterator[tuple[int, dict[str, str]]]:
    """The file's rows as {column: non-empty value}, with the line each starts on."""
    try:
        with path.open("rb") as raw:
            problem = _not_text(raw.read(SAMPLE))
        if problem:
            report.errors.append((1, f"{problem}; nothing loaded"))
            return
        with path.open(encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()
            delimiter = _delimiter(first)
            header = _header(next(csv.reader([first], delimiter=delimiter), []), columns)
            reader = csv.reader(handle, delimiter=delimiter)
            read = 1  # lines consumed so far: the header
            try:
                for values in reader:
                    line, read = read + 1, 1 + reader.line_num
                    if not any(v.strip() for v in values):
                        continue
                    if len(values) > len(header):
                        report.errors.append(
                            (
                                line,
                                f"{len(values)} values, but the header names {len(header)} columns",
                            )
                        )
                        continue
                    yield (
                        line,
                        {
                            name: value.strip()
                            for name, value in zip(header, values, strict=False)
                            if name and value.strip()
                        },
                    )
            except csv.Error as exc:
                report.errors.append((read + 1, f"not readable as CSV ({exc}); stopped here"))
            except UnicodeDecodeError:
                report.errors.append((read + 1, "not UTF-8 text from here on; stopped here"))
    except Refused as exc:
        report.errors.append((1, f"{exc}; nothing loaded"))
    except OSError as exc:
        report.errors.append((1, f"cannot read the file: {exc.strerror or exc}"))


def _not_text(sample: bytes) -> str | None:
    """Why ``sample`` cannot be the start of a UTF-8 CSV file, or None."""
    if not sample.strip():
        return "the file is empty"
    if b"\0" in sample:
        return "not a CSV file: it holds binary data"
    try:
        # Not final: the sample may end inside a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text (byte {exc.start + 1}): save the file as CSV UTF-8"
    return None


def _delimiter(header_line: str) -> str:
    """``,`` or ``;``, whichever separates the header (column names contain neither)."""
    try:
        return csv.Sniffer().sniff(header_line, delimiters=",;").delimiter
    except csv.Error:  # a single column
        return ","


def _header(names: list[str], columns: tuple[str, ...]) -> list[str]:
    """The header's column names; unknown or repeated ones refuse the whole file."""
    header = [name.strip().lower() for name in names]
    unknown = [name for name in header if name and name not in columns]
    if unknown:
        raise Refused(
            f"unknown column{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(n[:40]) for n in unknown[:5])} (the columns are "
            f"{', '.join(columns)}, separated by , or ;)"
        )
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise Refused(f"column {repeated[0]!r} appears twice")
    if not any(header):
        raise Refused("the first line names no columns")
    return header


def _message(exc: Exception) -> str:
    """A refused row's reason, in the file's own column names."""
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors():
            first = (
                "organization"
                if exc.title == "OrganizationIn"
                else str(error["loc"][0])
                if error["loc"]
                else "row"
            )
            where = [COLUMN_OF.get(first, first)]
            where += [f"item {p + 1}" if isinstance(p, int) else str(p) for p in error["loc"][1:]]
            got = error.get("input")
            shown = f" (got {got[:60]!r})" if isinstance(got, str) else ""
            parts.append(f"{' '.join(where)}: {error['msg']}{shown}")
        return "; ".join(parts)
    if isinstance(exc, HelpdeskError):
        columns = [COLUMN_OF.get(key, key) for key in exc.fields]
        extra = [
            f"{COLUMN_OF.get(k, k)}: {v}"
            for k, v in exc.fields.items()
            if str(v) not in exc.message
        ]
        if len(columns) == 1 and not extra:
            return f"{columns[0]}: {exc.message}"
        return exc.message + (f" ({'; '.join(extra)})" if extra else "")
    if isinstance(exc, (IntegrityError, DataError)):
        return f"the database refused the row: {str(exc.orig).splitlines()[0][:200]}"
    return str(exc)


def _split(value: str) -> list[str]:
    """The ``;``-separated values of a cell."""
    return [part.strip() for part in value.split(";") if part.strip()]


class _Customers:
    """Loads customer rows, remembering the organizations it has found or made."""

    def __init__(self) -> None:
        # Held, not just their ids: the service then finds them in the session instead
        # of loading them (and flushing the half-made customer first) row after row.
        self.organizations: dict[str, Organization] = {}

    def load(self, row: dict[str, str]) -> None:
        """Create or update the customer of one row."""
        data: dict[str, Any] = {
            key: row[key] for key in ("name", "title", "key_person", "order_updates") if key in row
        }
        data.update(
            {key: row[key].lower() for key in ("language", "preferred_channel") if key in row}
        )
        data.update(
            {
                key: _split(row[column])
                for key, column in (("emails", "email"), ("phones", "phone"), ("tags", "tags"))
                if column in row
            }
        )
        if not any(key in row for key in ("name", "email", "phone")):
            raise Refused("a customer needs a name, an email or a phone")
        fields = CustomerIn.model_validate(data, strict=False).to_service(only_set=True)
        for said in (fields.get("consents") or {}).values():  # the column order_updates
            said["source"] = said.get("source") or "import"
        organization = (
            OrganizationIn.model_validate({"name": row["organization"]}, strict=False).name
            if "organization" in row
            else None
        )
        try:
            # Most rows are new people: try that first, and let the service's own check
            # say when an address is someone's already (saves a lookup per address).
            with db.session.begin_nested():
                org = self._organization(organization, fields)
                services.create_customer(dict(fields))
        except Conflict:
            with db.session.begin_nested():
                org = self._organization(organization, fields)
                self._update(self._owner(fields), fields)
        if org is not None:  # known from now on (a rolled-back row's new one is not)
            assert organization is not None  # an organization is found by its name
            self.organizations.setdefault(organization.lower(), org)

    @staticmethod
    def _update(customer: Customer, fields: dict) -> None:
        """Add the row's addresses and tags to the customer; replace the other fields."""
        for key, kind in (("emails", "email"), ("phones", "phone")):
            if key in fields:
                fields[key] = customer.values(kind) + fields[key]
        if "tags" in fields:
            fields["tags"] = list(dict.fromkeys((customer.tags or []) + fields["tags"]))
        services.apply_fields(customer, fields)
        db.session.flush()

    @staticmethod
    def _owner(fields: dict) -> Customer:
        """The one customer the row's addresses belong to; two is an error."""
        owners: dict[int, tuple] = {}
        for key, kind in (("emails", "email"), ("phones", "phone")):
            for value in fields.get(key, []):
                customer = services.find_by_identity(kind, value)
                if customer is not None:
                    owners.setdefault(customer.id, (customer, f"{kind} {value}"))
        if len(owners) > 1:
            raise Refused(
                "the row's addresses belong to different customers: "
                + ", ".join(f"{what} to customer {cid}" for cid, (_, what) in owners.items())
            )
        if not owners:  # the owner was erased between the two steps
            raise Refused("an address of the row changed hands during the import; load it again")
        return next(iter(owners.values()))[0]

    def _organization(self, name: str | None, fields: dict) -> Organization | None:
        """The organization called ``name`` (any case), created if new, set on ``fields``."""
        if not name:
            return None
        org = self.organizations.get(name.lower()) or self._find_or_create(name)
        fields["organization_id"] = org.id
        return org

    @staticmethod
    def _find_or_create(name: str) -> Organization:
        """The first organization called ``name`` (any case), or a new one."""
        # The exact name too: SQLite's lower() leaves non-ASCII capitals (Ä, É) as they are.
        org = db.session.execute(
            select(Organization)
            .where(or_(Organization.name == name, func.lower(Organization.name) == name.lower()))
            .order_by(Organization.id)
            .limit(1)
        ).scalar_one_or_none()
        if org is None:
            org = Organization(name=name)
            db.session.add(org)
            db.session.flush()
        return org


def _order(row: dict[str, str]) -> None:
    """Create or update the order of one row."""
    number = row.get("number")
    if not number:
        raise Refused("number is missing")
    data: dict[str, Any] = {
        key: row[key]
        for key in (
            "customer_email",
            "customer_phone",
            "customer_name",
            "ordered_at",
            "carrier",
            "tracking_number",
            "tracking_url",
            "expected_delivery",
        )
        if key in row
    }
    if "customer_id" in row:
        data["customer"] = row["customer_id"]
    if "status" in row:
        data["status"] = row["status"].lower()
    if "currency" in row:
        data["currency"] = row["currency"].upper()
    if "total" in row:
        data["total"] = _amount(row["total"])
    if "lines" in row:
        data["lines"] = [_line(item, n) for n, item in enumerate(_split(row["lines"]), 1)]
    fields = OrderIn.model_validate(data, strict=False).model_dump(exclude_unset=True)
    with db.session.begin_nested():
        orders.upsert(number, fields)


def _line(item: str, n: int) -> dict:
    """One ``sku|name|quantity|unit_price`` item of the lines column."""
    parts = [part.strip() for part in item.split("|")]
    if not 2 <= len(parts) <= 4:
        raise Refused(f"lines item {n}: write sku|name|quantity|unit_price, got {item[:60]!r}")
    line = {"sku": parts[0] or None, "name": parts[1]}
    if len(parts) > 2 and parts[2]:
        line["quantity"] = parts[2]
    if len(parts) > 3 and parts[3]:
        line["unit_price"] = _amount(parts[3])
    return line


def _amount(value: str) -> str:
    """An amount as written in Germany ("12,50") read as "12.50"; others unchanged."""
    if value.count(",") == 1 and "." not in value:
        return value.replace(",", ".")
    return value
