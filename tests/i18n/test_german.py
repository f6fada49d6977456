"""The desk in German: a German browser (Accept-Language) gets the main pages in German,
with no English label left over; dates and numbers in German forms; the customer's
survey page in the customer's language; the chat widget's words; and an agent's own
choice in their profile beats the browser."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser

import pytest

from helpdesk import unit_of_work
from helpdesk.audit.models import AuditEvent
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.surveys.models import Survey, hash_token
from tests.fixtures.agents import form_csrf, login

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
# English labels of the UI that read differently in German (words that are the same in
# both, like "Status", "Team" or "Tickets", cannot tell the languages apart).
ENGLISH = (
    "Unassigned",
    "Mine",
    "My teams",
    "Customers",
    "Organizations",
    "Reports",
    "Duplicates",
    "New customer",
    "Log out",
    "Subject",
    "Priority",
    "Assignee",
    "Waiting",
    "No tickets here",
    "Any channel",
    "Any priority",
    "Save as segment",
    "Search",
    "Reply",
    "Internal note",
    "Send",
    "Save",
    "History",
    "Open tickets",
    "Recent orders",
    "Edit",
    "Add a note",
    "Escalate",
    "Audit log",
    "Anyone",
    "Created",
    "Solved",
    "First response",
    "Satisfaction",
    "All customers",
    "Last contact",
    "Apply",
    "Organization",
    "Language",
    "Your presence",
    "Away",
    "unassigned",
    "no team",
    "open",
    "Team board",
    "Loading",
    "Time zone",
    "Key people",
    "Nobody",
    "answered",
)


class _Visible(HTMLParser):
    """The text a reader sees: text nodes (not scripts or styles) and the attributes that
    are read out (placeholder, title, aria-label, alt)."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._hidden += 1
        for name, value in attrs:
            if name in ("placeholder", "title", "aria-label", "alt") and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def english_left(text: str) -> list[str]:
    return [w for w in ENGLISH if re.search(r"(?<![\w-])" + re.escape(w) + r"(?![\w-])", text)]


@pytest.fixture
def desk(api, admin, make_agent, make_customer, make_ticket):
    """A lead's team, a German-speaking customer of an organization with a ticket."""
    make_agent("lea@example.com", role="lead", teams=["Support"], name="Lea Lead")
    org = api.post("/api/v1/organizations", json={"name": "Muster GmbH"}).json
    jan = make_customer("Jan Muster", emails=["jan@example.de"], language="de")
    api.patch(f"/api/v1/customers/{jan.id}", json={"organization": org["id"]})
    ticket = make_ticket(jan, "Lieferung fehlt", body="Wo ist mein Paket?")
    return {"org": org["id"], "customer": jan.id, "ticket": ticket}


def test_a_german_browser_gets_the_main_pages_in_german(client, admin, desk):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = GERMAN["Accept-Language"]
    login(client, admin.email)
    pages = {
        "/inbox": ["Posteingang", "Nicht zugewiesen", "Betreff", "Priorität", "Kunden"],
        f"/tickets/{desk['ticket']}": ["Antwort schreiben", "Interne Notiz", "Senden"],
        f"/customers/{desk['customer']}": ["Historie", "Offene Tickets", "Sprache"],
        f"/customers/{desk['customer']}/panel": ["Offene Tickets", "Letzte Bestellungen"],
        "/customers": ["Segmente", "Alle Kunden", "Letzter Kontakt", "Anwenden"],
        "/organizations": ["Organisationen", "Neue Organisation"],
        f"/organizations/{desk['org']}": ["Personen und ihre offenen Tickets"],
        "/reports": ["Berichte", "Erste Antwort", "Zufriedenheit"],
        "/board": ["Team-Board", "Nicht zugewiesen", "Agenten"],
        "/settings/audit": ["Audit-Log", "Wann", "Wer"],
        "/profile": ["Ihr Profil", "Zeitzone", "Die Sprache des Browsers"],
    }
    for path, words in pages.items():
        answer = client.get(path)
        assert answer.status_code == 200, path
        html = answer.get_data(as_text=True)
        text = visible(html)
        assert all(w in text for w in words), (path, [w for w in words if w not in text])
        assert not english_left(text), (path, english_left(text))
        assert '<html lang="de">' in html or path.endswith("/panel"), path
    inbox = client.get("/inbox").get_data(as_text=True)
    # the scripts' words come with the page (the relative times, the live status)
    meta = re.search(r'<meta name="helpdesk-texts" content="([^"]*)"', inbox).group(1)
    texts = json.loads(unescape(meta))
    assert texts["just now"] == "gerade eben" and texts["pending"] == "wartend"


