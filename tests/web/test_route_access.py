"""Every route refuses an anonymous caller, except the few that must be public.

The routes come from the app's URL map at test time, so a route added later is
covered without touching this test.
"""

from __future__ import annotations

import pytest

from tests.fixtures.agents import PUBLIC_ENDPOINTS


def _routes(app):
    """(method, path, endpoint) for every route, path parameters filled in."""
    for rule in app.url_map.iter_rules():
        values = {}
        for name in rule.arguments:
            converter = rule._converters[name].__class__.__name__
            values[name] = 1 if converter == "IntegerConverter" else "10023"
        path = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path, rule.endpoint


def test_the_url_map_is_not_empty(app):
    assert len(list(_routes(app))) > 30


def test_every_route_refuses_anonymous_callers(app, client):
    checked = []
    for method, path, endpoint in _routes(app):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        response = client.open(path, method=method, json={})
        status = response.status_code
        where = f"{method} {path} ({endpoint}) answered {status}"
        if path.startswith("/api/"):
            assert status == 401, where
            assert response.json["error"]["code"] == "unauthorized", where
        elif path.startswith("/webhooks/"):
            assert status == 403, where  # no valid provider signature
        elif method == "GET":
            assert status == 302 and response.headers["Location"].startswith("/login"), where
        else:
            # A form post without a session: refused by CSRF (400) or login (302/401).
            assert status in (302, 400, 401), where
            if status == 302:
                assert response.headers["Location"].startswith("/login"), where
        checked.append(endpoint)
    assert len(checked) > 25


@pytest.mark.parametrize(
    "path, status",
    [("/healthz", 200), ("/login", 200), ("/api/v1/openapi.json", 200), ("/api/docs", 200)],
)
def test_public_routes_answer_without_login(client, path, status):
    assert client.get(path).status_code == status
