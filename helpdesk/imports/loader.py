"""Bulk loading of customers, organizations and orders from CSV (`helpdesk import ...`, and
the import job behind ``/customers/import``).

Our own customer format names its columns by our fields, in any order: name, email, phone,
organization, title, key_person, language, preferred_channel, tags, the consents
order_updates, email_marketing and sms_marketing (yes/no: a Consent row each), street,
postcode, city, country, created_at, account_manager (an agent's email or name), and
``field.KEY`` for each custom field. Several emails, phones or tags are separated by
``;``. Organization files: name, domains, industry, the address, created_at,
account_manager, ``field.KEY``. HubSpot, Pipedrive and Insightly exports are recognised by
their header (``formats.py``); any other file needs a mapping {column: our field}.

Each row is checked by the API's schemas (custom fields by ``fields.services.clean_values``)
and written by the CRM services in a savepoint of its own, so a bad row is reported with
its line number (the header is line 1) while the others load; commits every 500 rows. A
dry run does the same work and rolls each batch back: nothing is written, and the report
says what the import would do (a row matching a person an earlier line of the file would
create counts as merged with that line).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError

from helpdesk import unit_of_work
from helpdesk.errors import HelpdeskError
from helpdesk.extensions import db
from helpdesk.imports import formats, orders, rows
from helpdesk.imports.csvfile import SAMPLE, CsvFile, Refused, not_text

log = logging.getLogger(__name__)
BATCH = 500
# Schema and service field names as the file's columns call them, for error messages.
COLUMN_OF = {
    "emails": "email",
    "phones": "phone",
    "customer": "customer_id",
    "organization_id": "organization",
}
OUTCOMES = (rows.CREATED, rows.UPDATED, rows.MERGED, rows.REFUSED)


@dataclass
class ImportReport:
    """What became of each row: ``rows`` holds (line, outcome, id, reason or remark);
    ``errors`` the refused ones as (line, reason)."""

    source: str = "helpdesk"
    kind: str = "customers"
    rows: list[tuple[int, str, int | None, str | None]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    @property
    def loaded(self) -> int:
        """Rows created, updated or merged."""
        return sum(n for outcome, n in self.counts.items() if outcome != rows.REFUSED)

    @property
    def errors(self) -> list[tuple[int, str]]:
        """The refused rows, (line, reason)."""
        return [(line, why or "") for line, outcome, _, why in self.rows if outcome == rows.REFUSED]

    def add(self, line: int, outcome: str, ident: int | None = None, why: str | None = None):
        """Note what became of one row."""
        self.rows.append((line, outcome, ident, why))
        self.counts[outcome] = self.counts.get(outcome, 0) + 1


def import_customers(path: str | Path, source: str = "auto", dry_run: bool = False) -> ImportReport:
    """Create or merge customers from a CSV file (our format, or a known CRM's export)."""
    return _from_path(path, "customers", source, dry_run)


def import_organizations(
    path: str | Path, source: str = "auto", dry_run: bool = False
) -> ImportReport:
    """Create or update organizations from a CSV file."""
    return _from_path(path, "organizations", source, dry_run)


def import_orders(path: str | Path, dry_run: bool = False) -> ImportReport:
    """Create or update orders from a CSV file."""
    report = ImportReport(kind="orders")
    with _opened(path, report) as handle:
        if handle is not None:
            table = _csv(handle, report)
            if table is not None and _own_columns(table.header, orders.COLUMNS, report):
                mapping = {name: name.lower() for name in table.header if name}
                _run(
                    table,
                    lambda line, row: orders.load({mapping[k]: v for k, v in row.items()}),
                    report,
                    dry_run,
                )
    return report


def _from_path(path: str | Path, kind: str, source: str, dry_run: bool) -> ImportReport:
    """Load a local file: the CLI's path (streamed, no copy kept)."""
    report = ImportReport(kind=kind)
    with _opened(path, report) as handle:
        if handle is not None:
            load(handle, kind, source, None, dry_run, report=report)
    log.info("import of %s: %s", path, report.counts)
    return report


@contextmanager
def _opened(path: str | Path, report: ImportReport) -> Iterator[TextIO | None]:
    """The file as text, or None (and the reason in the report) when it cannot be read or
    is no UTF-8 text."""
    path = Path(path)
    try:
        with path.open("rb") as raw:
            problem = not_text(raw.read(SAMPLE))
        handle = None if problem else path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        report.add(1, rows.REFUSED, None, f"cannot read the file: {exc.strerror or exc}")
        yield None
        return
    if handle is None:
        report.add(1, rows.REFUSED, None, f"{problem}; nothing loaded")
        yield None
        return
    with handle:
        yield handle


def _csv(handle: TextIO, report: ImportReport) -> CsvFile | None:
    """The file's header read, or None with the reason in the report."""
    try:
        return CsvFile(handle)
    except Refused as exc:
        report.add(1, rows.REFUSED, None, f"{exc}; nothing loaded")
    except UnicodeDecodeError:
        report.add(1, rows.REFUSED, None, "not UTF-8 text; nothing loaded")
    return None


def _own_columns(header: list[str], columns: tuple[str, ...], report: ImportReport) -> bool:
    """Whether every column is one of ours; otherwise the whole file is refused."""
    unknown = [name for name in header if name and name.lower() not in columns]
    if unknown:
        report.add(
            1,
            rows.REFUSED,
            None,
            f"unknown column{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(n[:40]) for n in unknown[:5])} (the columns are "
            f"{', '.join(columns)}, separated by , or ;); nothing loaded",
        )
    return not unknown


def load(
    handle: TextIO,
    kind: str,
    source: str = "auto",
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    *,
    actor: Any = None,
    progress: Callable[[int], None] | None = None,
    report: ImportReport | None = None,
) -> ImportReport:
    """Load a customer or organization file from a text stream.

    ``source``: ``auto`` detects it from the header. Without a ``mapping``, our own format
    and the known exports map themselves, and any other file is refused (unknown columns);
    with one, each column goes where it says (``formats.check_mapping`` checked it).
    ``progress(rows_done)`` is called after each batch, its transaction ended.
    """
    report = report or ImportReport(kind=kind)
    table = _csv(handle, report)
    if table is None:
        return report
    if source == "auto":
        source, kind = formats.detect(table.header, kind)
    report.source, report.kind = source, kind
    if mapping is None:
        if source == "custom":
            _own_columns(table.header, tuple(formats.TARGETS[kind]), report)
            return report
        mapping = formats.mapping_for(source, kind, table.header, {})
    loader: rows.CustomerRows | rows.OrganizationRows
    if kind == "organizations":
        loader = rows.OrganizationRows(source, dry_run, actor or _System())
    else:
        loader = rows.CustomerRows(source, dry_run)

    def load_row(line: int, row: dict[str, str]) -> rows.Outcome:
        return loader.load(line, rows.record(row, mapping))

    _run(table, load_row, report, dry_run, loader.forget, progress)
    return report


class _System:
    """The importing "agent" of a command-line import: may set organization domains."""

    role = "admin"
    id = None


def _run(
    table: CsvFile,
    load_row: Callable[[int, dict[str, str]], rows.Outcome | None],
    report: ImportReport,
    dry_run: bool,
    forget: Callable[[], None] = lambda: None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Load every row in a savepoint of its own; commit (dry run: roll back) in batches."""
    seen = 0
    try:
        with unit_of_work.writing():
            for line, row in table.rows():
                if isinstance(row, str):
                    report.add(line, rows.REFUSED, None, row)
                    continue
                try:
                    done = load_row(line, row)
                except (Refused, HelpdeskError, ValidationError, IntegrityError, DataError) as exc:
                    report.add(line, rows.REFUSED, None, message(exc))
                else:
                    report.add(line, *(done or (rows.CREATED, None)))
                seen += 1
                if seen % BATCH == 0:
                    _end_batch(dry_run, forget)
                    if progress is not None:
                        progress(seen)
            _end_batch(dry_run, forget)
    except BaseException:
        db.session.rollback()
        raise


def _end_batch(dry_run: bool, forget: Callable[[], None]) -> None:
    """Commit the batch, or (dry run) roll it back and forget what it made."""
    if dry_run:
        db.session.rollback()
        forget()
    else:
        unit_of_work.commit()


def message(exc: Exception) -> str:
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
        if exc.fields and all(k.startswith("custom_fields.") for k in exc.fields):
            return "; ".join(f"{_column(k)}: {v}" for k, v in exc.fields.items())
        columns = [_column(key) for key in exc.fields]
        extra = [f"{_column(k)}: {v}" for k, v in exc.fields.items() if str(v) not in exc.message]
        if len(columns) == 1 and not extra:
            return f"{columns[0]}: {exc.message}"
        return exc.message + (f" ({'; '.join(extra)})" if extra else "")
    if isinstance(exc, (IntegrityError, DataError)):
        return f"the database refused the row: {str(exc.orig).splitlines()[0][:200]}"
    return str(exc)


def _column(key: str) -> str:
    """A service's field name as a column: ``custom_fields.KEY`` is ``field.KEY``."""
    if key.startswith("custom_fields."):
        return "field." + key.removeprefix("custom_fields.")
    return COLUMN_OF.get(key, key)
