"""Finding customers who are probably one person, in blocks the database picks out.

Nothing compares every customer with every other. SQL selects the few candidates of
each rule, Python decides within each small block:

- ``same_email``: one address written two ways (Gmail ignores dots and ``+tags`` and
  answers at googlemail.com too; any address with a ``+tag``): only Gmail addresses and
  tagged ones are read, keyed, and the keys looked up;
- ``same_phone``: a number stored unnormalised on one customer that is another's E.164;
- ``same_name_in_organization``: the same name (case, spacing, umlauts and accents
  folded) on two people of one organization: only organizations of two or more people;
- ``similar_name_same_domain``: names at least ``SIMILAR`` alike (``difflib``) among the
  people writing from one company domain (free-mail domains never count): only domains
  shared by two or more customers; within a domain only names starting alike (first and
  last word) are compared, a large such block by sorted neighbourhood.

The same pairs come out on SQLite and PostgreSQL: SQL only selects, Python decides.
"""

from __future__ import annotations

import difflib
import itertools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import lru_cache

from sqlalchemy import ColumnElement, String, and_, distinct, func, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from helpdesk.agents import access
from helpdesk.customers.identities import FREE_MAIL_DOMAINS, InvalidIdentity, normalise_phone
from helpdesk.customers.models import Customer, Identity
from helpdesk.duplicates.models import DuplicateDismissal
from helpdesk.extensions import db

SIMILAR = 0.85
ALL_PAIRS_UP_TO = 100  # names of one block compared pairwise; more: sorted neighbourhood
WINDOW = 10  # neighbours each name is compared with in a large block
BATCH = 500  # keys looked up per statement
GMAIL = ("gmail.com", "googlemail.com")
REASONS = (
    "same_email",
    "same_phone",
    "same_name_in_organization",
    "similar_name_same_domain",
)

Pair = tuple[int, int]


class EmailDomain(FunctionElement):
    """The part of an address after its "@" (SQLite has no split_part)."""

    type = String()
    inherit_cache = True


@compiles(EmailDomain, "postgresql")
def _domain_pg(element, compiler, **kw):
    return f"split_part({compiler.process(element.clauses, **kw)}, '@', 2)"


@compiles(EmailDomain)
def _domain_sqlite(element, compiler, **kw):
    value = compiler.process(element.clauses, **kw)
    return f"substr({value}, instr({value}, '@') + 1)"


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_NOT_LETTERS = re.compile(r"[^\w]+")


@lru_cache(maxsize=65536)  # names repeat, and two rules fold the same ones
def fold_name(name: str | None) -> str:
    """A name as compared: case, spacing, punctuation, umlauts ("ü" = "ue") and other
    accents folded; "" for no name."""
    text = (name or "").lower()
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).lower().translate(_UMLAUTS)
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    return " ".join(_NOT_LETTERS.sub(" ", text).split())


def email_key(address: str) -> str:
    """One key for the ways of writing one mailbox: no ``+tag``; for Gmail no dots and
    gmail.com for googlemail.com."""
    local, _, domain = address.strip().lower().rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in GMAIL:
        domain = "gmail.com"
        local = local.replace(".", "")
    return f"{local}@{domain}"


def _pair(a: int, b: int) -> Pair:
    return (a, b) if a < b else (b, a)


def _seen_by(agent) -> ColumnElement[bool]:
    """The customers ``agent`` may see; everyone for ``agent=None`` (the stored
    candidates' refresh)."""
    return true() if agent is None else access.customer_filter(agent)


def _visible(agent, query):
    """``query`` (over identities joined to their customer) limited to ``agent``'s
    customers."""
    return query.join(Customer, Customer.id == Identity.customer_id).where(_seen_by(agent))


def _batches(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), BATCH):
        yield values[start : start + BATCH]


def _grouped_pairs(groups: Iterable[Iterable[int]]) -> Iterator[Pair]:
    """Every pair of distinct customers within each group."""
    for group in groups:
        yield from itertools.combinations(sorted(set(group)), 2)


def _add_owners(agent, kind: str, values: list[str], groups: dict[str, set[int]]) -> None:
    """Add to ``groups[value]`` the customers (that ``agent`` may see) who hold ``value``
    as an identity of ``kind``: stored addresses in their normal form, looked up in
    batches."""
    for batch in _batches(values):
        for customer_id, value in db.session.execute(
            _visible(
                agent,
                select(Identity.customer_id, Identity.value).where(
                    Identity.kind == kind, Identity.value.in_(batch)
                ),
            )
        ):
            groups[value].add(customer_id)


def same_email(agent) -> set[Pair]:
    """Customers whose addresses are one mailbox written two ways."""
    rows = db.session.execute(
        _visible(
            agent,
            select(Identity.customer_id, Identity.value).where(
                Identity.kind == "email",
                or_(
                    *(Identity.value.like(f"%@{d}") for d in GMAIL),
                    Identity.value.like("%+%@%"),
                ),
            ),
        )
    ).all()
    by_key: dict[str, set[int]] = defaultdict(set)
    for customer_id, value in rows:
        by_key[email_key(value)].add(customer_id)
    # A tagged address's untagged form may be a plain identity of someone else.
    plain = sorted(k for k in by_key if not k.endswith("@gmail.com"))
    _add_owners(agent, "email", plain, by_key)
    return set(_grouped_pairs(by_key.values()))


def same_phone(agent) -> set[Pair]:
    """Customers whose phone numbers are one number (a stored value that is not in
    E.164 form, e.g. from an old import, against another customer's E.164)."""
    rows = db.session.execute(
        _visible(
            agent,
            select(Identity.customer_id, Identity.value).where(
                Identity.kind == "phone", Identity.value.not_like("+%")
            ),
        )
    ).all()
    by_number: dict[str, set[int]] = defaultdict(set)
    for customer_id, value in rows:
        try:
            by_number[normalise_phone(value)].add(customer_id)
        except InvalidIdentity:
            continue
    _add_owners(agent, "phone", sorted(by_number), by_number)
    return set(_grouped_pairs(by_number.values()))


