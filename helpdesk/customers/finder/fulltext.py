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

from sqlalchemy import ColumnElement, and_, column, false, func, literal, literal_column, table
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
COMMON_SHARE = 0.02  # a word in more customers than this narrows a search too little
LEADING = 2  # words that lead the index scan at least (when the query has them)
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


def share(word: str, frequent: dict[str, float]) -> float:
    """The share of customers holding a lexeme that the prefix ``word`` starts, by the
    planner's statistics (``frequent``: its most common lexemes; a word none of them
    starts counts as rare)."""
    return sum(f for lexeme, f in frequent.items() if lexeme.startswith(word))


def leading(found: list[str], frequent: dict[str, float]) -> list[str]:
    """The words that lead the index scan: every rare one (in at most COMMON_SHARE of the
    customers), and the rarest common ones until there are LEADING."""
    shares = {w: share(w, frequent) for w in found}
    rare = [w for w in found if shares[w] <= COMMON_SHARE]
    common = sorted((w for w in found if shares[w] > COMMON_SHARE), key=lambda w: shares[w])
    return rare + common[: max(0, LEADING - len(rare))]


def match(q: str, dialect: str, frequent: dict[str, float] | None = None) -> Match:
    """The condition and rank for query ``q`` (one without a word finds nobody).

    PostgreSQL: GIN collects every entry a prefix matches before it intersects, so a
    word that half the customers share ("mail", "example" of an address, "am" of
    "Frankfurt am Main") costs a read of half the index. With ``frequent`` (the
    statistics' most common lexemes) such words are left out of the index condition
    and checked on the few rows the rarer words find (``ts_match_vq`` is ``@@`` as a
    function, which the planner does not take to the index): the same rows, found by
    the words that narrow them (``leading``)."""
    found = words(q)
    if not found:
        return Match(false(), literal(0))
    if dialect == "postgresql":
        query = func.to_tsquery("simple", " & ".join(f"{w}:*" for w in found))
        lead = leading(found, frequent or {})
        if len(lead) == len(found):
            return Match(_vector.op("@@")(query), -func.ts_rank(_vector, query))
        narrow = func.to_tsquery("simple", " & ".join(f"{w}:*" for w in lead))
        condition = and_(_vector.op("@@")(narrow), func.ts_match_vq(_vector, query))
        return Match(condition, -func.ts_rank(_vector, query))
    expression = " AND ".join(f'"{w}"*' for w in found)
    fts: ColumnElement = literal_column("customers_fts")
    return Match(
        fts.op("MATCH")(expression),
        func.bm25(fts, 10.0, 1.0),
        join=(_fts, _fts.c.rowid == Customer.id),
    )
