"""The stored duplicate pairs: the same as the live finder's, kept up to date after the
commits that change customers (merges and erasures included), read per agent."""

from __future__ import annotations

from sqlalchemy import func, select

from helpdesk import unit_of_work
from helpdesk.agents.models import Agent
from helpdesk.customers.models import Customer, Organization
from helpdesk.duplicates import candidates, finder
from helpdesk.duplicates.models import DuplicateCandidate
from helpdesk.extensions import db

V1 = "/api/v1"


def stored() -> dict[tuple[int, int], list[str]]:
    rows = db.session.execute(
        select(
            DuplicateCandidate.customer_a_id,
            DuplicateCandidate.customer_b_id,
            DuplicateCandidate.reasons,
        )
    )
    return {(a, b): reasons for a, b, reasons in rows}


def api_pairs(api) -> list[dict]:
    found, url = [], f"{V1}/customers/duplicates?per_page=3"
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.json
        found += response.json["items"]
        url = response.json["next"]
    return found


def test_stored_pairs_are_the_live_finders_and_follow_each_change(
    api, api_as, admin, make_agent, make_customer
):
    with unit_of_work.write_phase():
        acme, other = Organization(name="Acme"), Organization(name="Other")
        db.session.add_all([acme, other])
        unit_of_work.commit()
    # Demo-like: every rule, pairs in and across organizations, a dismissed pair.
    jane = make_customer("Jane Doe", emails=["jane.doe@gmail.com"], organization_id=acme.id)
    jane2 = make_customer("J. Doe", emails=["janedoe+shop@googlemail.com"])
    ida = make_customer("Ida Kern", organization_id=acme.id)
    ida2 = make_customer("ida  kern", organization_id=acme.id, phones=["+49301234567"])
    kat = make_customer("Katharina Schmidt", emails=["k.schmidt@bigcorp.example"])
    kat2 = make_customer("Katharina Schmitt", emails=["ks@bigcorp.example"])
    tom = make_customer("Tom Berg", emails=["tom@shop.example"], organization_id=other.id)
    tom2 = make_customer("Tom Berg", emails=["tom+x@shop.example"], organization_id=other.id)
    eva = make_customer("Eva Roth", organization_id=other.id)
    eva2 = make_customer("Eva Roth", organization_id=other.id)
    dismissed = api.post(f"{V1}/customers/duplicates/dismiss", json={"a": eva.id, "b": eva2.id})
    assert dismissed.status_code == 204

    live = finder.live(admin)
    assert len(live) == 4
    assert candidates.find(admin) == live == api_pairs(api)
    assert candidates.count(admin) == 4
    assert stored()[(tom.id, tom2.id)] == [
        "same_email",
        "same_name_in_organization",
        "similar_name_same_domain",
    ]
    assert stored()[(kat.id, kat2.id)] == ["similar_name_same_domain"]
    assert (eva.id, eva2.id) in stored()  # kept, but never offered
    assert candidates.find(admin, offset=1, limit=2) == live[1:3]

    # An account manager of Acme: only pairs of two of their customers.
    manager = make_agent("am@example.com")
    with unit_of_work.write_phase():
        db.session.get(Organization, acme.id).account_manager_id = manager.id
        db.session.get(Agent, manager.id).own_accounts_only = True
        unit_of_work.commit()
    mine = [{"a": ida.id, "b": ida2.id, "reasons": ["same_name_in_organization"]}]
    assert candidates.find(manager) == finder.live(manager) == mine  # not Jane's twin
    assert api_pairs(api_as(manager)) == mine and candidates.count(manager) == 1

    # A rename ends a pair; a merge and an erasure take theirs along.
    renamed = api.patch(f"{V1}/customers/{ida2.id}", json={"name": "Ida Sommer"})
    assert renamed.status_code == 200, renamed.json
    assert (ida.id, ida2.id) not in stored()
    merged = api.post(f"{V1}/customers/{tom.id}/merge", json={"from": tom2.id})
    assert merged.status_code == 200, merged.json
    assert (tom.id, tom2.id) not in stored()
    assert api.delete(f"{V1}/customers/{kat2.id}").status_code == 204
    assert stored() == {
        (jane.id, jane2.id): ["same_email"],
        (eva.id, eva2.id): ["same_name_in_organization"],
    }
    assert candidates.find(admin) == finder.live(admin) == api_pairs(api)
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 8
    assert candidates.refresh() == {"found": 2, "added": 0, "removed": 0, "changed": 0}
