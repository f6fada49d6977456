"""The app starts and answers its health check."""


def test_healthz_answers_ok_with_database_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "disabled"}


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
