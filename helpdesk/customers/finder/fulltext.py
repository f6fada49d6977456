"""Full-text search over customers, the same on PostgreSQL and SQLite.

What is searched: name (weighted highest), emails and phones, the organization's name,
the postal address, the text values of custom fields, and notes. The index is kept by
database triggers (migration ``h16c0001``), so every writer (ORM, bulk SQL, imports)
keeps it current: on PostgreSQL the column ``customers.search_vector`` (a ``tsvector``,
GIN index), on SQLite the FTS5 table ``customers_fts`` (rowid = customer id).

The one rule both databases follow: words are the runs of letters and digits; case and
accents are folded (``Müller`` = ``müller`` = ``Muller`` = ``MULLER``, ``Straße`` =
``strasse``, ``ø`` = ``o``; PostgreSQL's ``unaccent``, SQLite's ``remove_diacritics 2`` plus
the letters of :data:`EXTRA` that have no accent to remove, Python's :func:`fold` for the
query); every word of the query must start a word of the customer's document (prefix
search: "schmi" finds Schmidt). A query that looks like a phone number is normalised to
E.164 first, so "030 1234567" finds +49301234567.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, column, false, func, literal, literal_column, table
from sqlalchemy.dialects.postgresql import TSVECTOR

from helpdesk.customers.identities import InvalidIdentity, normalise_phone
from helpdesk.customers.models import Customer

# Letters folded to others though they carry no accent (unaccent's rules for them).
EXTRA = {
    "ß": "ss",
    "ẞ": "ss",
    "æ": "ae",
    "Æ": "ae",
    "ø": "o",
    "Ø": "o",
    "œ": "oe",
    "Œ": "oe",
    "ł": "l",
    "Ł": "l",
    "đ": "d",
    "Đ": "d",
    "ð": "d",
    "Ð": "d",
    "þ": "th",
    "Þ": "th",
    "ı": "i",
}
MAX_WORDS = 8
MAX_WORD = 64
_WORD = re.compile(r"[^\W_]+")
_PHONE_LIKE = re.compile(r"^\+?[\d\s()./-]{6,30}$")

# The objects only the migration knows (Alembic's autogenerate leaves them alone:
# helpdesk/migrations/env.py).
MIGRATION_ONLY_TABLES = ("customers_fts",)
MIGRATION_ONLY_INDEXES = (
    "ix_customers_search",
    "ix_customers_tags",
    "ix_customers_custom_fields",
    "ix_customers_last_contact_desc",
)
MIGRATION_ONLY_COLUMNS = (("customers", "search_vector"),)

_fts = table("customers_fts", column("rowid"))
_vector = literal_column("customers.search_vector", TSVECTOR)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter: leave out what only the full-text migration makes."""
    if type_ == "table" and name and name.startswith(MIGRATION_ONLY_TABLES):
        return False
    if type_ == "index" and name in MIGRATION_ONLY_INDEXES:
        return False
    if type_ == "column" and (obj.table.name, name) in MIGRATION_ONLY_COLUMNS:
        return False
    return True


def fold(text: str) -> str:
    """``text`` lower-cased without accents, as the databases index it."""
    text = "".join(EXTRA.get(ch, ch) for ch in text)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def words(q: str) -> list[str]:
    """The words of a query as the index holds them (a phone number as its E.164 digits)."""
    if _PHONE_LIKE.match(q.strip()) and sum(ch.isdigit() for ch in q) >= 6:
        try:
            return [normalise_phone(q).lstrip("+")]
        except InvalidIdentity:
            return ["".join(ch for ch in q if ch.isdigit())]
    return [w[:MAX_WORD] for w in _WORD.findall(fold(q))][:MAX_WORDS]


@dataclass(frozen=True)
class Match:
    """A full-text condition and its rank (lower ranks first), for one dialect."""

    condition: ColumnElement[bool]
    rank: ColumnElement
    join: tuple[Any, Any] | None = None  # SQLite: the FTS table and its join on customers.id


def match(q: str, dialect: str) -> Match:
    """The condition and rank for query ``q`` (one without a word finds nobody)."""
    found = words(q)
    if not found:
        return Match(false(), literal(0))
    if dialect == "postgresql":
        query = func.to_tsquery("simple", " & ".join(f"{w}:*" for w in found))
        return Match(_vector.op("@@")(query), -func.ts_rank(_vector, query))
    expression = " AND ".join(f'"{w}"*' for w in found)
    fts: ColumnElement = literal_column("customers_fts")
    return Match(
        fts.op("MATCH")(expression),
        func.bm25(fts, 10.0, 1.0),
        join=(_fts, _fts.c.rowid == Customer.id),
    )
