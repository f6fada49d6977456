"""Bad input to every API write endpoint: a 4xx in the error shape, never a 500, nothing written.

Targeted cases per endpoint (malformed JSON, unknown fields, wrong types,
unknown ids, over-long values, wrong content types), then hypothesis throwing
random JSON values, random bytes and random query strings at them.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from helpdesk.agents.models import Team
from helpdesk.extensions import db

V1 = "/api/v1"
BIG = 2**40  # past PostgreSQL's INTEGER
FUZZ = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _reads(dialect) -> tuple[str, ...]:
    """The statements of a snapshot, compiled once and run through the driver, without
    the ORM's cost: every table's rows (API tokens aside: using one stamps it) in primary
    key order; on PostgreSQL one statement, each table's rows as text in one value."""
    if dialect.name not in _READS:
        tables = [t for t in db.metadata.sorted_tables if t.name != "api_tokens"]
        if dialect.name == "postgresql":
            quote = dialect.identifier_preparer.quote
            columns = ", ".join(
                "(SELECT string_agg(snapshot_row::text, E'\\n' ORDER BY "
                + ", ".join(f"snapshot_row.{quote(c.name)}" for c in t.primary_key.columns)
                + f") FROM {quote(t.name)} AS snapshot_row)"
                for t in tables
            )
            _READS[dialect.name] = (f"SELECT {columns}",)
        else:
            _READS[dialect.name] = tuple(
                str(select(t).order_by(*t.primary_key.columns).compile(dialect=dialect))
                for t in tables
            )
    return _READS[dialect.name]


_READS: dict[str, tuple[str, ...]] = {}


def snapshot() -> tuple:
    """Every stored row of every table (API tokens aside)."""
    connection = db.session.connection()
    state = tuple(
        tuple(tuple(row) for row in connection.exec_driver_sql(sql))
        for sql in _reads(connection.dialect)
    )
    db.session.rollback()  # SQLite: no read transaction held while the app writes
    return state


def assert_refused(
    response,
    before: tuple,
    targets: dict,
    status: int | None = None,
    field: str | None = None,
    context: str = "",
) -> None:
    """A 4xx in the error shape (naming ``field``) that changed nothing."""
    text = f"{context} -> {response.status_code} {response.get_data(as_text=True)[:300]}"
    assert 400 <= response.status_code < 500, text
    if status is not None:
        assert response.status_code == status, text
    error = response.json["error"]
    assert set(error) == {"code", "message", "fields"}, text
    assert isinstance(error["code"], str) and error["code"], text
    assert isinstance(error["message"], str) and error["message"], text
    assert isinstance(error["fields"], dict), text
    if field is not None:
        assert any(key == field or key.startswith(f"{field}.") for key in error["fields"]), text
    assert snapshot() == before, f"{context}: a refused request changed stored data"


def caller(targets: dict, name: str):
    """Who calls endpoint ``name``: a phone system (a cti token) for CTI events, else the
    admin."""
    return targets["pbx"] if name == "cti event" else targets["api"]


@pytest.fixture
def targets(api, api_as, admin, make_customer, make_ticket):
    """One of each thing the write endpoints address, and the paths that address them."""
    ada = make_customer("Ada", emails=["ada@example.com"], phones=["030 1234567"])
    bob = make_customer("Bob", emails=["bob@example.com"])
    ticket = make_ticket(ada, body="it broke")
    org = api.post(f"{V1}/organizations", json={"name": "Acme", "domains": ["acme.example"]}).json[
        "id"
    ]
    api.put(f"{V1}/orders/10023", json={"customer": ada.id, "lines": [{"name": "Mug"}]})
    team = db.session.execute(select(Team.id).where(Team.name == "Support")).scalar_one()
    return {
        "api": api,
        "pbx": api_as(admin, "cti"),
        "ada": ada.id,
        "bob": bob.id,
        "ticket": ticket,
        "org": org,
        "team": team,
        "admin": admin.id,
    }


