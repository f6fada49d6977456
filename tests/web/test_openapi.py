"""The API's OpenAPI 3.1 document (/api/v1/openapi.json), generated from the routes and
their pydantic models, and its HTML reference (/api/docs)."""

from __future__ import annotations

import re

import pytest
import schemathesis
from flask import jsonify

from helpdesk.web.api import api_blueprint, register_api
from helpdesk.web.openapi import document


def api_rules(app) -> set[tuple[str, str]]:
    return {
        (method.lower(), rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and not rule.endpoint.startswith("api_docs.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_api_operation_is_in_the_document(client, app):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    documented = {
        (method, "/api/v1" + re.sub(r"\{(\w+)\}", r"<\1>", path))
        for path, item in spec["paths"].items()
        for method in item
        if method != "parameters"
    }
    routes = {(m, re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", r)) for m, r in api_rules(app)}
    assert documented == routes
    assert len(routes) >= 40


def test_the_document_is_openapi_that_schemathesis_loads(client):
    spec = client.get("/api/v1/openapi.json").json
    schema = schemathesis.openapi.from_dict(spec)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    create = spec["paths"]["/tickets"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/TicketIn"}
    ticket_in = spec["components"]["schemas"]["TicketIn"]
    assert ticket_in["additionalProperties"] is False and "subject" in ticket_in["required"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TicketOut"
    }
    error = create["responses"]["422"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}
    listing = spec["paths"]["/tickets"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"status", "q", "page", "per_page"} <= names
    team_patch = spec["components"]["schemas"]["CalendarIn"]
    assert team_patch["properties"]["timezone"]["anyOf"][0]["maxLength"] == 64


def test_an_api_route_without_a_declaration_is_an_error(make_app):
    app = make_app()
    extra = api_blueprint("undocumented_api", __name__)

    @extra.get("/undocumented")
    def undocumented():
        return jsonify({})

    register_api(app, extra)
    with pytest.raises(LookupError, match="undocumented"):
        document(app)


def test_the_html_reference_renders_every_operation_without_scripts(client):
    response = client.get("/api/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Content-Security-Policy" in response.headers
    assert "<script" not in page and "https://" not in page.split("</head>")[0]
    assert page.count('class="op"') >= 40
    for fragment in ("/tickets/{ticket_id}", "TicketIn", "PATCH", "openapi.json"):
        assert fragment in page
