"""Test helpers for the phone channels: a local stand-in for Twilio's REST API that
records what the real ``twilio.rest.Client`` sends, webhook requests signed as
Twilio signs them, and a real Socket.IO agent client.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

import pytest
from twilio.request_validator import RequestValidator

from tests.socket_clients import Listener  # noqa: F401 - the phone tests import it from here

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-test-auth-token"
OUR_NUMBER = "+4930555000"


@dataclass
class Recorded:
    """One request the stand-in received."""

    method: str
    path: str
    form: dict[str, list[str]]
    headers: dict[str, str]
    auth: tuple[str, str] | None = None


@dataclass
class TwilioStandIn:
    """Answers like api.twilio.com: Messages.json creates, media GETs; records it all."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    # Answers for the next Messages.json requests: (status, code, text); status 0 = success.
    failures: list[tuple[int, int, str]] = field(default_factory=list)
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def messages(self) -> list[Recorded]:
        """The SMS the client asked Twilio to send."""
        return [
            r for r in self.requests if r.method == "POST" and r.path.endswith("/Messages.json")
        ]

    def add_media(self, content_type: str, content: bytes) -> str:
        """Serve ``content`` at a media URL like Twilio's; return the URL."""
        path = (
            f"/2010-04-01/Accounts/{ACCOUNT}/Messages/MM{uuid.uuid4().hex}"
            f"/Media/ME{uuid.uuid4().hex}"
        )
        self.media[path] = (content_type, content)
        return self.url + path


def _handler(state: TwilioStandIn):
    """The request handler class bound to ``state``."""

    class Handler(BaseHTTPRequestHandler):
        """Twilio's REST API, as far as the tests need it."""

        def log_message(self, *args):
            """Keep test output quiet."""

        def _record(self, body: bytes) -> None:
            """Keep the request as Twilio would have received it."""
            auth = None
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                auth = (user, password)
            state.requests.append(
                Recorded(
                    self.command,
                    self.path.split("?")[0],
                    parse_qs(body.decode(), keep_blank_values=True),
                    dict(self.headers),
                    auth,
                )
            )

        def _json(self, status: int, payload: dict) -> None:
            """Answer with a JSON document."""
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            """Create a message (or fail as told)."""
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._record(body)
            if not self.path.endswith("/Messages.json"):
                return self._json(404, {"code": 20404, "message": "not found", "status": 404})
            status, code, text = state.failures.pop(0) if state.failures else (0, 0, "")
            if status:  # 0: answer this one normally
                info = f"https://www.twilio.com/docs/errors/{code}"
                return self._json(
                    status, {"code": code, "message": text, "status": status, "more_info": info}
                )
            form = parse_qs(body.decode())
            self._json(
                201,
                {
                    "sid": "SM" + uuid.uuid4().hex,
                    "account_sid": ACCOUNT,
                    "status": "queued",
                    "to": form["To"][0],
                    "from": form["From"][0],
                    "body": form["Body"][0],
                    "direction": "outbound-api",
                    "api_version": "2010-04-01",
                    "num_media": "0",
                    "num_segments": "1",
                    "date_created": "Thu, 01 Jan 2026 12:00:00 +0000",
                },
            )

        def do_GET(self):
            """Serve media and recordings."""
            self._record(b"")
            path = self.path.split("?")[0]
            if path not in state.media:  # like Twilio: a recording also as .mp3 or .wav
                path = path.removesuffix(".mp3").removesuffix(".wav")
            if path not in state.media:
                return self._json(404, {"code": 20404, "message": "not found", "status": 404})
            content_type, content = state.media[path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

    return Handler


@pytest.fixture
def twilio_api():
    """The local Twilio stand-in, running for one test."""
    state = TwilioStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def twilio_config(api: TwilioStandIn | None = None, **extra) -> dict:
    """App configuration for a Twilio account (its REST API served by ``api``)."""
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_NUMBER": OUR_NUMBER,
        "TWILIO_API_BASE_URL": api.url if api else None,
        "PUBLIC_URL": None,
        **extra,
    }


def sign(url: str, params, token: str = TOKEN) -> str:
    """X-Twilio-Signature for a form POST to ``url``, by Twilio's own algorithm."""
    return RequestValidator(token).compute_signature(url, params)


def post_signed(
    client,
    path: str,
    params,
    base: str = "http://localhost",
    token: str = TOKEN,
    signature: str | None = None,
    **kwargs,
):
    """POST ``params`` form-encoded to ``path`` as Twilio does, signed for ``base + path``."""
    if signature is None:
        signature = sign(base + path, params, token)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature}, **kwargs)


def sms_params(
    body: str = "Hello", sender: str = "+4915112345678", sid: str | None = None, **extra
) -> dict:
    """The fields of Twilio's incoming-message webhook."""
    sid = sid or "SM" + uuid.uuid4().hex
    return {
        "ToCountry": "DE",
        "ToState": "",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "DE",
        "To": OUR_NUMBER,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT,
        "From": sender,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def call_params(
    sender: str = "+4915112345678", sid: str | None = None, status="ringing", **extra
) -> dict:
    """The fields of Twilio's incoming-call webhook."""
    return {
        "CallSid": sid or "CA" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT,
        "From": sender,
        "To": OUR_NUMBER,
        "Caller": sender,
        "Called": OUR_NUMBER,
        "CallStatus": status,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        "FromCountry": "DE",
        "ToCountry": "DE",
        **extra,
    }


def form_body(params: dict) -> bytes:
    """A form body as bytes (for requests whose bytes matter)."""
    return urlencode(params).encode()


@dataclass
class Office:
    """Team Phones owns our number; Pat (online) and Sam (offline) work it; Bill
    (online) works in Billing."""

    pat: object
    sam: object
    bill: object
    line: object
    team: object


@pytest.fixture
def office(app, make_agent) -> Office:
    """Agents, teams and our phone line (see Office)."""
    from sqlalchemy import select

    from helpdesk.agents.models import Team
    from helpdesk.channels.models import Channel
    from helpdesk.extensions import db

    pat = make_agent("pat@example.com", teams=["Phones"], name="Pat")
    sam = make_agent("sam@example.com", teams=["Phones"], name="Sam")
    bill = make_agent("bill@example.com", teams=["Billing"], name="Bill")
    pat.presence = bill.presence = "online"
    team = db.session.execute(select(Team).where(Team.name == "Phones")).scalar_one()
    line = Channel(
        kind="phone",
        name="Hotline",
        address=OUR_NUMBER,
        team_id=team.id,
        settings={},
        secrets={},
        state={},
    )
    db.session.add(line)
    db.session.commit()
    return Office(pat, sam, bill, line, team)
