"""API tokens over the API (the contract: name, expiry, revoke at once), for integrations
that rotate them: a revoked token stops at its next request and its live /agents
connection closes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from helpdesk import unit_of_work
from helpdesk.agents.models import ApiToken
from helpdesk.db import iso, utcnow
from helpdesk.extensions import db
from tests.fixtures.agents import Api
from tests.fixtures.sockets import Listener


def test_name_and_expiry_and_revocation(app, client, api, admin):
    later = utcnow() + timedelta(days=30)
    made = api.post("/api/v1/tokens", json={"name": "ERP sync", "expires_at": iso(later)})
    assert made.status_code == 201
    body = made.get_json()
    assert body["name"] == "ERP sync" and body["state"] == "active" and body["expires_at"]
    erp = Api(client, body["token"])
    assert erp.get("/api/v1/tokens").status_code == 200
    listed = api.get("/api/v1/tokens").get_json()["items"]
    assert "token" not in listed[0] and listed[0]["id"] == body["id"]

    past = api.post("/api/v1/tokens", json={"name": "old", "expires_at": iso(utcnow())})
    assert past.status_code == 422 and "expires_at" in past.get_json()["error"]["fields"]
    nameless = api.post("/api/v1/tokens", json={"name": "  "})
    assert nameless.status_code == 422

    with unit_of_work.write_phase():  # the clock moves past its expiry
        db.session.get(ApiToken, body["id"]).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert erp.get("/api/v1/tokens").status_code == 401
    assert api.get("/api/v1/tokens").get_json()["items"][0]["state"] == "expired"

    fresh = api.post("/api/v1/tokens", json={"name": "rotated"}).get_json()
    rotated = Api(client, fresh["token"])
    assert rotated.get("/api/v1/tokens").status_code == 200
    assert api.delete(f"/api/v1/tokens/{fresh['id']}").status_code == 204
    assert rotated.get("/api/v1/tokens").status_code == 401


@pytest.mark.slow
def test_revoking_closes_the_tokens_live_connection(app, live_server, api, admin, make_token):
    clear = api.post("/api/v1/tokens", json={"name": "screen"}).get_json()
    other = Listener(live_server, auth={"token": make_token(admin)})
    listener = Listener(live_server, auth={"token": clear["token"]})
    closed = threading.Event()
    listener.client.on("disconnect", closed.set, namespace="/agents")
    try:
        assert api.delete(f"/api/v1/tokens/{clear['id']}").status_code == 204
        assert closed.wait(5), "the revoked token's connection is still open"
        assert other.client.connected  # another token's connection stays
    finally:
        other.close()
        listener.close()
