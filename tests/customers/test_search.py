"""Full-text search over customers: one fixed set of queries answers the same customers
on SQLite (FTS5) and PostgreSQL (tsvector), and the index follows every change."""

from __future__ import annotations

import pytest

from helpdesk import unit_of_work
from helpdesk.customers import search
from helpdesk.customers.models import Customer, Note, Organization
from helpdesk.extensions import db
from helpdesk.fields.models import CustomField

PEOPLE = {
    "juergen": dict(
        name="Jürgen Müller",
        emails=["juergen.mueller@example.de"],
        phones=["+49 30 1234567"],
        org="Bäckerei Schmidt GmbH",
        street="Alte Straße 5",
        postcode="10115",
        city="Berlin",
        country="DE",
    ),
    "anna": dict(
        name="Anna Schmidt",
        emails=["anna.schmidt@example.com"],
        phones=["089 5550101"],
        city="München",
        country="DE",
    ),
    "zoe": dict(name="Zoë Ørsted", emails=["zoe@orsted.dk"], city="København", country="DK"),
    "peter": dict(
        name="Peter Schmitz",
        org="Acme",
        note="Wants a callback about the order to the Straße",
    ),
    "max": dict(name="Max Mustermann", fields={"customer_number": "K-4711", "seats": 12}),
    "francois": dict(name="François Dupont", emails=["francois@dupont.fr"]),
}

QUERIES = [
    ("müller", {"juergen"}),
    ("Muller", {"juergen"}),
    ("MÜLLER", {"juergen"}),
    ("Schmi", {"juergen", "anna", "peter"}),
    ("schmidt", {"juergen", "anna"}),
    ("anna.schmidt@example.com", {"anna"}),
    ("juergen.mu", {"juergen"}),
    ("030 1234567", {"juergen"}),
    ("+49 30 1234567", {"juergen"}),
    ("089 555", {"anna"}),  # a phone number typed half: its first digits
    ("555 0101", set()),  # but not its last ones
    ("strasse", {"juergen", "peter"}),
    ("Straße", {"juergen", "peter"}),
    ("zoe", {"zoe"}),
    ("ørsted", {"zoe"}),
    ("orsted", {"zoe"}),
    ("kobenhavn", {"zoe"}),
    ("francois", {"francois"}),
    ("FRANÇOIS dup", {"francois"}),
    ("jürgen berlin", {"juergen"}),
    ("bäckerei", {"juergen"}),
    ("alte str", {"juergen"}),
    ("backerei 10115", {"juergen"}),
    ("K-4711", {"max"}),
    ("callback", {"peter"}),
    ("acme", {"peter"}),
    ("nobody", set()),
    ("anna zoe", set()),
]


@pytest.fixture
def people(app, make_customer):
    """The fixed people, by key."""
    with unit_of_work.write_phase():
        db.session.add(
            CustomField(key="customer_number", label="No.", type="text", applies_to="customer")
        )
        db.session.add(
            CustomField(key="seats", label="Seats", type="number", applies_to="customer")
        )
        db.session.commit()
    made = {}
    for key, spec in PEOPLE.items():
        spec = dict(spec)
        customer = make_customer(spec.pop("name"), spec.pop("emails", ()), spec.pop("phones", ()))
        with unit_of_work.write_phase():
            customer = db.session.get(Customer, customer.id)
            org = spec.pop("org", None)
            if org:
                customer.organization = Organization(name=org)
            note = spec.pop("note", None)
            if note:
                db.session.add(Note(customer_id=customer.id, body=note))
            customer.custom_fields = spec.pop("fields", {})
            for column, value in spec.items():
                setattr(customer, column, value)
            db.session.commit()
        made[key] = customer.id
    return made


def found(q: str, agent) -> set[int]:
    """The ids full-text search finds for ``q``."""
    return {c.id for c in search.page(search.parse({"q": q}), agent, 1, 50).customers}


def test_the_fixed_queries_find_the_same_customers_on_either_database(people, admin):
    wrong = {}
    for q, expected in QUERIES:
        got = found(q, admin)
        want = {people[key] for key in expected}
        if got != want:
            names = {v: k for k, v in people.items()}
            wrong[q] = (sorted(names[i] for i in got), sorted(expected))
    assert not wrong, wrong


def test_a_name_match_ranks_before_an_address_or_organization_match(people, admin):
    found = search.page(search.parse({"q": "schmidt"}), admin, 1, 50)
    assert found.total == 2 and found.exact
    assert found.customers[0].id == people["anna"]  # her name; Jürgen only works there


def test_the_index_follows_every_change(people, admin, make_customer):
    with unit_of_work.write_phase():
        peter = db.session.get(Customer, people["peter"])
        peter.organization.name = "Globex"  # the organization renamed
        peter.name = "Pete Schmitz"
        db.session.add(Note(customer_id=people["anna"], body="prefers Tuesdays"))
        db.session.commit()
    assert found("globex", admin) == {people["peter"]}
    assert found("acme", admin) == set()
    assert found("pete", admin) == {people["peter"]}
    assert found("tuesdays", admin) == {people["anna"]}
    new = make_customer("Ole Hansen", emails=["ole@hansen.no"])
    assert found("hansen.no", admin) == {new.id}
    with unit_of_work.write_phase():
        db.session.delete(db.session.get(Customer, new.id))
        db.session.commit()
    assert found("hansen", admin) == set()


def test_a_query_of_punctuation_alone_finds_nobody(people, admin):
    assert found("+++ ...", admin) == set()


def test_the_models_and_the_migrations_agree(app):
    """Autogenerate finds nothing to do: what only the full-text migration makes (the FTS
    table, the tsvector column, the GIN and expression indexes) is left out on purpose."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from helpdesk.customers.finder.fulltext import include_object

    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_object, "compare_type": True}
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == [], differences


def test_the_words_leading_the_index_scan_change_no_result(people, admin, monkeypatch):
    """PostgreSQL leaves words the statistics call common out of the index condition and
    checks them on what the rarer words found: the same customers for every query."""
    common = {"example": 0.9, "schmidt": 0.5, "berlin": 0.3, "de": 0.2, "anna": 0.1}
    url = str(db.engine.url)
    monkeypatch.setitem(search._FREQUENT, url, (float("inf"), common))
    assert search.frequent_lexemes() == common or db.engine.dialect.name != "postgresql"
    for q, expected in [*QUERIES, ("anna example schmidt", {"anna"})]:
        assert found(q, admin) == {people[key] for key in expected}, q


def test_the_leading_words_are_the_rare_ones_then_the_rarest_common():
    from helpdesk.customers.finder import fulltext

    frequent = {"mail": 0.9, "example": 0.9, "main": 0.05, "am": 0.05, "amsterdam": 0.05}
    assert fulltext.leading(["mia", "becker", "mail", "example"], frequent) == ["mia", "becker"]
    # "am" starts "am" and "amsterdam": 10 %; "main" 5 %.
    assert fulltext.leading(["am", "main", "mail"], frequent) == ["main", "am"]
    assert fulltext.leading(["zoe"], frequent) == ["zoe"]


def test_a_ranked_search_counts_its_hits_with_its_page(people, admin, monkeypatch):
    wanted = search.parse({"q": "schmi"})
    first = search.page(wanted, admin, 1, 2)
    assert (len(first.customers), first.more, first.total, first.exact) == (2, True, 3, True)
    assert search.page(wanted, admin, 2, 2).total == 3
    monkeypatch.setattr(search, "RANK_CANDIDATES", 2)  # more hits than ranked: counted
    capped = search.page(wanted, admin, 1, 1)
    assert (capped.total, capped.exact) == (3, True)
