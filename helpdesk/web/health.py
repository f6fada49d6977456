"""GET /healthz: is the database reachable, and Redis when configured; which mailboxes
lost their provider sign-in (detail only: the service itself is up)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from helpdesk.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when every configured dependency answers, 503 naming the one that does not."""
    body: dict[str, object] = {"status": "ok", "database": "ok", "redis": "disabled"}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any driver error means "down"
        db.session.rollback()
        body.update(status="error", database=f"error: {type(exc).__name__}")
    if body["database"] == "ok":
        from helpdesk.channels.oauth.tokens import revoked_mailboxes

        try:
            revoked = revoked_mailboxes()
        except Exception as exc:  # noqa: BLE001 - reachable, but without our tables
            db.session.rollback()
            body.update(
                status="error", database=f"error: schema not migrated ({type(exc).__name__})"
            )
            revoked = {}
        if revoked:
            # public like the rest: the names only, the provider's words on their screen
            body["mailboxes"] = {name: "error: sign-in revoked" for name in revoked}
    if current_app.config.get("REDIS_URL"):
        from helpdesk.jobs import redis_connection

        try:
            connection = redis_connection()
            assert connection is not None  # REDIS_URL is set
            connection.ping()
            body["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any client error means "down"
            body.update(status="error", redis=f"error: {type(exc).__name__}")
    return jsonify(body), 200 if body["status"] == "ok" else 503
