"""Random and hostile input to every write endpoint: a clear 4xx, never a 500, nothing written."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from helpdesk.customers.models import Customer, Identity, Note, Order, Organization
from helpdesk.extensions import db
from helpdesk.tickets.models import Call, Message, Ticket, TicketEvent

MODELS = (Customer, Identity, Note, Order, Organization, Ticket, Message, TicketEvent, Call)
KEYS = [
    "name",
    "emails",
    "phones",
    "organization",
    "tags",
    "title",
    "key_person",
    "language",
    "preferred_channel",
    "custom_fields",
    "subject",
    "body",
    "customer",
    "customer_email",
    "customer_phone",
    "status",
    "priority",
    "team",
    "assignee",
    "from",
    "reason",
    "lines",
    "total",
    "currency",
    "internal",
    "domains",
    "notes",
    "tracking_url",
    "expected_delivery",
    "event",
    "callId",
    "to",
    "direction",
    "user",
    "cause",
    "channel",
    "quantity",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "",
            "x" * 5000,
            "ada@example.com",
            "+49 30 1234567",
            "open",
            "2026-13-45",
            "1e400",
            "<script>alert(1)</script>",
            "\u0000",
        ]
    )
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.dictionaries(st.sampled_from(KEYS), values, max_size=6) | values


def counts() -> tuple[int, ...]:
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in MODELS)


@pytest.fixture
def targets(api, make_customer, make_ticket):
    """One of each thing the write endpoints address."""
    customer = make_customer("Ada", emails=["ada@example.com"])
    other = make_customer("Bob", emails=["bob@example.com"])
    ticket = make_ticket(customer)
    org = api.post("/api/v1/organizations", json={"name": "Acme"}).json
    return [
        ("post", "/api/v1/customers"),
        ("patch", f"/api/v1/customers/{customer.id}"),
        ("post", f"/api/v1/customers/{customer.id}/merge"),
        ("post", f"/api/v1/customers/{other.id}/notes"),
        ("post", "/api/v1/organizations"),
        ("patch", f"/api/v1/organizations/{org['id']}"),
        ("put", "/api/v1/orders/10023"),
        ("post", "/api/v1/tickets"),
        ("patch", f"/api/v1/tickets/{ticket}"),
        ("post", f"/api/v1/tickets/{ticket}/messages"),
        ("post", f"/api/v1/tickets/{ticket}/escalate"),
        ("post", "/api/v1/cti/events"),
    ]


def check(response, before) -> None:
    """No 500; a refusal has the error shape and wrote nothing."""
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        error = response.json["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)
        assert isinstance(error["fields"], dict)
        db.session.rollback()
        assert counts() == before


@pytest.fixture
def callers(api, api_as, admin):
    """Who calls a path: a phone system (a cti token) the CTI API, the admin the rest."""
    pbx = api_as(admin, "cti")
    return lambda path: pbx if path.endswith("/cti/events") else api


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, index=st.integers(min_value=0, max_value=11))
def test_random_json_never_breaks_a_write_endpoint(callers, targets, body, index):
    method, path = targets[index]
    before = counts()
    check(getattr(callers(path), method)(path, json=body), before)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    raw=st.binary(max_size=200),
    index=st.integers(min_value=0, max_value=11),
    content_type=st.sampled_from(
        [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/json; charset=latin-1",
        ]
    ),
)
def test_random_bytes_never_break_a_write_endpoint(callers, targets, raw, index, content_type):
    method, path = targets[index]
    before = counts()
    check(getattr(callers(path), method)(path, data=raw, content_type=content_type), before)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "x" * 201}, "name"),
        ({"emails": ["not an email"]}, "emails"),
        ({"phones": ["+0000"]}, "phones"),
        ({"nickname": "Ada"}, "nickname"),
        ({"key_person": "yes"}, "key_person"),
        ({"organization": 999999}, "organization"),
        ({"tags": [1, 2]}, "tags.0"),
    ],
)
def test_invalid_customer_fields_are_named(api, body, field):
    response = api.post("/api/v1/customers", json=body)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]


def test_unknown_ids_answer_404_in_the_error_shape(api):
    for path in (
        "/api/v1/customers/999999",
        "/api/v1/tickets/999999",
        "/api/v1/organizations/999999",
        "/api/v1/orders/nope",
    ):
        response = api.get(path)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
