"""The REST API described as OpenAPI 3.1, generated from the routes and the pydantic models.

Each /api/v1 view declares what it takes and answers with ``@documented(...)`` (under its
route decorator): its body model, its query parameters, its response model (pydantic's
JSON Schema 2020-12 is what OpenAPI 3.1 uses) and status. ``document(app)`` walks the
app's URL map: an API route without a declaration is an error, so the document cannot
fall behind the code. Served at ``/api/v1/openapi.json``, rendered at ``/api/docs``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from flask import Flask
from pydantic import BaseModel, ConfigDict

from helpdesk.web.args import MAX_ID, MAX_PAGE

F = TypeVar("F", bound=Callable[..., Any])
Schema = dict[str, Any]
# A response model, any of several, or None for no content.
Response = type[BaseModel] | tuple[type[BaseModel], ...] | None
ATTRIBUTE = "__openapi__"
PREFIX = "/api/v1"
# Every operation may answer these, in the one error shape (helpdesk/errors.py).
ERRORS = {
    "400": "Malformed JSON, or a body that is not JSON",
    "401": "No valid bearer token",
    "403": "The agent may not do this",
    "404": "No such thing, or not one the agent may see",
    "409": "A collision with something stored meanwhile",
    "413": "The body is too large",
    "422": "Invalid fields or query arguments (named in error.fields)",
    "429": "Too many requests",
}
ERROR_SCHEMA: Schema = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object"},
            },
        }
    },
}


class Shape(BaseModel):
    """The base of response models: they document what a view's serialiser answers (the
    views still build plain dicts); further keys may come, these ones always do."""

    model_config = ConfigDict(extra="allow")


class Ref(Shape):
    """A short reference to an agent, a team, a customer or an organization."""

    id: int
    name: str | None


@dataclass(frozen=True)
class Param:
    """A query parameter: its name, JSON Schema and meaning."""

    name: str
    schema: Schema
    description: str = ""


def integer(minimum: int = 1, maximum: int = MAX_ID) -> Schema:
    """The schema of an integer argument as web/args.py parses it."""
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def text(max_length: int) -> Schema:
    """The schema of a text argument of at most ``max_length`` characters."""
    return {"type": "string", "maxLength": max_length}


def choice(values: Iterable[str]) -> Schema:
    """The schema of an argument that is one of ``values``."""
    return {"type": "string", "enum": list(values)}


PAGE = (
    Param("page", integer(maximum=MAX_PAGE), "The page, from 1"),
    Param("per_page", integer(maximum=200), "Items per page"),
)


@dataclass(frozen=True)
class Operation:
    """What one view takes and answers."""

    response: Response
    status: int = 200
    body: type[BaseModel] | None = None
    query: tuple[Param, ...] = ()
    paged: bool = False
    form: bool = False
    also: tuple[int, ...] = field(default=())
    files: tuple[str, ...] = ()
    uploads: bool = False


def documented(
    response: Response,
    *,
    status: int = 200,
    body: type[BaseModel] | None = None,
    query: Iterable[Param] = (),
    paged: bool = False,
    form: bool = False,
    also: Iterable[int] = (),
    files: Iterable[str] = (),
    uploads: bool = False,
) -> Callable[[F], F]:
    """Declare a view's operation: ``response`` (None: no content; a tuple: any of these
    models), its ``status``,
    ``body`` (a pydantic model; ``form``: also taken as a form), ``query`` parameters,
    ``paged`` (answers ``{"items": [response...], "next"}`` and takes page/per_page),
    ``also``: further success statuses with the same response; ``files``: the media types
    of a file it answers instead of JSON (``response`` None); ``uploads``: the body may also
    come as multipart/form-data: the JSON body as the field ``payload`` beside ``files``."""
    operation = Operation(
        response, status, body, tuple(query), paged, form, tuple(also), tuple(files), uploads
    )

    def declare(view: F) -> F:
        setattr(view, ATTRIBUTE, operation)
        return view

    return declare


_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _path(rule: str) -> tuple[str, list[Schema]]:
    """``/tickets/<int:ticket_id>`` -> ``/tickets/{ticket_id}`` and its path parameters."""
    parameters = []
    for converter, name in _CONVERTER.findall(rule):
        schema = integer() if converter == "int" else {"type": "string", "minLength": 1}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _CONVERTER.sub(r"{\2}", rule), parameters


class _Schemas:
    """The components/schemas section, filled as models are referenced."""

    def __init__(self) -> None:
        self.components: dict[str, Schema] = {"Error": ERROR_SCHEMA}

    def ref(self, model: type[BaseModel], mode: Literal["validation", "serialization"]) -> Schema:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
        self.components.update(schema.pop("$defs", {}))
        self.components[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(view: Callable[..., Any], op: Operation, schemas: _Schemas) -> Schema:
    doc = (view.__doc__ or "").strip()
    result: Schema = {
        "operationId": view.__name__,
        "summary": doc.splitlines()[0] if doc else view.__name__,
        "parameters": [
            {"name": p.name, "in": "query", "required": False, "schema": p.schema}
            | ({"description": p.description} if p.description else {})
            for p in (*op.query, *(PAGE if op.paged else ()))
        ],
    }
    if len(doc.splitlines()) > 1:
        result["description"] = doc
    if op.body is not None:
        body = schemas.ref(op.body, "validation")
        content = {"application/json": {"schema": body}}
        if op.form:
            content["application/x-www-form-urlencoded"] = {"schema": body}
        if op.uploads:
            binary = {"type": "string", "format": "binary"}
            files = {"type": "array", "items": binary, "maxItems": 10}
            payload = {"type": "string", "description": "The JSON body, as text"}
            content["multipart/form-data"] = {
                "schema": {
                    "type": "object",
                    "required": ["payload"],
                    "properties": {"payload": payload, "files": files},
                }
            }
        result["requestBody"] = {"required": True, "content": content}
    responses: dict[str, Schema] = {}
    for status in (op.status, *op.also):
        if op.files:
            binary = {"type": "string", "format": "binary"}
            responses[str(status)] = {
                "description": "A file",
                "content": {media: {"schema": binary} for media in op.files},
            }
            continue
        if op.response is None:
            responses[str(status)] = {"description": "Done; no content"}
            continue
        models = op.response if isinstance(op.response, tuple) else (op.response,)
        refs = [schemas.ref(model, "serialization") for model in models]
        schema = refs[0] if len(refs) == 1 else {"anyOf": refs}
        if op.paged:
            schema = {
                "type": "object",
                "required": ["items", "next"],
                "properties": {
                    "items": {"type": "array", "items": schema},
                    "next": {"type": ["string", "null"], "description": "The next page's URL"},
                },
            }
        responses[str(status)] = {
            "description": "Success",
            "content": {"application/json": {"schema": schema}},
        }
    for code, meaning in ERRORS.items():
        responses[code] = {
            "description": meaning,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    # Any URL can outgrow what the HTTP server reads; it answers before the app does.
    responses["414"] = {"description": "The URL is too long: the HTTP server refuses it"}
    result["responses"] = responses
    return result


def document(app: Flask) -> Schema:
    """The OpenAPI 3.1 document of the app's /api/v1 routes (built once per app)."""
    cached: Schema | None = app.extensions.get("openapi")
    if cached is not None:
        return cached
    schemas = _Schemas()
    paths: dict[str, Schema] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(PREFIX + "/") or rule.endpoint.startswith("api_docs."):
            continue
        view = app.view_functions[rule.endpoint]
        op: Operation | None = getattr(view, ATTRIBUTE, None)
        if op is None:
            raise LookupError(f"{rule.endpoint} ({rule.rule}) has no @documented declaration")
        path, parameters = _path(rule.rule.removeprefix(PREFIX))
        item = paths.setdefault(path, {"parameters": parameters} if parameters else {})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            item[method.lower()] = _operation(view, op, schemas)
    result: Schema = {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "helpdesk REST API",
            "version": "1",
            "description": "Every call needs an agent: a bearer token (`helpdesk token "
            "create`), or the UI's session with its X-CSRFToken header. Errors answer "
            '`{"error": {"code", "message", "fields"}}`.',
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    app.extensions["openapi"] = result
    return result
