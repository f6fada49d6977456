"""HELPDESK_TRUSTED_PROXIES: the client address every part of the app sees (here the
audit log's) comes from X-Forwarded-For only when proxies are trusted, and then from as
many hops as configured; Socket.IO's middleware is inside the ProxyFix too."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk.audit.models import AuditEvent
from helpdesk.extensions import db

CLIENT = "203.0.113.9"


def _address_seen(make_app, make_agent, make_token, hops: int, forwarded: str) -> str | None:
    app = make_app(TRUSTED_PROXIES=hops)
    with app.app_context():
        token = make_token(make_agent("pat@example.com", role="admin"))
        response = app.test_client().post(
            "/api/v1/customers",
            json={"name": f"Hops {hops}"},
            headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": forwarded},
        )
        assert response.status_code == 201, response.get_json()
        ip: str | None = db.session.scalar(
            select(AuditEvent.ip).where(AuditEvent.object_type == "customer")
        )
        db.session.remove()
        return ip


@pytest.mark.parametrize(
    ("hops", "forwarded", "seen"),
    [
        (0, CLIENT, "127.0.0.1"),  # nobody trusted: the header is whatever a client wrote
        (1, CLIENT, CLIENT),  # one proxy (nginx) appended the client
        (1, f"198.51.100.7, {CLIENT}", CLIENT),  # a forged first entry is ignored
    ],
)
def test_the_client_address_comes_from_trusted_proxies_only(
    make_app, make_agent, make_token, hops, forwarded, seen
):
    assert _address_seen(make_app, make_agent, make_token, hops, forwarded) == seen


def test_socketio_is_inside_the_proxy_fix(make_app):
    """The chat's per-address limits read the same address: ProxyFix wraps Socket.IO."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    app = make_app(TRUSTED_PROXIES=1)
    assert isinstance(app.wsgi_app, ProxyFix)
    assert type(app.wsgi_app.app).__name__ == "_SocketIOMiddleware"