# (method, path, the unknown-id path or None) of every write endpoint.
ENDPOINTS = {
    "create customer": ("post", "/customers", None),
    "patch customer": ("patch", "/customers/{ada}", "/customers/999999"),
    "merge": ("post", "/customers/{ada}/merge", "/customers/999999/merge"),
    "note": ("post", "/customers/{ada}/notes", "/customers/999999/notes"),
    "create organization": ("post", "/organizations", None),
    "patch organization": ("patch", "/organizations/{org}", "/organizations/999999"),
    "put order": ("put", "/orders/10023", None),
    "create ticket": ("post", "/tickets", None),
    "patch ticket": ("patch", "/tickets/{ticket}", "/tickets/999999"),
    "message": ("post", "/tickets/{ticket}/messages", "/tickets/999999/messages"),
    "escalate": ("post", "/tickets/{ticket}/escalate", "/tickets/999999/escalate"),
    "cti event": ("post", "/cti/events", None),
}
# A body each endpoint accepts, used where a case needs a valid shape around one bad part.
VALID = {
    "create customer": {"name": "Eve"},
    "patch customer": {"title": "CTO"},
    "merge": {"from": "{bob}"},
    "note": {"body": "hello"},
    "create organization": {"name": "Initech"},
    "patch organization": {"notes": "x"},
    "put order": {"status": "shipped"},
    "create ticket": {"customer": "{ada}", "subject": "Hi"},
    "patch ticket": {"status": "open"},
    "message": {"body": "hi", "internal": True},
    "escalate": {"reason": "angry"},
    "cti event": {"event": "newCall", "callId": "c1", "from": "+49301234567"},
}
# (endpoint, body, the field the error must name) beyond what every endpoint is tried with.
CASES = [
    ("create customer", {"name": "x" * 201}, "name"),
    ("create customer", {"emails": "ada@example.com"}, "emails"),
    ("create customer", {"emails": ["not an email"]}, "emails"),
    ("create customer", {"emails": [f"a{n}@example.com" for n in range(21)]}, "emails"),
    ("create customer", {"phones": ["+0000"]}, "phones"),
    ("create customer", {"phones": ["x" * 321]}, "phones.0"),
    ("create customer", {"organization": 999999}, "organization"),
    ("create customer", {"organization": BIG}, "organization"),
    ("create customer", {"organization": "1"}, "organization"),
    ("create customer", {"key_person": "yes"}, "key_person"),
    ("create customer", {"language": "german"}, "language"),
    ("create customer", {"preferred_channel": "fax"}, "preferred_channel"),
    ("create customer", {"tags": [1, 2]}, "tags.0"),
    ("create customer", {"tags": ["x" * 51]}, "tags.0"),
    ("create customer", {"custom_fields": {"plan": {"nested": 1}}}, "custom_fields.plan"),
    ("create customer", {"custom_fields": {"k" * 101: 1}}, "custom_fields"),
    ("create customer", {"custom_fields": {f"k{n}": n for n in range(51)}}, "custom_fields"),
    ("create customer", {"name": "Ada\u0000Lovelace"}, "name"),
    ("create customer", {"custom_fields": {"a\u0000b": 1}}, "custom_fields.ab"),
    ("create customer", {"emails": ["bob@example.com"]}, "email"),  # Bob's: 409
    ("patch customer", {"name": "x" * 201}, "name"),
    ("patch customer", {"phones": ["0049 30 1234567", "nonsense"]}, "phones"),
    ("patch customer", {"emails": ["BOB@example.com"]}, "email"),  # Bob's: 409
    ("patch customer", {"organization": 0}, "organization"),
    ("patch customer", {"tags": None}, "tags"),
    ("merge", {}, "from"),
    ("merge", {"from": "{bob}:str"}, "from"),
    ("merge", {"from": 999999}, "from"),
    ("merge", {"from": BIG}, "from"),
    ("merge", {"from": "{ada}"}, "from"),  # itself
    ("merge", {"from": True}, "from"),
    ("note", {}, "body"),
    ("note", {"body": "   "}, "body"),
    ("note", {"body": "x" * 20001}, "body"),
    ("note", {"body": 5}, "body"),
    ("create organization", {}, "name"),
    ("create organization", {"name": "x" * 201}, "name"),
    ("create organization", {"name": "A", "domains": ["not a domain"]}, "domains.0"),
    ("create organization", {"name": "A", "domains": "a.example"}, "domains"),
    ("create organization", {"name": "A", "domains": ["acme.example"]}, "domains"),  # taken
    ("create organization", {"name": "A", "account_manager": 999999}, "account_manager"),
    ("create organization", {"name": "A", "account_manager": BIG}, "account_manager"),
    ("patch organization", {"name": ""}, "name"),
    ("patch organization", {"notes": "x" * 20001}, "notes"),
    ("patch organization", {"domains": [f"d{n}.example" for n in range(51)]}, "domains"),
    ("put order", {"status": "lost"}, "status"),
    ("put order", {"lines": [{"quantity": 1}]}, "lines.0.name"),
    ("put order", {"lines": [{"name": "Mug", "quantity": 0}]}, "lines.0.quantity"),
    ("put order", {"lines": {"name": "Mug"}}, "lines"),
    ("put order", {"total": "-1"}, "total"),
    ("put order", {"total": "1.234"}, "total"),
    ("put order", {"total": "NaN"}, "total"),
    ("put order", {"total": "1e400"}, "total"),
    ("put order", {"currency": "eur"}, "currency"),
    ("put order", {"tracking_url": "javascript:alert(1)"}, "tracking_url"),
    ("put order", {"tracking_number": "x" * 101}, "tracking_number"),
    ("put order", {"expected_delivery": "2026-13-45"}, "expected_delivery"),
    ("put order", {"ordered_at": "0001-01-01T00:00:00+14:00"}, "ordered_at"),
    ("put order", {"customer": 999999}, "customer"),
    ("put order", {"customer_email": "not an address"}, "customer_email"),
    ("create ticket", {"subject": "Hi"}, "customer"),
    ("create ticket", {"customer": "{ada}"}, "subject"),
    ("create ticket", {"customer": "{ada}", "subject": "x" * 301}, "subject"),
    ("create ticket", {"customer": "{ada}", "subject": "Hi", "status": "lost"}, "status"),
    ("create ticket", {"customer": "{ada}", "subject": "Hi", "channel": "fax"}, "channel"),
    ("create ticket", {"customer": "{ada}", "subject": "Hi", "team": 999999}, "team"),
    ("create ticket", {"customer": "{ada}", "subject": "Hi", "assignee": 999999}, "assignee"),
    ("create ticket", {"customer": "{ada}", "subject": "Hi", "body": ""}, "body"),
    ("create ticket", {"customer": BIG, "subject": "Hi"}, "customer"),
    ("create ticket", {"customer_email": "nobody", "subject": "Hi"}, "customer_email"),
    ("patch ticket", {"status": "lost"}, "status"),
    ("patch ticket", {"priority": 1}, "priority"),
    ("patch ticket", {"subject": ""}, "subject"),
    ("patch ticket", {"tags": ["x" * 51]}, "tags.0"),
    ("patch ticket", {"team": 999999}, "team"),
    ("patch ticket", {"assignee": 999999}, "assignee"),
    ("patch ticket", {"assignee": BIG}, "assignee"),
    ("message", {}, "body"),
    ("message", {"body": ""}, "body"),
    ("message", {"body": "x" * 100_001}, "body"),
    ("message", {"body": "hi", "internal": "yes"}, "internal"),
    ("message", {"body": "hi\u0000there"}, "body"),
    ("escalate", {}, "reason"),
    ("escalate", {"reason": ""}, "reason"),
    ("escalate", {"reason": 5}, "reason"),
    ("escalate", {"reason": "x" * 2001}, "reason"),
    ("cti event", {"event": "ring", "callId": "c1"}, "event"),
    ("cti event", {"event": "newCall"}, "callId"),
    ("cti event", {"event": "newCall", "callId": "c" * 101}, "callId"),
]


