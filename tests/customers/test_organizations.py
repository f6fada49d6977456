"""Organization domains: only leads and admins set them, never a free-mail domain
(issue 15, finding 5)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from helpdesk.customers.models import Customer, OrganizationDomain
from helpdesk.extensions import db

V1 = "/api/v1"


def domains() -> set[str]:
    return set(db.session.scalars(select(OrganizationDomain.domain)))


@pytest.fixture
def people(make_agent):
    pat = make_agent("pat@example.com", teams=["Support"], name="Pat")
    lea = make_agent("lea@example.com", role="lead", teams=["Support"], name="Lea")
    return pat, lea


def test_an_agent_may_not_give_an_organization_domains(api, api_as, people):
    pat, lea = people
    created = api_as(pat).post(
        f"{V1}/organizations", json={"name": "Acme", "domains": ["acme.example"]}
    )
    assert created.status_code == 403 and created.json["error"]["code"] == "forbidden"
    org = api_as(pat).post(f"{V1}/organizations", json={"name": "Acme"})  # without: fine
    assert org.status_code == 201
    path = f"{V1}/organizations/{org.json['id']}"
    refused = api_as(pat).patch(path, json={"domains": ["acme.example"]})
    assert refused.status_code == 403 and domains() == set()
    assert api_as(pat).patch(path, json={"notes": "key account"}).status_code == 200
    given = api_as(lea).patch(path, json={"domains": ["acme.example"]})
    assert given.status_code == 200 and given.json["domains"] == ["acme.example"]
    same = api_as(pat).patch(path, json={"name": "Acme AG", "domains": ["acme.example"]})
    assert same.status_code == 200  # unchanged domains: nothing to refuse


@pytest.mark.parametrize("domain", ["gmail.com", "GMX.de", "web.de", "outlook.com"])
def test_free_mail_domains_are_refused_for_everyone(api, domain):
    response = api.post(f"{V1}/organizations", json={"name": "Acme", "domains": [domain]})
    assert response.status_code == 422
    assert "free-mail" in response.json["error"]["fields"]["domains"]
    assert domains() == set()


def test_a_new_gmail_customer_joins_no_organization(api, inbound):
    """Even an organization that owned gmail.com before the rule does not get them."""
    from helpdesk.customers.models import Organization

    org = Organization(name="Old data")
    org.domains = [OrganizationDomain(domain="gmail.com")]
    db.session.add(org)
    db.session.commit()
    inbound("email", "someone@gmail.com", "Hello")
    customer = db.session.execute(select(Customer)).unique().scalar_one()
    assert customer.organization_id is None
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1
