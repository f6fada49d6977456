"""Exporting every customer of a filter as CSV or XLSX, streamed.

Rows come from ``search.batches`` (keyset pages of 1,000 by id), each page with its
identities and consents in one query each: memory stays flat whatever the count. CSV is
yielded page by page; XLSX is written by XlsxWriter in ``constant_memory`` mode to a
temporary file, then streamed from it (a zip file is complete only when closed).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime

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


def _cell(value) -> object:
    """A value as a spreadsheet cell."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def rows(wanted: search.CustomerFilter, agent) -> Iterator[list[list]]:
    """The header, then the rows of every matching customer, a page at a time."""
    keys = list(fields.definitions("customer"))
    yield [[*HEADER, *(f"consent.{p}" for p in CONSENT_PURPOSES), *(f"field.{k}" for k in keys)]]
    org = (Organization, Customer.organization_id == Organization.id)
    for batch in search.batches(wanted, agent, *COLUMNS, size=BATCH, join=org):
        ids = [row[0] for row in batch]
        addresses: dict[tuple[int, str], list[str]] = {}
        for customer_id, kind, value in db.session.execute(
            select(Identity.customer_id, Identity.kind, Identity.value)
            .where(Identity.customer_id.in_(ids), Identity.kind.in_(("email", "phone")))
            .order_by(Identity.id)
        ):
            addresses.setdefault((customer_id, kind), []).append(value)
        consents = {
            (customer_id, purpose): granted
            for customer_id, purpose, granted in db.session.execute(
                select(Consent.customer_id, Consent.purpose, Consent.granted).where(
                    Consent.customer_id.in_(ids)
                )
            )
        }
        page = []
        for row in batch:
            (cid, name, org, title, lang, channel, street, postcode, city, country) = row[:10]
            manager, tags, custom, created, last = row[10:]
            custom = custom or {}
            page.append(
                [
                    _cell(v)
                    for v in (
                        cid,
                        name,
                        org,
                        title,
                        lang,
                        channel,
                        street,
                        postcode,
                        city,
                        country,
                        manager,
                        "; ".join(tags or []),
                        created,
                        last,
                        "; ".join(addresses.get((cid, "email"), [])),
                        "; ".join(addresses.get((cid, "phone"), [])),
                        *(consents.get((cid, p)) for p in CONSENT_PURPOSES),
                        *(custom.get(k) for k in keys),
                    )
                ]
            )
        yield page


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