def resolve(value, targets: dict):
    """Fill ``"{ada}"`` placeholders with ids of ``targets`` (``"{ada}:str"``: as a string)."""
    if isinstance(value, str) and value.startswith("{") and value.endswith("}:str"):
        return str(targets[value[1:-5]])
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return targets[value[1:-1]]
    if isinstance(value, dict):
        return {k: resolve(v, targets) for k, v in value.items()}
    return value


def path_of(name: str, targets: dict) -> str:
    """The URL of endpoint ``name`` for ``targets``."""
    return V1 + ENDPOINTS[name][1].format(**targets)


def refuses_bad_fields(targets: dict, name: str, before: tuple) -> None:
    """Each of the endpoint's CASES: a 409 or 422 naming the field."""
    method = ENDPOINTS[name][0]
    cases = [(body, field) for endpoint, body, field in CASES if endpoint == name]
    assert cases
    for body, field in cases:
        response = getattr(caller(targets, name), method)(
            path_of(name, targets), json=resolve(body, targets)
        )
        assert response.status_code in (409, 422), (str(body)[:80], response.json)
        assert_refused(response, before, targets, field=field, context=str(body)[:80])


def refuses_malformed_bodies(targets: dict, name: str, before: tuple) -> None:
    """Broken JSON, JSON that is no object, other content types, unknown fields."""
    call = getattr(caller(targets, name), ENDPOINTS[name][0])
    path = path_of(name, targets)
    valid = json.dumps(resolve(VALID[name], targets))
    for data, content_type, status, code in (
        (b"{not json", "application/json", 400, "malformed_json"),
        (b'{"name": "\xff\xfe"}', "application/json", 400, "malformed_json"),
        (b"[" * 5000, "application/json", 400, "malformed_json"),
        (b"[" * 5000 + b"]" * 5000, "application/json", None, None),
        (b'{"a": 1, "a": [' + b"1," * 100_000 + b"1]}", "application/json", 422, "invalid"),
        (b"[]", "application/json", 422, "invalid"),
        (b'"text"', "application/json", 422, "invalid"),
        (b"null", "application/json", 422, "invalid"),
        (valid, "text/plain", 400, "unsupported_media_type"),
        (valid, "application/xml", 400, "unsupported_media_type"),
    ):
        response = call(path, data=data, content_type=content_type)
        assert_refused(response, before, targets, status=status, context=f"{data[:20]!r}")
        if code is not None:
            assert response.json["error"]["code"] == code, (data[:20], response.json)
    unknown = call(path, json={**resolve(VALID[name], targets), "surprise": 1})
    if name == "cti event":  # phone systems add fields of their own: ignored, by contract
        assert unknown.status_code < 400
    else:
        assert_refused(unknown, before, targets, status=422, field="surprise")