def same_name_in_organization(agent) -> set[Pair]:
    """Two people of one organization with the same folded name."""
    crowded = (
        select(Customer.organization_id)
        .where(Customer.organization_id.is_not(None), Customer.name.is_not(None))
        .group_by(Customer.organization_id)
        .having(func.count() > 1)
    )
    rows = db.session.execute(
        select(Customer.id, Customer.organization_id, Customer.name).where(
            Customer.organization_id.in_(crowded),
            Customer.name.is_not(None),
            _seen_by(agent),
        )
    ).all()
    groups: dict[tuple[int | None, str], set[int]] = defaultdict(set)
    for customer_id, org_id, name in rows:
        key = fold_name(name)
        if key:
            groups[(org_id, key)].add(customer_id)
    return set(_grouped_pairs(groups.values()))


def similar(a: str, b: str) -> bool:
    """Whether two folded names are at least SIMILAR alike."""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return (
        matcher.real_quick_ratio() >= SIMILAR
        and matcher.quick_ratio() >= SIMILAR
        and matcher.ratio() >= SIMILAR
    )


def _name_block(name: str) -> tuple[str, ...]:
    """The block a folded name is compared within: the starts of its first and last
    words, in either order ("Smith, John" meets "John Smyth"). A typo in a word's first
    two letters is not looked for: the price of never comparing everyone."""
    words = name.split()
    return tuple(sorted({words[0][:2], words[-1][:2]}))


def _candidates(people: list[tuple[int, str]]) -> Iterator[tuple[tuple[int, str], ...]]:
    """Pairs worth comparing among one block: all of them in a small block, else each
    name with its WINDOW neighbours in alphabetical order."""
    if len(people) <= ALL_PAIRS_UP_TO:
        yield from itertools.combinations(people, 2)
        return
    ordered = sorted(people, key=lambda p: (p[1], p[0]))
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 : i + 1 + WINDOW]:
            yield first, second


def _similar_pairs(people: list[tuple[int, str]]) -> Iterator[Pair]:
    """The pairs of similar names among one domain's people (id, folded name)."""
    blocks: dict[tuple[str, ...], list[tuple[int, str]]] = defaultdict(list)
    for person in people:
        blocks[_name_block(person[1])].append(person)
    for block in blocks.values():
        for (a, name_a), (b, name_b) in _candidates(block):
            if (
                name_a == name_b
                or similar(name_a, name_b)
                or similar(_words(name_a), _words(name_b))
            ):
                yield _pair(a, b)


def _words(name: str) -> str:
    """The name's words in alphabetical order: "schmidt katharina" = "katharina schmidt"."""
    return " ".join(sorted(name.split()))


def similar_name_same_domain(agent) -> set[Pair]:
    """People with similar names writing from one company (not free-mail) domain."""
    domain = EmailDomain(Identity.value)
    shared = (
        select(domain)
        .where(Identity.kind == "email", domain.not_in(sorted(FREE_MAIL_DOMAINS)))
        .group_by(domain)
        .having(func.count(distinct(Identity.customer_id)) > 1)
    )
    rows = db.session.execute(
        _visible(
            agent,
            select(domain.label("domain"), Identity.customer_id, Customer.name).where(
                Identity.kind == "email",
                and_(domain.in_(shared), Customer.name.is_not(None)),
            ),
        )
    ).all()
    by_domain: dict[str, dict[int, str]] = defaultdict(dict)
    for domain_name, customer_id, name in rows:
        folded = fold_name(name)
        if folded:
            by_domain[domain_name][customer_id] = folded
    pairs: set[Pair] = set()
    for people in by_domain.values():
        if len(people) > 1:
            pairs.update(_similar_pairs(sorted(people.items())))
    return pairs


RULES = (
    ("same_email", same_email),
    ("same_phone", same_phone),
    ("same_name_in_organization", same_name_in_organization),
    ("similar_name_same_domain", similar_name_same_domain),
)


def dismissed(pairs: Iterable[Pair]) -> set[Pair]:
    """Which of ``pairs`` were dismissed ("not a duplicate")."""
    wanted = sorted(set(pairs))
    found: set[Pair] = set()
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start : start + BATCH]
        asked = set(batch)
        lows = sorted({a for a, _ in batch})
        rows = db.session.execute(
            select(DuplicateDismissal.customer_a_id, DuplicateDismissal.customer_b_id).where(
                DuplicateDismissal.customer_a_id.in_(lows)
            )
        ).all()
        found.update((a, b) for a, b in rows if (a, b) in asked)
    return found


def found(agent) -> dict[Pair, list[str]]:
    """Every likely duplicate pair among the customers ``agent`` may see (everyone's for
    ``agent=None``), with the rules that matched, dismissed ones included."""
    reasons: dict[Pair, list[str]] = defaultdict(list)
    for name, rule in RULES:
        for pair in rule(agent):
            reasons[pair].append(name)
    return reasons


def live(agent) -> list[dict]:
    """Every likely duplicate pair among the customers ``agent`` may see, not dismissed,
    computed now: ``{"a", "b", "reasons"}`` with ``a < b``, the newest pairs first. (The
    page and the API read the stored pairs instead: ``candidates.find``.)"""
    reasons = found(agent)
    for pair in dismissed(reasons):
        del reasons[pair]
    ordered = sorted(reasons, key=lambda p: (-p[1], -p[0]))
    return [{"a": a, "b": b, "reasons": reasons[(a, b)]} for a, b in ordered]
