"""What every /api/v1 blueprint shares: authentication, body parsing, pagination."""
from __future__ import annotations

from typing import Callable, TypeVar

from flask import Blueprint, current_app, request, url_for
from pydantic import BaseModel, ValidationError

from .agents.auth import require_agent
from .errors import HelpdeskError, Invalid
from .extensions import db

M = TypeVar("M", bound=BaseModel)
PREFIX = "/api/v1"


def api_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint under /api/v1 whose every route needs an agent."""
    blueprint = Blueprint(name, import_name, url_prefix=PREFIX)
    require_agent(blueprint)
    return blueprint


def _location(loc: tuple) -> str:
    """``("lines", 0, "sku")`` -> ``"lines.0.sku"``."""
    return ".".join(str(part) for part in loc) or "body"


def parse_body(model: type[M]) -> M:
    """Validate the JSON body against ``model``; malformed or invalid input raises a 4xx."""
    raw = request.get_data(cache=True)
    if request.mimetype != "application/json":
        raise HelpdeskError("send a JSON body with Content-Type: application/json",
                            code="unsupported_media_type")
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise HelpdeskError("the body is not valid JSON", code="malformed_json") from exc
        fields = {_location(err["loc"]): err["msg"] for err in exc.errors()}
        raise Invalid("the body has invalid fields", fields=fields) from exc


def int_arg(name: str, default: int | None = None, minimum: int = 1,
            maximum: int | None = None) -> int | None:
    """An integer query argument within bounds, or a 422 naming it."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise Invalid(f"{name} must be a whole number", fields={name: "not a number"}) from None
    if number < minimum or (maximum is not None and number > maximum):
        raise Invalid(f"{name} is out of range", fields={name: "out of range"})
    return number


def paginate(query, serialize: Callable, **url_args) -> dict:
    """Run ``query`` for one page; answer ``{"items": [...], "next": URL-or-null}``."""
    page = int_arg("page", 1)
    per_page = int_arg("per_page", current_app.config["API_PAGE_SIZE"],
                       maximum=current_app.config["API_MAX_PAGE_SIZE"])
    rows = db.session.execute(query.limit(per_page + 1).offset((page - 1) * per_page))
    rows = rows.unique().scalars().all()
    next_url = None
    if len(rows) > per_page:
        args = {**request.view_args, **request.args.to_dict(), **url_args,
                "page": page + 1, "per_page": per_page}
        next_url = url_for(request.endpoint, _external=True, **args)
    return {"items": [serialize(row) for row in rows[:per_page]], "next": next_url}


def get_or_404(model, ident, what: str):
    """Load ``model`` by primary key or raise NotFound."""
    from .errors import NotFound

    row = db.session.get(model, ident)
    if row is None:
        raise NotFound(f"no such {what}")
    return row