def refuses_unknown_ids(targets: dict, name: str, before: tuple) -> None:
    """An id in the path that names nothing (or could not be stored at all): 404."""
    method, _, unknown = ENDPOINTS[name]
    if unknown is None:
        return
    for path in (unknown, unknown.replace("999999", str(BIG)), unknown.replace("999999", "9" * 30)):
        response = getattr(caller(targets, name), method)(
            V1 + path, json=resolve(VALID[name], targets)
        )
        assert_refused(response, before, targets, status=404, context=path)
        assert response.json["error"]["code"] == "not_found"


@pytest.mark.parametrize("name", ENDPOINTS)
def test_bad_input_to_a_write_endpoint_is_refused_and_writes_nothing(targets, name):
    before = snapshot()
    refuses_bad_fields(targets, name, before)
    refuses_unknown_ids(targets, name, before)
    refuses_malformed_bodies(targets, name, before)  # last: CTI accepts its unknown field


def test_order_numbers_are_bounded(targets):
    before = snapshot()
    for number in ("x" * 65, "%20%20", "a%00b"):
        response = targets["api"].put(f"{V1}/orders/{number}", json={"customer": targets["ada"]})
        assert_refused(response, before, targets, status=422, field="number")


QUERY_CASES = [
    ("/tickets", {"q": "#²"}, None),
    ("/tickets", {"q": "%_"}, None),
    ("/tickets", {"page": "9" * 30}, "page"),
    ("/tickets", {"assignee": str(BIG)}, "assignee"),
    ("/tickets", {"team": "٣"}, None),
    ("/tickets", {"tag": "a\u0000"}, "tag"),
    ("/organizations", {"manager": "9" * 20}, "manager"),
    ("/organizations", {"manager": "²"}, "manager"),
    ("/customers", {"email": "ada@example.com", "phone": "030 1234567"}, None),
    ("/customers", {"q": "\u0000"}, "q"),
    ("/customers", {"phone": "x" * 321}, "phone"),
    ("/lookup", {"phone": "\u0000"}, "phone"),
    ("/customers/{ada}/timeline", {"page": str(2**63)}, "page"),
    ("/customers/{ada}/orders", {"per_page": "1e3"}, "per_page"),
    ("/orders/a\u0000b", {}, "number"),
]


