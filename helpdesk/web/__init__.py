"""How the app meets HTTP: the REST API's shared parts (``api``), the agent UI's
(``pages``), the one URL-argument parser (``args``), the OpenAPI document and its HTML
reference (``openapi``, ``docs``), the health check, rate limits, the servers (``serving``: the
threaded one the tests run; ``production``: gunicorn, for `helpdesk serve`), and the one
place proxies are trusted (``trust_proxies``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints and commands with the app."""
    from helpdesk.web import docs, health

    app.register_blueprint(health.bp)
    app.register_blueprint(docs.bp)


def trust_proxies(app: Flask) -> None:
    """Believe ``X-Forwarded-For/-Proto/-Host/-Port/-Prefix`` from as many proxies as
    ``TRUSTED_PROXIES`` (HELPDESK_TRUSTED_PROXIES) says, and from no one when it is 0.

    The one place that does (gunicorn is told to believe none): ``request.remote_addr``
    (rate limits, login limits, the audit log), ``request.url`` (Twilio's signature without
    PUBLIC_URL) and the scheme. Called last in the factory, so that it wraps Socket.IO's
    middleware too (the chat's per-address limits see the visitor, not the proxy).
    """
    from werkzeug.middleware.proxy_fix import ProxyFix

    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
