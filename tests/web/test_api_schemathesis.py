"""schemathesis against a live server: every operation of /api/v1/openapi.json, with data
that fits the document and data that does not, checked for server errors and for answers
that break the documented schema (status codes, content types, bodies)."""

from __future__ import annotations

import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per operation (derandomized, so every run sends the same cases): about a
# minute per database for the whole API, which grows with every operation.
POSITIVE, NEGATIVE = 14, 6


@pytest.fixture
def seeded(api, admin, make_customer, make_ticket):
    """One of each thing the API addresses; path parameters name them half of the time."""
    ada = make_customer("Ada", emails=["ada@example.com"], phones=["030 1234567"])
    ticket = make_ticket(ada, body="it broke")
    org = api.post("/api/v1/organizations", json={"name": "Acme"}).json["id"]
    api.put("/api/v1/orders/10023", json={"customer": ada.id, "lines": [{"name": "Mug"}]})
    macro = api.post("/api/v1/macros", json={"name": "Hi", "body": "Hello"}).json["id"]
    policy = api.post(
        "/api/v1/sla-policies", json={"name": "Std", "first_response_minutes": 60}
    ).json["id"]
    team = api.get("/api/v1/teams").json["items"][0]["id"]
    return {
        "customer_id": ada.id,
        "ticket_id": ticket,
        "org_id": org,
        "number": "10023",
        "macro_id": macro,
        "policy_id": policy,
        "team_id": team,
    }


def fuzz(strategy, count, base_url, session, headers, where, failures) -> int:
    """Run ``count`` cases of ``strategy``; note each failed check in ``failures`` (no
    shrinking: the note says what was sent). Answers how many cases ran."""
    ran = 0

    @settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        nonlocal ran
        ran += 1
        try:
            case.call_and_validate(
                base_url=base_url, session=session, headers=headers, checks=CHECKS, timeout=30
            )
        except (AssertionError, FailureGroup) as exc:  # a check failed: note it, go on
            failures.append(f"{where}: {str(exc)[:600]}")

    run()
    return ran


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(
    live_server, admin, make_token, seeded
):
    started = time.monotonic()
    schema = schemathesis.openapi.from_url(f"{live_server}/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {make_token(admin)}"}
    failures: list[str] = []
    examples = 0
    # Deletions last, so that the seeded rows are there for every other operation.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda operation: operation.method.upper() == "DELETE",
    )
    with requests.Session() as session:  # closed: its kept-alive socket with it
        for operation in operations:
            names = {p.name for p in operation.path_parameters}
            known = {name: seeded[name] for name in names if name in seeded}
            for mode, count in (
                (GenerationMode.POSITIVE, POSITIVE),
                (GenerationMode.NEGATIVE, NEGATIVE),
            ):
                strategy = operation.as_strategy(generation_mode=mode)
                if known:
                    strategy = st.one_of(
                        strategy, operation.as_strategy(generation_mode=mode, path_parameters=known)
                    )
                where = f"{operation.label} [{mode}]"
                examples += fuzz(
                    strategy, count, f"{live_server}/api/v1", session, headers, where, failures
                )
    seconds = time.monotonic() - started
    print(f"schemathesis: {len(operations)} operations, {examples} examples, {seconds:.0f} s")
    assert len(operations) >= 40
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:20])
