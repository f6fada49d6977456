"""`helpdesk token create|list|revoke` and `helpdesk agent deactivate|password`: tokens
with scopes, names and expiry; revoking, deactivating and a new password take effect at
once (issue 15, finding 8)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from helpdesk.agents.models import ApiToken
from helpdesk.db import utcnow
from helpdesk.extensions import db
from tests.fixtures.agents import PASSWORD, form_csrf, login

TICKETS = "/api/v1/tickets"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args, input=None):
        result = runner.invoke(args=list(args), input=input)
        db.session.expire_all()
        return result

    return run


@pytest.fixture
def pat(make_agent):
    return make_agent("pat@example.com", teams=["Support"], name="Pat")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_are_created_with_a_scope_name_and_expiry_and_listed_without_secret(
    cli, web_app, pat
):
    client = web_app.test_client()
    made = cli(
        "token", "create", "PAT@example.com", "--scope", "cti", "--name", "PBX", "--expires", "30"
    )
    assert made.exit_code == 0, made.output
    secret = made.output.strip()
    row = db.session.execute(select(ApiToken)).unique().scalar_one()
    assert (row.scope, row.name) == ("cti", "PBX")
    assert timedelta(days=29) < row.expires_at - utcnow() <= timedelta(days=30)
    plain = cli("token", "create", "pat@example.com").output.strip()
    listed = cli("token", "list", "pat@example.com")
    assert listed.exit_code == 0
    assert secret not in listed.output and plain not in listed.output
    lines = listed.output.strip().splitlines()[1:]
    assert len(lines) == 2
    assert lines[0].split("\t")[:4] == [str(row.id), "pat@example.com", "cti", "PBX"]
    assert lines[1].split("\t")[2] == "api" and lines[1].endswith("active")
    assert client.get(TICKETS, headers=bearer(plain)).status_code == 200
    assert client.get(TICKETS, headers=bearer(secret)).status_code == 401  # cti: not the API
    for bad in (
        ("token", "create", "pat@example.com", "--scope", "root"),
        ("token", "create", "pat@example.com", "--expires", "0"),
        ("token", "create", "nobody@example.com"),
    ):
        assert cli(*bad).exit_code != 0, bad
    assert db.session.query(ApiToken).count() == 2


def test_a_revoked_or_expired_token_is_refused_at_once(cli, web_app, pat, make_token):
    client = web_app.test_client()
    token = make_token(pat)
    assert client.get(TICKETS, headers=bearer(token)).status_code == 200
    row = db.session.execute(select(ApiToken)).unique().scalar_one()
    revoked = cli("token", "revoke", str(row.id))
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert client.get(TICKETS, headers=bearer(token)).status_code == 401
    assert cli("token", "list").output.strip().endswith("revoked")
    assert cli("token", "revoke", "999").exit_code != 0

    later = make_token(pat)
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.revoked_at.is_(None))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert client.get(TICKETS, headers=bearer(later)).status_code == 401
    assert "expired" in cli("token", "list", "pat@example.com").output


def test_webhook_admin_tokens_do_not_open_the_api(web_app, pat, make_token):
    client = web_app.test_client()
    assert client.get(TICKETS, headers=bearer(make_token(pat, "webhook-admin"))).status_code == 401


def test_a_deactivated_agent_loses_login_sessions_and_tokens(cli, web_app, pat, make_token):
    client = web_app.test_client()
    token = make_token(pat)
    login(client, "pat@example.com")
    assert client.get("/inbox").status_code == 200
    done = cli("agent", "deactivate", "pat@example.com")
    assert done.exit_code == 0, done.output
    assert client.get("/inbox").status_code == 302  # the session ended
    assert client.get(TICKETS, headers=bearer(token)).status_code == 401
    again = client.post(
        "/login",
        data={"email": "pat@example.com", "password": PASSWORD, "csrf_token": form_csrf(client)},
    )
    assert again.status_code == 200  # the form again: no login
    assert cli("agent", "deactivate", "nobody@example.com").exit_code != 0


def test_a_new_password_from_stdin_ends_the_old_sessions(cli, web_app, pat):
    client = web_app.test_client()
    login(client, "pat@example.com")
    short = cli("agent", "password", "pat@example.com", "--password-stdin", input="short\n")
    assert short.exit_code != 0 and client.get("/inbox").status_code == 200
    changed = cli(
        "agent", "password", "pat@example.com", "--password-stdin", input="a new horse battery\n"
    )
    assert changed.exit_code == 0, changed.output
    assert client.get("/inbox").status_code == 302
    token = form_csrf(client)
    old = client.post(
        "/login", data={"email": "pat@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert old.status_code == 200
    login(client, "pat@example.com", "a new horse battery")
    assert client.get("/inbox").status_code == 200


def test_agent_create_own_accounts_only_makes_an_account_manager(cli, api):
    from helpdesk.agents.models import Agent

    made = cli(
        "agent",
        "create",
        "anna@example.com",
        "--name",
        "Anna",
        "--team",
        "Sales",
        "--own-accounts-only",
    )
    assert made.exit_code == 0, made.output
    assert "own accounts only" in made.output
    plain = cli("agent", "create", "bo@example.com", "--name", "Bo")
    assert plain.exit_code == 0 and "own accounts only" not in plain.output
    flags = dict(db.session.execute(select(Agent.email, Agent.own_accounts_only)).all())
    assert flags["anna@example.com"] is True and flags["bo@example.com"] is False
    listed = {a["email"]: a for a in api.get("/api/v1/agents").json["items"]}
    assert listed["anna@example.com"]["own_accounts_only"] is True