def test_english_stays_the_default(client, admin, desk):
    login(client, admin.email)
    html = client.get("/inbox").get_data(as_text=True)
    assert '<html lang="en">' in html and "Unassigned" in html and "Posteingang" not in html
    assert 'content="{}"' in html  # English pages carry no texts for the scripts


def test_dates_and_numbers_follow_the_agents_language_and_time_zone(client, admin, desk):
    with unit_of_work.write_phase():
        admin.language, admin.timezone = "de", "Asia/Tokyo"
        db.session.add(AuditEvent(action="demo.test", at=utcnow().replace(hour=23, minute=30)))
        db.session.commit()
    login(client, admin.email)
    html = client.get("/settings/audit?action=demo.test").get_data(as_text=True)
    when = re.search(r"<time datetime=\"[^\"]+\">([^<]+)</time>", html).group(1)
    assert re.fullmatch(r"\d{2}\.\d{2}\.\d{4}, 08:30:\d{2}", when), when  # Tokyo: UTC+9
    assert "Audit-Log" in html


def test_the_profile_choice_beats_the_browser_and_is_audited(client, admin):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = GERMAN["Accept-Language"]
    login(client, admin.email)
    form = client.get("/profile").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    bad = client.post(
        "/profile", data={"csrf_token": token, "language": "fr", "timezone": "Mars/Base"}
    )
    assert bad.status_code == 422 and "Wählen Sie eine Sprache" in bad.get_data(as_text=True)
    assert db.session.get(type(admin), admin.id).language is None  # nothing written
    saved = client.post(
        "/profile", data={"csrf_token": token, "language": "en", "timezone": "Europe/Berlin"}
    )
    assert saved.status_code == 302
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert '<html lang="en">' in page and "Your profile" in page and "Saved." in page
    assert "Unassigned" in client.get("/inbox").get_data(as_text=True)
    event = db.session.query(AuditEvent).filter_by(action="agent.update").one()
    assert event.object_id == admin.id and event.agent_id == admin.id
    assert event.after == {"language": "en", "timezone": "Europe/Berlin"}
    assert event.before == {"language": None, "timezone": None}


def test_the_survey_page_speaks_the_customers_language(client, desk):
    token = "t" * 40
    with unit_of_work.write_phase():
        db.session.add(
            Survey(
                ticket_id=desk["ticket"],
                customer_id=desk["customer"],
                channel="email",
                language="de",
                token_hash=hash_token(token),
                sent_at=utcnow(),
                expires_at=utcnow() + timedelta(days=3),
            )
        )
        db.session.commit()
    page = client.get(f"/survey/{token}", headers={"Accept-Language": "en"})
    text = visible(page.get_data(as_text=True))
    assert "Wie zufrieden sind Sie" in text and "Absenden" in text and "sehr gut" in text
    assert "How satisfied" not in text


def test_the_chat_widget_gets_its_words_in_the_visitors_language(client):
    german = client.get("/chat/texts", headers=GERMAN)
    assert german.headers["Access-Control-Allow-Origin"] == "*"
    assert german.json["language"] == "de"
    assert german.json["texts"]["Chat with us"] == "Chatten Sie mit uns"
    assert german.json["texts"]["Send"] == "Senden"
    asked = client.get("/chat/texts?lang=en", headers=GERMAN).json  # the page's choice wins
    assert asked == {"language": "en", "texts": {}}


def test_a_throttled_login_says_so_in_the_browsers_language(client, app, admin):
    app.config["LOGIN_ATTEMPTS_PER_MINUTE"] = 2
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = GERMAN["Accept-Language"]
    token = form_csrf(client)
    for _ in range(3):
        answer = client.post(
            "/login", data={"email": admin.email, "password": "wrong horse", "csrf_token": token}
        )
    assert answer.status_code == 429
    text = visible(answer.get_data(as_text=True))
    assert "Zu viele Anmeldeversuche" in text and "Passwort" in text and "Too many" not in text