def test_bad_query_arguments_are_refused_or_harmless(targets):
    for path, args, field in QUERY_CASES:
        response = targets["api"].get(V1 + path.format(**targets), query_string=args)
        if field is None:
            assert response.status_code == 200, (path, args, response.json)
        else:
            assert response.status_code in (404, 422), (path, args, response.json)
            assert field in response.json["error"]["fields"], (path, args, response.json)


# --- hypothesis -------------------------------------------------------------------

KEYS = [
    "name",
    "emails",
    "phones",
    "organization",
    "title",
    "key_person",
    "language",
    "preferred_channel",
    "order_updates",
    "tags",
    "custom_fields",
    "address",
    "consents",
    "industry",
    "from",
    "body",
    "internal",
    "domains",
    "notes",
    "account_manager",
    "customer",
    "customer_email",
    "customer_phone",
    "customer_name",
    "status",
    "lines",
    "total",
    "currency",
    "carrier",
    "tracking_number",
    "tracking_url",
    "expected_delivery",
    "ordered_at",
    "subject",
    "channel",
    "priority",
    "team",
    "assignee",
    "reason",
    "event",
    "callId",
    "to",
    "direction",
    "user",
    "cause",
    "sku",
    "quantity",
    "unit_price",
]
NASTY = [
    "",
    " ",
    "x" * 5000,
    "\u0000",
    "a\u0000b",
    "ada@example.com",
    "bob@example.com",
    "+49 30 1234567",
    "0049 30 1234567",
    "acme.example",
    "open",
    "solved",
    "urgent",
    "newCall",
    "hangup",
    "EUR",
    "12.50",
    "-1",
    "1e400",
    "NaN",
    "2026-13-45",
    "2026-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00+14:00",
    "https://x.example/t",
    "<script>alert(1)</script>",
    "%_\\",
    "\u202e\ufeff",
    "😀" * 100,
]
# Values that broke, or could break, the layers under the API (storage, parsing).
HAZARDS = st.sampled_from(
    NASTY
    + [
        None,
        True,
        0,
        -1,
        2**31,
        2**63,
        2**70,
        1e308,
        -0.0,
        [],
        {},
        {"name": "x\u0000"},
        [{"name": "Mug", "quantity": 2**40}],
    ]
) | st.text(alphabet="ab1@.+-%_\\\x00\u202e\ufeffé😀", min_size=1, max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, 1, 2, 3, 4, 5, 999999, 2**31 - 1, 2**31, 2**63, -1])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(NASTY)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=15,
)
bodies = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6) | json_values


