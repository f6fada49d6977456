"""The app starts and answers its health check."""


def test_healthz_answers_ok_with_database_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "disabled"}


def test_healthz_answers_503_on_a_database_not_yet_migrated(base_config, tmp_path):
    """A web process started before `helpdesk db upgrade` ran (compose's migrate step) is
    not healthy: the load balancer must not send it traffic."""
    from helpdesk import create_app, realtime
    from helpdesk.extensions import db

    uri = f"sqlite:///{tmp_path / 'empty.db'}"
    empty = create_app({**base_config, "SQLALCHEMY_DATABASE_URI": uri})
    try:
        response = empty.test_client().get("/healthz")
    finally:
        realtime.shutdown(empty)
        with empty.app_context():
            db.engine.dispose()
    assert response.status_code == 503
    assert response.json["status"] == "error"
    assert response.json["database"].startswith("error: schema not migrated")


def test_api_refuses_anonymous_callers(client):
    response = client.get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_admin_creates_and_finds_customer(api):
    created = api.post(
        "/api/v1/customers",
        json={"name": "Ada", "emails": ["ADA@example.com"], "phones": ["030 1234567"]},
    )
    assert created.status_code == 201, created.json
    found = api.get("/api/v1/lookup?phone=%2B49%2030%201234567").json
    assert found["customer"]["id"] == created.json["id"]
    assert found["customer"]["emails"] == ["ada@example.com"]
