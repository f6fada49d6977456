"""``GET /attachments/ID``: the ticket's access rule (404 for everyone else), images
inline only when they are what they say, everything else a download, never run."""

from __future__ import annotations

import io
import json
import socket
import struct
import threading
import zlib

import pytest

from helpdesk.extensions import db
from helpdesk.tickets.models import Attachment
from tests.fixtures.agents import login

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def png(width: int, height: int) -> bytes:
    """A real PNG of a colour gradient (for thumbnails worth looking at)."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 255 // width, y * 255 // height, 160))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack("!I", len(data)) + kind + data + struct.pack("!I", zlib.crc32(kind + data))
        )

    header = struct.pack("!IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


FILES = {
    "photo.png": ("image/png", PNG),
    "page.html": ("text/html", b"<script>alert(1)</script>"),
    "logo.svg": ("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
    "fake.png": ("image/png", b"<html><script>alert(1)</script></html>"),
    "..\\in;voice<1>.pdf": ("application/pdf", b"%PDF-1.4 tiny"),
}


def note_with_files(api, ticket_id: int, files: dict) -> dict:
    """An internal note carrying ``files`` (multipart, the JSON as ``payload``)."""
    data = {
        "payload": json.dumps({"body": "files for the team", "internal": True}),
        "files": [(io.BytesIO(content), name, kind) for name, (kind, content) in files.items()],
    }
    response = api.post(
        f"/api/v1/tickets/{ticket_id}/messages", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 201, response.json
    return {a["filename"]: a["id"] for a in response.json["attachments"]}


@pytest.fixture
def ticket(admin, make_customer, make_ticket):
    """A ticket of team Support (the admin's)."""
    ada = make_customer("Ada", emails=["ada@example.com"])
    return make_ticket(ada, "Broken lamp", body="see photo", team=admin.teams[0].id)


def test_the_tickets_team_downloads_others_get_404(client, api, api_as, make_agent, ticket):
    ids = note_with_files(api, ticket, {"photo.png": FILES["photo.png"]})
    photo = ids["photo.png"]
    support = make_agent("sam@example.com", teams=["Support"])
    billing = make_agent("bill@example.com", teams=["Billing"])
    manager = make_agent("anna@example.com", teams=["Support"], own_accounts_only=True)
    # Nobody logged in: the login page, not the file.
    assert client.get(f"/attachments/{photo}").status_code == 302
    assert api_as(support).get(f"/attachments/{photo}").data == PNG  # a token works too
    for stranger in (billing, manager):
        assert api_as(stranger).get(f"/attachments/{photo}").status_code == 404, stranger.email
    assert api_as(support).get("/attachments/999999").status_code == 404
    # The session of a logged-in agent of the team.
    web = login(client, support.email)
    assert web.get(f"/attachments/{photo}").data == PNG


def test_only_real_raster_images_are_inline_the_rest_is_an_inert_download(api, ticket):
    ids = note_with_files(api, ticket, FILES)
    assert set(ids) == {"photo.png", "page.html", "logo.svg", "fake.png", "in_voice_1_.pdf"}
    answers = {name: api.get(f"/attachments/{ident}") for name, ident in ids.items()}
    for name, response in answers.items():
        assert response.status_code == 200, name
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert "sandbox" in response.headers["Content-Security-Policy"]
    photo = answers["photo.png"]
    assert photo.mimetype == "image/png"
    assert photo.headers["Content-Disposition"].startswith("inline")
    for name in ("page.html", "logo.svg", "fake.png", "in_voice_1_.pdf"):
        disposition = answers[name].headers["Content-Disposition"]
        assert disposition.startswith("attachment;"), (name, disposition)
        assert "\r" not in disposition and "\n" not in disposition
    assert answers["page.html"].mimetype == "application/octet-stream"
    assert answers["logo.svg"].mimetype == "application/octet-stream"
    assert answers["fake.png"].mimetype == "image/png"  # named so, but not shown
    assert answers["in_voice_1_.pdf"].headers["Content-Disposition"] == (
        "attachment; filename=in_voice_1_.pdf"
    )
    # The same content twice is kept once.
    again = note_with_files(api, ticket, {"copy.png": FILES["photo.png"]})
    db.session.expire_all()
    first, second = (db.session.get(Attachment, i) for i in (ids["photo.png"], again["copy.png"]))
    assert first.sha256 == second.sha256 and first.id != second.id


def test_the_thread_shows_thumbnails_and_links(client, admin, api, ticket):
    ids = note_with_files(
        api, ticket, {"photo.png": FILES["photo.png"], "a.txt": ("text/plain", b"hi")}
    )
    page = login(client, admin.email).get(f"/tickets/{ticket}").get_data(as_text=True)
    assert f'<img class="thumbnail" src="/attachments/{ids["photo.png"]}"' in page
    assert f'href="/attachments/{ids["a.txt"]}" download>' in page
    assert f'src="/attachments/{ids["a.txt"]}"' not in page


def test_an_upload_over_the_limit_is_refused_and_nothing_is_written(app, api, ticket):
    app.config["UPLOAD_MAX_BYTES"] = 10
    data = {
        "payload": json.dumps({"body": "too big", "internal": True}),
        "files": [(io.BytesIO(b"x" * 11), "big.bin", "application/octet-stream")],
    }
    response = api.post(
        f"/api/v1/tickets/{ticket}/messages", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 422 and response.json["error"]["fields"] == {
        "files": "too large"
    }
    assert db.session.query(Attachment).count() == 0


class Clamd:
    """A stand-in for clamd on a loopback port: INSTREAM, answering FOUND for the EICAR
    test string and OK for anything else (the protocol as clamd speaks it)."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while not data.endswith(b"\0\0\0\0"):
                    part = conn.recv(65536)
                    if not part:
                        break
                    data += part
                found = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE" in data
                conn.sendall(b"stream: Eicar-Test-Signature FOUND\0" if found else b"stream: OK\0")


def test_uploads_are_scanned_when_a_scanner_is_configured(app, api, ticket):
    scanner = Clamd()
    app.config["CLAMAV_SOCKET"] = scanner.address
    eicar = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    data = {
        "payload": json.dumps({"body": "a virus", "internal": True}),
        "files": [(io.BytesIO(eicar), "eicar.com", "application/octet-stream")],
    }
    refused = api.post(
        f"/api/v1/tickets/{ticket}/messages", data=data, content_type="multipart/form-data"
    )
    assert refused.status_code == 422 and refused.json["error"]["fields"] == {"files": "virus"}
    assert "Eicar-Test-Signature" in refused.json["error"]["message"]
    assert note_with_files(api, ticket, {"clean.txt": ("text/plain", b"fine")})
    scanner.listener.close()
    app.config["CLAMAV_SOCKET"] = "127.0.0.1:1"  # configured but down: refused, not skipped
    down = api.post(
        f"/api/v1/tickets/{ticket}/messages",
        data={
            "payload": json.dumps({"body": "x", "internal": True}),
            "files": [(io.BytesIO(b"fine"), "a.txt", "text/plain")],
        },
        content_type="multipart/form-data",
    )
    assert down.status_code == 422 and "unreachable" in down.json["error"]["message"]
