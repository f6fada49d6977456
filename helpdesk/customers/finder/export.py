"""Exporting every customer of a filter as CSV or XLSX, streamed.

Rows come from ``search.stream``: one Core query in id order, read 1,000 rows at a time
(a server-side cursor on PostgreSQL), each row already in its export form: the database
joins the tags and each kind of address into text, answers each consent as "true" or
"false" and (SQLite) writes the times in ISO 8601, so Python neither decodes JSON nor
builds an object per row, and CSV hands the rows to the csv module as they come. Memory
stays flat whatever the count. XLSX is written by XlsxWriter in ``constant_memory`` mode
to a temporary file, then streamed from it (a zip file is complete only when closed).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator

from sqlalchemy import ColumnElement, String, literal_column, text, true, type_coerce

from helpdesk.customers import search
from helpdesk.customers.models import CONSENT_PURPOSES, Customer, Organization
from helpdesk.extensions import db
from helpdesk.fields import services as fields

BATCH = 1000
CHUNK = 64 * 1024
HEADER = (
    "id",
    "name",
    "organization",
    "title",
    "language",
    "preferred_channel",
    "street",
    "postcode",
    "city",
    "country",
    "account_manager",
    "tags",
    "created_at",
    "last_contact_at",
    "emails",
    "phones",
)
# Each row: HEADER's columns, then one per consent purpose, then (with custom fields
# defined) the raw JSON of the customer's custom fields, read per key in Python.
CUSTOM = len(HEADER) + len(CONSENT_PURPOSES)


def _text(sql: str) -> ColumnElement:
    """A column of SQL text (purposes and kinds are constants of the code, never input)."""
    return literal_column(sql, String)


def _iso(column: str, postgres: bool) -> ColumnElement:
    """A time column as ``datetime.isoformat()`` writes a UTC time: PostgreSQL hands back
    datetimes (formatted in Python, see ``rows``), SQLite's stored text
    ("YYYY-MM-DD HH:MM:SS.ffffff") is rewritten in SQL."""
    if postgres:
        return literal_column(f"customers.{column}")
    value = f"customers.{column}"
    return _text(
        f"CASE WHEN {value} IS NULL THEN NULL ELSE replace(CASE WHEN substr({value}, 20) "
        f"= '.000000' THEN substr({value}, 1, 19) ELSE {value} END, ' ', 'T') || '+00:00' END"
    )


def _addresses(kind: str, postgres: bool) -> ColumnElement:
    """The customer's addresses of ``kind``, oldest first, joined by "; " (NULL: none).
    PostgreSQL reads them from the lateral join ``_JOINS`` made (one index scan for both
    kinds rather than a subplan per column)."""
    if postgres:
        return _text(f"export_identities.{kind}")
    return _text(
        "(SELECT group_concat(value, '; ') FROM (SELECT i.value FROM identities i "
        f"WHERE i.customer_id = customers.id AND i.kind = '{kind}' ORDER BY i.id))"
    )


def _answer(granted: str) -> str:
    return f"CASE WHEN {granted} THEN 'true' ELSE 'false' END"


def _consent(purpose: str, postgres: bool) -> ColumnElement:
    """The answer for ``purpose``: "true", "false", or NULL when never asked."""
    if postgres:
        return _text(f"export_consents.{purpose}")
    return _text(
        f"(SELECT {_answer('c.granted')} FROM consents c "
        f"WHERE c.customer_id = customers.id AND c.purpose = '{purpose}')"
    )


def _joins(postgres: bool) -> tuple:
    """The organization, and (PostgreSQL) each customer's addresses and consents as one
    lateral row each."""
    joins: list[tuple] = [(Organization, Customer.organization_id == Organization.id)]
    if postgres:
        kinds = ", ".join(
            f"string_agg(value, '; ' ORDER BY id) FILTER (WHERE kind = '{k}') AS {k}"
            for k in ("email", "phone")
        )
        purposes = ", ".join(
            f"max({_answer('granted')}) FILTER (WHERE purpose = '{p}') AS {p}"
            for p in CONSENT_PURPOSES
        )
        for name, sql in (
            ("export_identities", f"SELECT {kinds} FROM identities"),
            ("export_consents", f"SELECT {purposes} FROM consents"),
        ):
            lateral = text(f"{sql} WHERE customer_id = customers.id").columns().subquery(name)
            joins.append((lateral.lateral(name), true()))
    return tuple(joins)


def _tags(postgres: bool) -> ColumnElement:
    """The customer's tags joined by "; " ("" for none)."""
    if postgres:
        return _text(
            "array_to_string(ARRAY(SELECT jsonb_array_elements_text(CASE WHEN "
            "jsonb_typeof(customers.tags) = 'array' THEN customers.tags ELSE '[]' END)), '; ')"
        )
    return _text(
        "coalesce((SELECT group_concat(t.value, '; ') FROM json_each(CASE WHEN "
        "json_type(customers.tags) = 'array' THEN customers.tags ELSE '[]' END) t), '')"
    )


