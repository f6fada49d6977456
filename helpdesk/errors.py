"""Domain errors and their one JSON shape: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class HelpdeskError(Exception):
    """An error the caller caused; carries its HTTP status and a stable code."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, fields: dict[str, Any] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class Invalid(HelpdeskError):
    """The input is well-formed but not acceptable."""

    status = 422
    code = "invalid"


class NotFound(HelpdeskError):
    """No such thing, or not one the caller may see."""

    status = 404
    code = "not_found"


class Forbidden(HelpdeskError):
    """The caller is known but may not do this."""

    status = 403
    code = "forbidden"


class Conflict(HelpdeskError):
    """The change collides with what is stored (a duplicate identity, say)."""

    status = 409
    code = "conflict"


def error_response(
    status: int, code: str, message: str, fields: dict[str, Any] | None = None
) -> Response:
    """The JSON error response."""
    response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    response.status_code = status
    return response


def is_unique_violation(exc: Exception) -> bool:
    """Whether a database error is a unique index refusing a second copy of a row."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)


def wants_json() -> bool:
    """API, webhook and CTI callers get JSON errors; browsers get pages."""
    return request.path.startswith(("/api/", "/webhooks/", "/chat/")) or request.is_json


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(HelpdeskError)
    def _domain(exc: HelpdeskError) -> Response:
        from helpdesk.extensions import db

        db.session.rollback()  # a refused request writes nothing
        return error_response(exc.status, exc.code, exc.message, exc.fields)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response | HTTPException:
        if not wants_json():
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(IntegrityError)
    def _collision(exc: IntegrityError) -> Response | tuple[str, int]:
        # Two requests raced to store the same thing (an identity, an order number):
        # the checks before the write passed for both, the unique index refused one.
        if not is_unique_violation(exc):
            return _unexpected(exc)
        from helpdesk.extensions import db

        db.session.rollback()
        log.warning("refused %s %s: %s", request.method, request.path, exc.orig)
        message = "this collides with something stored meanwhile; read it again and retry"
        if wants_json():
            return error_response(409, "conflict", message)
        return render_template(
            "error.html",
            message=_("This collides with something stored meanwhile; read it again and retry."),
        ), 409

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response | tuple[str, int]:
        from helpdesk.extensions import db

        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        if wants_json():
            return error_response(500, "internal_error", "something went wrong on our side")
        return render_template("error.html", message=_("Something went wrong on our side.")), 500
