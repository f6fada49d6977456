"""Logging in and out of the agent UI, and the browser session calling the API with CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from helpdesk.customers.models import Customer
from helpdesk.extensions import db

PASSWORD = "correct horse"
TOKEN = re.compile(r'name="csrf_token"[^>]*? value="([^"]+)"')


@pytest.fixture
def pat(make_agent):
    """An agent of team Support with a known password."""
    return make_agent("pat@example.com", teams=["Support"], name="Pat Agent", password=PASSWORD)


def csrf(client, path: str = "/login") -> str:
    """The CSRF token of the form on ``path``."""
    return TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def log_in(client, email: str, password: str, next_: str | None = None):
    """Post the login form the way a browser does."""
    return client.post(
        "/login",
        query_string={"next": next_} if next_ else None,
        data={"email": email, "password": password, "csrf_token": csrf(client)},
    )


def logged_in(client) -> bool:
    """Whether the client's session belongs to an agent."""
    return client.get("/inbox").status_code == 200


def test_the_login_form_carries_a_csrf_token(client):
    response = client.get("/login")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert len(TOKEN.search(page).group(1)) > 20
    assert 'name="email"' in page and 'name="password"' in page


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(client, pat, make_agent):
    gone = make_agent("gone@example.com", password=PASSWORD)
    gone.active = False
    db.session.commit()
    answers = []
    for email, password in (
        ("pat@example.com", "wrong horse"),
        ("nobody@example.com", PASSWORD),
        ("gone@example.com", PASSWORD),
    ):
        response = log_in(client, email, password)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "Wrong email or password." in page
        answers.append(TOKEN.sub("TOKEN", page).replace(email, "EMAIL"))
        assert not logged_in(client)
    assert answers[0] == answers[1] == answers[2]
    assert not re.search(r"unknown|no such|not found|incorrect password", answers[0], re.I)


def test_a_post_without_the_csrf_token_is_refused(client, pat):
    response = client.post("/login", data={"email": "pat@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert not logged_in(client)


def test_the_right_credentials_log_in_and_the_inbox_renders(client, pat, inbound):
    inbound("email", "ada@example.com", "Where is my parcel?", subject="Parcel 12345")
    response = log_in(client, "PAT@Example.com ", PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/inbox"
    inbox = client.get("/inbox")
    assert inbox.status_code == 200
    page = inbox.get_data(as_text=True)
    assert "Pat Agent" in page and "Parcel 12345" in page
    assert client.get("/login").status_code == 302  # already in: straight to the inbox


@pytest.mark.parametrize(
    "target, location",
    [
        ("/customers/1?page=2", "/customers/1?page=2"),
        ("https://evil.example/", "/inbox"),
        ("//evil.example/", "/inbox"),
        ("/\\evil.example", "/inbox"),
        ("/\t/evil.example", "/inbox"),
        ("javascript:alert(1)", "/inbox"),
        ("inbox", "/inbox"),
    ],
)
def test_next_only_leads_to_a_path_on_this_site(client, pat, target, location):
    response = log_in(client, "pat@example.com", PASSWORD, next_=target)
    assert response.status_code == 302
    assert response.headers["Location"] == location


def test_logout_needs_the_csrf_token_and_ends_the_session(client, pat):
    log_in(client, "pat@example.com", PASSWORD)
    assert client.post("/logout").status_code == 400
    assert logged_in(client)
    token = csrf(client, "/inbox")  # the logout form in the page header
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert not logged_in(client)
    assert client.get("/api/v1/tickets").status_code == 401


def test_a_browser_session_calls_the_api_and_writes_only_with_the_csrf_header(client, pat):
    def customers() -> int:
        return db.session.scalar(select(func.count()).select_from(Customer))

    assert client.get("/api/v1/tickets").status_code == 401
    log_in(client, "pat@example.com", PASSWORD)
    assert client.get("/api/v1/tickets").status_code == 200
    for headers in ({}, {"X-CSRFToken": "forged"}):
        refused = client.post("/api/v1/customers", json={"name": "Ada"}, headers=headers)
        assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"
    assert customers() == 0
    token = csrf(client, "/inbox")
    created = client.post("/api/v1/customers", json={"name": "Ada"}, headers={"X-CSRFToken": token})
    assert created.status_code == 201, created.json
    patched = client.patch(
        f"/api/v1/customers/{created.json['id']}",
        json={"title": "CTO"},
        headers={"X-CSRFToken": token},
    )
    assert patched.status_code == 200 and customers() == 1