def columns(postgres: bool, custom: bool) -> list:
    """The export's columns in the order of its header."""
    out = [
        Customer.id,
        Customer.name,
        Organization.name,
        Customer.title,
        Customer.language,
        Customer.preferred_channel,
        Customer.street,
        Customer.postcode,
        Customer.city,
        Customer.country,
        Customer.account_manager_id,
        _tags(postgres),
        _iso("created_at", postgres),
        _iso("last_contact_at", postgres),
        _addresses("email", postgres),
        _addresses("phone", postgres),
        *(_consent(p, postgres) for p in CONSENT_PURPOSES),
    ]
    if custom:  # the raw JSON text, decoded only when there are fields to export
        out.append(type_coerce(Customer.custom_fields, String))
    return out


def rows(wanted: search.CustomerFilter, agent) -> Iterator[list]:
    """The header, then the rows of every matching customer, a page at a time. The query
    is made now, the rows read as the answer is sent."""
    keys = list(fields.definitions("customer"))
    header = [[*HEADER, *(f"consent.{p}" for p in CONSENT_PURPOSES), *(f"field.{k}" for k in keys)]]
    postgres = db.session.get_bind().dialect.name == "postgresql"
    batches = search.stream(
        wanted, agent, *columns(postgres, bool(keys)), size=BATCH, joins=_joins(postgres)
    )

    def custom_values(raw) -> list:
        values = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(values, dict):
            values = {}
        return [values.get(k) for k in keys]

    def pages() -> Iterator[list]:
        yield header
        for batch in batches:
            if postgres:  # times as datetime.isoformat writes them
                batch = [
                    (*row[:12], row[12].isoformat(), row[13] and row[13].isoformat(), *row[14:])
                    for row in batch
                ]
            if keys:
                batch = [[*row[:CUSTOM], *custom_values(row[CUSTOM])] for row in batch]
            yield batch

    return pages()


def csv_chunks(pages: Iterator[list[list]]) -> Iterator[str]:
    """The pages as CSV text, one chunk per page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for page in pages:
        writer.writerows(page)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def xlsx_chunks(pages: Iterator[list[list]]) -> Iterator[bytes]:
    """The pages as one XLSX workbook, written row by row to a temporary file, then read
    back in chunks."""
    import xlsxwriter

    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        workbook = xlsxwriter.Workbook(
            path,
            {
                "constant_memory": True,
                "strings_to_urls": False,
                "strings_to_formulas": False,  # a name "=1+1" stays text
            },
        )
        sheet = workbook.add_worksheet("customers")
        number = 0
        for page in pages:
            for row in page:
                sheet.write_row(number, 0, row)
                number += 1
        workbook.close()
        with open(path, "rb") as stream:
            while chunk := stream.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)
