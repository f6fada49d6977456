"""Exporting every customer of a filter as CSV or XLSX, streamed.

Rows come from ``search.stream``: one query in id order, read 1,000 rows at a time
(a server-side cursor on PostgreSQL); each page's addresses and consents come from two
queries by those ids: memory stays flat whatever the count. CSV is
yielded page by page; XLSX is written by XlsxWriter in ``constant_memory`` mode to a
temporary file, then streamed from it (a zip file is complete only when closed).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator

from sqlalchemy import select

from helpdesk.customers import search
from helpdesk.customers.models import CONSENT_PURPOSES, Consent, Customer, Identity, Organization
from helpdesk.db import iso
from helpdesk.extensions import db
from helpdesk.fields import services as fields

BATCH = 1000
CHUNK = 64 * 1024
COLUMNS = (
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
    Customer.tags,
    Customer.custom_fields,
    Customer.created_at,
    Customer.last_contact_at,
)
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


def _extras(ids: list[int]) -> tuple[dict, dict]:
    """For one page of customers: their addresses by (customer, kind), oldest first, and
    their consents by (customer, purpose): two indexed queries per page rather than
    five subqueries per row."""
    addresses: dict[tuple[int, str], list[str]] = {}
    for customer_id, kind, value in db.session.execute(
        select(Identity.customer_id, Identity.kind, Identity.value)
        # By customer only (the kinds are sorted out below): with a condition on the kind,
        # SQLite reads every address of that kind through (kind, value) instead of looking
        # the page's customers up in ix_identities_customer_id.
        .where(Identity.customer_id.in_(ids))
        .order_by(Identity.customer_id, Identity.id)
    ):
        addresses.setdefault((customer_id, kind), []).append(value)  # chat ids unread
    consents = {
        (customer_id, purpose): granted
        for customer_id, purpose, granted in db.session.execute(
            select(Consent.customer_id, Consent.purpose, Consent.granted).where(
                Consent.customer_id.in_(ids)
            )
        )
    }
    return addresses, consents


def rows(wanted: search.CustomerFilter, agent) -> Iterator[list[list]]:
    """The header, then the rows of every matching customer, a page at a time: the
    customers from one query read as it goes, their addresses and consents loaded per
    page (``_extras``). The query is made now, the rows read as the answer is sent."""
    keys = list(fields.definitions("customer"))
    header = [[*HEADER, *(f"consent.{p}" for p in CONSENT_PURPOSES), *(f"field.{k}" for k in keys)]]
    org = (Organization, Customer.organization_id == Organization.id)
    batches = search.stream(wanted, agent, *COLUMNS, size=BATCH, join=org)

    def answer(granted: bool | None) -> str | None:
        return None if granted is None else ("true" if granted else "false")

    def pages() -> Iterator[list[list]]:
        yield header
        for batch in batches:
            addresses, consents = _extras([row[0] for row in batch])
            page = []
            for row in batch:
                row = list(row)
                cid = row[0]
                row[11] = "; ".join(row[11] or [])  # tags
                custom = row.pop(12) or {}
                row[12] = iso(row[12])  # created_at
                row[13] = iso(row[13]) if row[13] else None  # last_contact_at
                row.append("; ".join(addresses.get((cid, "email"), [])) or None)
                row.append("; ".join(addresses.get((cid, "phone"), [])) or None)
                row += [answer(consents.get((cid, p))) for p in CONSENT_PURPOSES]
                row += [custom.get(k) for k in keys]
                page.append(row)
            yield page

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
