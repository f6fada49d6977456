"""What every /api/v1 blueprint shares: authentication, body parsing, pagination (URL
arguments through web/args.py, the parser the pages share)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, g, request, url_for
from pydantic import BaseModel, ValidationError
from sqlalchemy import Select

from helpdesk import unit_of_work
from helpdesk.agents.auth import require_agent
from helpdesk.errors import HelpdeskError, Invalid, NotFound
from helpdesk.extensions import csrf, db
from helpdesk.web.args import get_row, int_arg, refuse_unstorable_url

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
PREFIX = "/api/v1"


def api_blueprint(
    name: str, import_name: str, lock_writes: bool = False, scope: str | tuple[str, ...] = "api"
) -> Blueprint:
    """A blueprint under /api/v1 whose every route needs an agent: a token of ``scope``
    (for "api", also the UI's session).

    ``lock_writes``: on SQLite, POST/PUT/PATCH/DELETE take the write lock when their
    transaction begins (for views that read, then write, in one transaction).
    """
    blueprint = Blueprint(name, import_name, url_prefix=PREFIX)
    if lock_writes:
        blueprint.before_request(_declare_writes)
        blueprint.teardown_request(_end_writes)
    require_agent(blueprint, scope)
    blueprint.before_request(refuse_unstorable_url)
    return blueprint


def register_api(app: Flask, blueprint: Blueprint) -> None:
    """Mount an API blueprint; its callers authenticate per request (a token, or the session
    with the CSRF header), so Flask-WTF's form CSRF check does not apply."""
    csrf.exempt(blueprint)
    app.register_blueprint(blueprint)


def _declare_writes() -> None:
    """SQLite: a request that may write takes the write lock as its transaction begins, so
    racing writers queue on busy_timeout instead of failing to upgrade a read lock."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        g.write_intent = unit_of_work.write_intent.set(True)


def _end_writes(exc: BaseException | None = None) -> None:
    """Undo ``_declare_writes`` once the request is over.

    A transaction begun after the view's commit (serialising the answer reads) holds
    SQLite's write lock too: end it here rather than when the app context ends, which
    may be much later where the context outlives the request (tests, CLI callers).
    """
    token = g.pop("write_intent", None)
    if token is not None:
        unit_of_work.write_intent.reset(token)
        db.session.rollback()  # nothing uncommitted at this point was meant to be stored


def _nul_location(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where in a parsed body a string holds a NUL character (PostgreSQL cannot store it)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items: Iterable[tuple[Any, Any]]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return path + (key.replace("\x00", ""),)
        found = _nul_location(item, path + (key,))
        if found is not None:
            return found
    return None


def _location(loc: tuple[str | int, ...]) -> str:
    """``("lines", 0, "sku")`` -> ``"lines.0.sku"``."""
    return ".".join(str(part) for part in loc) or "body"


def parse_body(model: type[M], uploads: bool = False) -> M:
    """Validate the JSON body against ``model``; malformed or invalid input raises a 4xx.
    ``uploads``: a multipart/form-data body carries the JSON as its ``payload`` field
    (the files are ``request.files``)."""
    if uploads and request.mimetype == "multipart/form-data":
        raw = request.form.get("payload", "{}").encode()
    elif request.mimetype != "application/json":
        raise HelpdeskError(
            "send a JSON body with Content-Type: application/json", code="unsupported_media_type"
        )
    else:
        raw = request.get_data(cache=True)
    try:
        body = model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise HelpdeskError("the body is not valid JSON", code="malformed_json") from exc
        fields = {_location(err["loc"]): err["msg"] for err in exc.errors()}
        raise Invalid("the body has invalid fields", fields=fields) from exc
    where = _nul_location(body.model_dump(by_alias=True))
    if where is not None:
        raise Invalid(
            "text may not contain NUL characters", fields={_location(where): "NUL character"}
        )
    return body


def contains_pattern(text: str) -> str:
    """A lower-case LIKE pattern matching ``text`` anywhere, its wildcards taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def page_args() -> tuple[int, int]:
    """The page number and size asked for (``page``, ``per_page``), within bounds."""
    page = int_arg("page", 1)
    per_page = int_arg(
        "per_page",
        current_app.config["API_PAGE_SIZE"],
        maximum=current_app.config["API_MAX_PAGE_SIZE"],
    )
    return page, per_page


def next_page_url(page: int, per_page: int, **url_args: Any) -> str:
    """This request's URL for the page after ``page``."""
    assert request.endpoint is not None and request.view_args is not None  # a routed request
    args = {
        **request.view_args,
        **request.args.to_dict(flat=False),
        **url_args,
        "page": page + 1,
        "per_page": per_page,
    }
    return url_for(request.endpoint, _external=True, **args)


def paginate(
    query: Select[Any], serialize: Callable[[Any], object], **url_args: Any
) -> dict[str, Any]:
    """Run ``query`` for one page; answer ``{"items": [...], "next": URL-or-null}``."""
    page, per_page = page_args()
    result = db.session.execute(query.limit(per_page + 1).offset((page - 1) * per_page))
    rows = result.unique().scalars().all()
    next_url = next_page_url(page, per_page, **url_args) if len(rows) > per_page else None
    return {"items": [serialize(row) for row in rows[:per_page]], "next": next_url}


def get_or_404(model: type[T], ident: object, what: str) -> T:
    """Load ``model`` by primary key or raise NotFound."""
    row = get_row(model, ident)
    if row is None:
        raise NotFound(f"no such {what}")
    return row
