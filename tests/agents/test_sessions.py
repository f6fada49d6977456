"""Login throttling and logging, logout ending every copy of a session, the session
cookie's attributes and the pages' framing policy (issue 15, finding 7)."""

from __future__ import annotations

import logging
import re

import pytest

from tests.fixtures.agents import PASSWORD, form_csrf

LIMIT = 30


@pytest.fixture
def app_config():
    return {"LOGIN_ATTEMPTS_PER_MINUTE": LIMIT}


def attempt(client, email, password, ip):
    """Post the login form from client address ``ip``."""
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": form_csrf(client)},
        environ_base={"REMOTE_ADDR": ip},
    )


def logged_in(client) -> bool:
    return client.get("/inbox").status_code == 200


def test_the_31st_attempt_from_one_address_is_not_checked(web_app, make_agent, caplog):
    make_agent("throttle-ip@example.com")
    client = web_app.test_client()
    caplog.set_level(logging.INFO, logger="helpdesk.agents.services")
    for n in range(LIMIT):  # wrong passwords for many accounts, from one address
        answer = attempt(client, f"guess{n}@example.com", "wrong horse", "198.51.100.7")
        assert answer.status_code == 200
    refused = attempt(client, "throttle-ip@example.com", PASSWORD, "198.51.100.7")
    assert refused.status_code == 429  # the right password, but it is not looked at
    assert "Too many login attempts" in refused.get_data(as_text=True)
    # (in German for a German browser: tests/web/test_german.py)
    assert not logged_in(client)
    failed = [r for r in caplog.records if "login failed" in r.getMessage()]
    assert len(failed) == LIMIT and "198.51.100.7" in failed[0].getMessage()
    assert any("login throttled" in r.getMessage() for r in caplog.records)
    other = attempt(client, "throttle-ip@example.com", PASSWORD, "198.51.100.8")
    assert other.status_code == 302  # another address is not held up


def test_the_31st_attempt_on_one_account_is_not_checked(web_app, make_agent):
    make_agent("throttle-account@example.com")
    client = web_app.test_client()
    for n in range(LIMIT):  # from many addresses: per account counts too
        answer = attempt(client, "throttle-account@example.com", "wrong", f"203.0.113.{n + 1}")
        assert answer.status_code == 200
    refused = attempt(client, "Throttle-Account@example.com", PASSWORD, "203.0.113.200")
    assert refused.status_code == 429 and not logged_in(client)


def test_logout_ends_every_copy_of_the_session(web_app, make_agent):
    make_agent("copies@example.com")
    browser = web_app.test_client()
    assert attempt(browser, "copies@example.com", PASSWORD, "192.0.2.1").status_code == 302
    cookie = browser.get_cookie("session").value
    stolen = web_app.test_client()  # the same cookie, copied elsewhere
    stolen.set_cookie("session", cookie)
    assert logged_in(stolen)
    token = re.search(r'name="csrf_token"[^>]*? value="([^"]+)"', browser.get("/inbox").text)
    assert browser.post("/logout", data={"csrf_token": token.group(1)}).status_code == 302
    assert not logged_in(browser)
    assert not logged_in(stolen)  # the copy ended with the logout
    assert stolen.get("/api/v1/tickets").status_code == 401


def session_cookie(client, base_url: str) -> str:
    """The Set-Cookie header of the session a fresh login form starts."""
    cookies = client.get("/login", base_url=base_url).headers.getlist("Set-Cookie")
    return next(c for c in cookies if c.startswith("session="))


def test_the_session_cookie_is_lax_and_http_only(web_app):
    client = web_app.test_client()
    cookie = session_cookie(client, "http://localhost")
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie and "Secure" not in cookie


def test_the_session_cookie_is_secure_over_https(web_app):
    client = web_app.test_client()
    cookie = session_cookie(client, "https://localhost")
    assert "Secure" in cookie and "SameSite=Lax" in cookie and "HttpOnly" in cookie


def test_no_page_may_be_framed(web_app, make_agent):
    client = web_app.test_client()
    login_page = client.get("/login")
    assert "frame-ancestors 'none'" in login_page.headers["Content-Security-Policy"]
    assert login_page.headers["X-Frame-Options"] == "DENY"
    make_agent("frames@example.com")
    attempt(client, "frames@example.com", PASSWORD, "192.0.2.3")
    inbox = client.get("/inbox")
    assert inbox.status_code == 200
    assert "frame-ancestors 'none'" in inbox.headers["Content-Security-Policy"]
