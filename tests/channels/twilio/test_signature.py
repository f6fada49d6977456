"""The X-Twilio-Signature check against the known-answer vectors of Twilio's SDKs."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from werkzeug.datastructures import MultiDict

from helpdesk.channels.twilio.common import valid_signature
from tests.fixtures.corpora import CORPORA, corpus

VECTORS_FILE = CORPORA / "twilio" / "signature_test_vectors.json"
VECTORS = json.loads(VECTORS_FILE.read_text())["vectors"] if VECTORS_FILE.exists() else []


def _check(app, vector: dict, public: bool) -> bool:
    """Run our check on the request the vector describes."""
    url = vector.get("validate_against_url") or vector["url"]
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    app.config["TWILIO_AUTH_TOKEN"] = vector["auth_token"]
    app.config["PUBLIC_URL"] = origin if public else None
    headers = {"X-Twilio-Signature": vector["signature"]}
    if "raw_body" in vector:
        kwargs = {"data": vector["raw_body"], "content_type": "application/json"}
    else:
        pairs = vector.get("params_multi") or list(vector["params"].items())
        kwargs = {"data": MultiDict(pairs), "content_type": "application/x-www-form-urlencoded"}
    with app.test_request_context(
        path,
        base_url=origin if not public else "http://proxy.local",
        method="POST",
        headers=headers,
        **kwargs,
    ):
        return valid_signature()


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_known_answer_vectors_behind_a_proxy(app, vector):
    corpus("twilio", "signature_test_vectors.json")
    assert _check(app, vector, public=True) is vector["expect_valid"]


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS if "@" not in urlsplit(v["url"]).netloc], ids=lambda v: v["id"]
)
def test_known_answer_vectors_on_the_request_url(app, vector):
    corpus("twilio", "signature_test_vectors.json")
    assert _check(app, vector, public=False) is vector["expect_valid"]


def test_the_vectors_are_there():
    corpus("twilio", "signature_test_vectors.json")
    assert len(VECTORS) == 20 and sum(not v["expect_valid"] for v in VECTORS) == 3


def test_a_changed_parameter_or_token_fails(app):
    folder = corpus("twilio", "signature_test_vectors.json")
    assert folder.exists()
    basic = next(v for v in VECTORS if v["id"] == "basic")
    assert _check(app, {**basic, "params": {**basic["params"], "Digits": "9999"}}, True) is False
    assert _check(app, {**basic, "auth_token": "54321"}, True) is False
    assert _check(app, {**basic, "signature": ""}, True) is False
