"""The duplicate finder (GET /api/v1/customers/duplicates), dismissing a pair, and the
merge with chosen winning values and its preview."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from helpdesk import unit_of_work
from helpdesk.audit.models import AuditEvent
from helpdesk.customers.models import Customer, Identity, Organization
from helpdesk.duplicates import candidates, finder
from helpdesk.extensions import db
from tests.fixtures.agents import login

V1 = "/api/v1"


def pairs(api, **args) -> dict[tuple[int, int], list[str]]:
    """Every pair the API lists (all pages), with its reasons."""
    found, url = {}, f"{V1}/customers/duplicates?per_page=2"
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.json
        for item in response.json["items"]:
            found[(item["a"], item["b"])] = item["reasons"]
        url = response.json["next"]
    return found


def pair(x, y) -> tuple[int, int]:
    return (min(x.id, y.id), max(x.id, y.id))


@pytest.fixture
def org(app):
    with unit_of_work.write_phase():
        row = Organization(name="Acme")
        db.session.add(row)
        db.session.commit()
    return row


def test_names_are_folded():
    assert finder.fold_name("  Jürgen   MÜLLER ") == finder.fold_name("juergen mueller")
    assert finder.fold_name("José-María") == "jose maria"
    assert finder.fold_name("Straße") == "strasse"
    assert finder.fold_name(None) == ""


def test_email_keys():
    assert finder.email_key("J.Doe+shop@googlemail.com") == "jdoe@gmail.com"
    assert finder.email_key("jdoe@gmail.com") == "jdoe@gmail.com"
    assert finder.email_key("jane+news@acme.example") == "jane@acme.example"
    assert finder.email_key("jane.doe@acme.example") == "jane.doe@acme.example"


def test_each_rule_finds_its_pairs_and_nothing_else(api, make_customer, org):
    gmail_a = make_customer("Jane Doe", emails=["jane.doe@gmail.com"])
    gmail_b = make_customer("J. Doe", emails=["janedoe+shop@googlemail.com"])
    tagged_a = make_customer("Tom", emails=["tom@shop.example"])
    tagged_b = make_customer("Thomas", emails=["tom+orders@shop.example"])
    same_org_a = make_customer("Jürgen Müller", organization_id=org.id)
    same_org_b = make_customer("juergen  mueller", organization_id=org.id)
    make_customer("Jürgen Müller")  # no organization: not "in one organization"
    domain_a = make_customer("Katharina Schmidt", emails=["k.schmidt@bigcorp.example"])
    domain_b = make_customer("Katharina Schmitt", emails=["ks@bigcorp.example"])
    make_customer("Peter Parker", emails=["pp@bigcorp.example"])  # same domain, other name
    make_customer("Anna Weber", emails=["anna.weber@gmx.de"])  # free mail: never a domain
    make_customer("Anna Webers", emails=["a.weber@gmx.de"])
    phone_a = make_customer("Max", phones=["+49301234567"])
    phone_b = make_customer("Maximilian", phones=["+49 30 7654321"])
    with unit_of_work.write_phase():  # as an old import stored it: not in E.164
        db.session.execute(
            update(Identity).where(Identity.value == "+49307654321").values(value="030 1234567")
        )
        db.session.commit()
    candidates.run()  # raw SQL passes the session's hooks: refresh as the periodic job does

    found = pairs(api)
    assert found == {
        pair(gmail_a, gmail_b): ["same_email"],
        pair(tagged_a, tagged_b): ["same_email"],
        pair(same_org_a, same_org_b): ["same_name_in_organization"],
        pair(domain_a, domain_b): ["similar_name_same_domain"],
        pair(phone_a, phone_b): ["same_phone"],
    }
    assert all(a < b for a, b in found)


def test_a_dismissed_pair_does_not_come_back(api, admin, make_customer, org):
    a = make_customer("Eva Braun", organization_id=org.id)
    b = make_customer("Eva  Braun", organization_id=org.id)
    assert pair(a, b) in pairs(api)
    response = api.post(f"{V1}/customers/duplicates/dismiss", json={"a": b.id, "b": a.id})
    assert response.status_code == 204
    again = api.post(f"{V1}/customers/duplicates/dismiss", json={"a": a.id, "b": b.id})
    assert again.status_code == 204
    assert pairs(api) == {}
    [event] = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "duplicate.dismiss")
    ).all()
    assert event.after == {"a": a.id, "b": b.id} and event.agent_id == admin.id

    for body in ({"a": a.id, "b": a.id}, {"a": a.id}, {"a": a.id, "b": 2**31}, {"a": "1", "b": 2}):
        response = api.post(f"{V1}/customers/duplicates/dismiss", json=body)
        assert response.status_code == 422, body
    assert (
        api.post(f"{V1}/customers/duplicates/dismiss", json={"a": a.id, "b": 999999}).status_code
        == 404
    )


def test_an_account_manager_sees_only_pairs_of_their_customers(
    api_as, make_agent, make_customer, org
):
    manager = make_agent("am@example.com")
    mine_a = make_customer("Lea Roth", organization_id=org.id)
    mine_b = make_customer("Lea Roth", organization_id=org.id)
    other_org = Organization(name="Other")
    with unit_of_work.write_phase():
        db.session.add(other_org)
        db.session.flush()
        for c in (mine_a, mine_b):
            db.session.get(Customer, c.id).account_manager_id = manager.id
        db.session.get(type(manager), manager.id).own_accounts_only = True
        db.session.commit()
    theirs_a = make_customer("Ida Kern", organization_id=other_org.id)
    theirs_b = make_customer("Ida Kern", organization_id=other_org.id)
    # One of mine with a twin I may not see: not offered (it would reveal the other).
    make_customer("Lea Roth", organization_id=org.id)

    assert pairs(api_as(manager)) == {pair(mine_a, mine_b): ["same_name_in_organization"]}
    response = api_as(manager).post(
        f"{V1}/customers/duplicates/dismiss", json={"a": theirs_a.id, "b": theirs_b.id}
    )
    assert response.status_code == 404


def test_merge_keeps_the_chosen_values_and_the_preview_says_what_moves(
    api, make_customer, org, inbound
):
    into = make_customer("Jon Smith", emails=["jon@acme.example"], title="Buyer", language="en")
    other = make_customer(
        "Jonathan Smith",
        emails=["jonathan@acme.example"],
        phones=["+49301112223"],
        title="Head of Buying",
        organization_id=org.id,
        language="de",
    )
    inbound("email", "jonathan@acme.example", "Hello", subject="Hi")
    assert (
        api.post(f"{V1}/customers/{other.id}/notes", json={"body": "call back"}).status_code == 201
    )
    body = {"from": other.id, "keep": {"name": "from", "title": "into", "language": "from"}}

    preview = api.post(f"{V1}/customers/{into.id}/merge/preview", json=body)
    assert preview.status_code == 200, preview.json
    assert preview.json["moves"] == {
        "tickets": 1,
        "messages": 1,
        "calls": 0,
        "orders": 0,
        "notes": 1,
        "identities": 2,
    }
    assert preview.json["values"] == {
        "name": "Jonathan Smith",
        "title": "Buyer",
        "organization": org.id,
        "language": "de",
        "preferred_channel": None,
    }
    assert preview.json["deleted"] == other.id
    assert db.session.get(Customer, other.id) is not None  # a preview writes nothing

    merged = api.post(f"{V1}/customers/{into.id}/merge", json=body)
    assert merged.status_code == 200, merged.json
    assert (merged.json["name"], merged.json["title"], merged.json["preferences"]["language"]) == (
        "Jonathan Smith",
        "Buyer",
        "de",
    )
    assert merged.json["organization"]["id"] == org.id

    bad = api.post(
        f"{V1}/customers/{into.id}/merge", json={"from": other.id, "keep": {"name": "both"}}
    )
    assert bad.status_code == 422
    gone = api.post(f"{V1}/customers/{into.id}/merge/preview", json={"from": other.id})
    assert gone.status_code == 422 and gone.json["error"]["fields"] == {"from": "unknown id"}
    itself = api.post(f"{V1}/customers/{into.id}/merge/preview", json={"from": into.id})
    assert itself.status_code == 422


def test_the_finder_and_its_page_read_a_fixed_number_of_statements(
    api, client, make_customer, org, count_queries
):
    def ours(statements):  # not the token's bookkeeping (last use, once a minute)
        return len([s for s in statements if "api_tokens" not in s and not s.startswith("BEGIN")])

    def plant(numbers):
        for n in numbers:
            make_customer(f"Person {n}", emails=[f"p.{n}@gmail.com"], organization_id=org.id)
            make_customer(f"Person {n}", emails=[f"p{n}+x@gmail.com"], organization_id=org.id)

    def read():
        with count_queries() as statements:
            listed = api.get(f"{V1}/customers/duplicates?per_page=100").json["items"]
        with count_queries() as page_statements:
            page = client.get("/customers/duplicates")
        assert page.status_code == 200
        return len(listed), ours(statements), ours(page_statements)

    plant(range(3))
    login(client, "admin@example.com")
    few = read()
    plant(range(3, 12))
    many = read()
    assert (few[0], many[0]) == (3, 12)
    assert many[1:] == few[1:]


def test_a_large_domain_is_compared_by_blocks_and_neighbours():
    people = [(n, finder.fold_name(f"Person{n:03d} Surname{n:03d}")) for n in range(1, 400)]
    people += [
        (1000, "katharina schmidt"),
        (1001, "katharina schmitt"),
        (1002, "schmidt katharina"),
    ]
    people += [(1003, "jon smith"), (1004, "john smith"), (1005, "peter parker")]
    found = set(finder._similar_pairs(people))
    assert {(1000, 1001), (1000, 1002), (1003, 1004)} <= found
    assert not any(1005 in pair for pair in found)
    # The numbered people share a block; only near neighbours are compared there.
    assert len(found) < 400 * finder.WINDOW