# The fields each endpoint knows: random values for them get past "unknown field".
FIELDS = {
    "create customer": [
        "name",
        "emails",
        "phones",
        "organization",
        "title",
        "key_person",
        "language",
        "preferred_channel",
        "order_updates",
        "tags",
        "custom_fields",
        "address",
        "account_manager",
        "consents",
    ],
    "merge": ["from"],
    "note": ["body"],
    "create organization": [
        "name",
        "domains",
        "notes",
        "account_manager",
        "industry",
        "address",
        "custom_fields",
    ],
    "put order": [
        "customer",
        "customer_email",
        "customer_phone",
        "customer_name",
        "status",
        "lines",
        "total",
        "currency",
        "carrier",
        "tracking_number",
        "tracking_url",
        "expected_delivery",
        "ordered_at",
    ],
    "create ticket": [
        "customer",
        "customer_email",
        "customer_phone",
        "customer_name",
        "subject",
        "body",
        "channel",
        "status",
        "priority",
        "team",
        "assignee",
        "tags",
    ],
    "patch ticket": ["subject", "status", "priority", "team", "assignee", "tags"],
    "message": ["body", "internal"],
    "escalate": ["reason"],
    "cti event": ["event", "callId", "from", "to", "direction", "user", "cause"],
}
FIELDS["patch customer"] = FIELDS["create customer"]
FIELDS["patch organization"] = FIELDS["create organization"]
# Short texts from a small alphabet rich in characters that trouble databases and parsers.
words = (
    st.sampled_from(NASTY)
    | st.text(max_size=30)
    | st.text(alphabet="ab1@.+-%_\\\x00\u202e\ufeffé😀", max_size=12)
)
field_values = (
    scalars
    | words
    | st.lists(words | scalars, max_size=4)
    | st.lists(
        st.dictionaries(
            st.sampled_from(["name", "sku", "quantity", "unit_price", "x\u0000"]),
            scalars | words,
            max_size=4,
        ),
        max_size=3,
    )
    | st.dictionaries(words, scalars | words, max_size=3)
)
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-16",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "",
]


def payloads(name: str, targets: dict):
    """A valid body with one field set to a known hazard, or with fields changed at
    random; a random JSON value; or random bytes under a random content type."""
    valid = resolve(VALID[name], targets)
    hazard = st.builds(
        lambda field, value: {"json": {**valid, field: value}},
        st.sampled_from(FIELDS[name]),
        HAZARDS | st.lists(HAZARDS, min_size=1, max_size=2),
    )
    mutated = st.dictionaries(
        st.sampled_from(FIELDS[name]), field_values, min_size=1, max_size=3
    ).map(lambda changes: {"json": {**valid, **changes}})
    raw = st.builds(
        lambda data, kind: {"data": data, "content_type": kind or None},
        st.binary(max_size=300) | bodies.map(lambda b: json.dumps(b).encode()),
        st.sampled_from(CONTENT_TYPES),
    )
    return hazard | mutated | bodies.map(lambda body: {"json": body}) | raw


@pytest.mark.slow
@pytest.mark.parametrize("name", ENDPOINTS)
@FUZZ
@given(data=st.data())
def test_random_input_never_breaks_a_write_endpoint(targets, name, data):
    payload = data.draw(payloads(name, targets), label="payload")
    before = snapshot()
    response = getattr(caller(targets, name), ENDPOINTS[name][0])(path_of(name, targets), **payload)
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        assert_refused(response, before, targets, context=repr(payload)[:200])


LISTS = [
    "/customers",
    "/organizations",
    "/tickets",
    "/lookup",
    "/customers/{ada}/timeline",
    "/customers/{ada}/orders",
    "/tickets/{ticket}/messages",
    "/orders/10023",
]
ARGS = [
    "q",
    "email",
    "phone",
    "status",
    "assignee",
    "team",
    "channel",
    "customer",
    "tag",
    "priority",
    "manager",
    "page",
    "per_page",
]


@settings(FUZZ, max_examples=120)
@given(
    index=st.integers(0, len(LISTS) - 1),
    args=st.dictionaries(
        st.sampled_from(ARGS),
        st.text(max_size=40)
        | st.sampled_from(
            [
                "0",
                "-1",
                "201",
                "abc",
                "me",
                "none",
                "open_all",
                "9" * 30,
                str(2**31),
                "%",
                "\u0000",
                "1.5",
                " 7 ",
                "²",
                "#²",
                "٣",
                "1_000",
                "+49 (30) 1234567",
            ]
        ),
        max_size=5,
    ),
)
def test_random_query_strings_never_break_a_list(targets, index, args):
    response = targets["api"].get(V1 + LISTS[index].format(**targets), query_string=args)
    assert response.status_code < 500, (args, response.get_data(as_text=True)[:300])
    assert response.is_json
    if response.status_code >= 400:
        assert set(response.json["error"]) == {"code", "message", "fields"}
