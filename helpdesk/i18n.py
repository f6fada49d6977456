"""German and English (Flask-Babel): which language and time zone a request speaks.

An agent's own choice (``agents.language`` / ``agents.timezone``, set in their profile)
comes first, then the browser's ``Accept-Language`` among the languages we have
catalogues for, then ``HELPDESK_DEFAULT_LANGUAGE``. What customers get (mails, the
survey page, the chat widget) speaks the customer's language: render it inside
``flask_babel.force_locale(customer.language)``.

Templates say ``{{ _("Inbox") }}``; Python says ``from flask_babel import gettext as _``
(``lazy_gettext`` for strings made at import time). The catalogue lives in
``helpdesk/translations/de/LC_MESSAGES/messages.po`` (``make translations`` extracts,
updates and compiles it; the compiled ``.mo`` is committed beside it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import flask_babel
from babel import Locale
from babel.messages.extract import extract
from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, lazy_gettext
from flask_login import current_user

from helpdesk.config import PACKAGE

LANGUAGES = ("en", "de")
babel = Babel()


def select_locale() -> str:
    """The request's language: the agent's own, else the browser's, else the default."""
    default = current_app.config["DEFAULT_LANGUAGE"]
    if not has_request_context():
        return default
    own = getattr(current_user, "language", None) if current_user else None
    if own in LANGUAGES:
        return own
    return request.accept_languages.best_match(LANGUAGES) or default


def select_timezone() -> str:
    """The agent's own time zone, else HELPDESK_TIMEZONE."""
    if has_request_context() and current_user:
        own = getattr(current_user, "timezone", None)
        if own:
            return own
    return current_app.config["TIMEZONE"]


def init_app(app: Flask) -> None:
    """Bind Flask-Babel: the catalogues in helpdesk/translations, the selectors above."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(PACKAGE / "translations"))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    # Flask-Babel keeps the choice on ``g``, which lives as long as the app context: a
    # request inside a longer one (tests, a CLI command's client) must choose afresh.
    app.before_request(flask_babel.refresh)
    register_template_helpers(app)


def _to_datetime(value: object) -> datetime | None:
    """A datetime from a datetime or an ISO 8601 string (the API's JSON shapes); naive
    values are UTC, as the database stores them."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def datetime_filter(value: object, format: str = "short") -> str:  # noqa: A002
    """``{{ t | datetime }}``: a date and time in the request's locale and time zone."""
    moment = _to_datetime(value)
    return flask_babel.format_datetime(moment, format) if moment else ""


def date_filter(value: object, format: str = "medium") -> str:  # noqa: A002
    """``{{ t | date }}``: a date in the request's locale (and time zone, for datetimes)."""
    if isinstance(value, str) and len(value) == 10:  # "2026-12-06": a day, no time zone
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return flask_babel.format_date(value, format)
    moment = _to_datetime(value)
    return flask_babel.format_date(moment, format) if moment else ""


def number_filter(value: object) -> str:
    """``{{ n | number }}``: a number with the locale's separators (1,234 / 1.234)."""
    if value is None or value == "":
        return ""
    try:
        return flask_babel.format_decimal(value)
    except (TypeError, ValueError, ArithmeticError):
        return str(value)


AGENT_SCRIPTS = "static/*.js"
WIDGET_SCRIPTS = "static/chat/*.js"
_SCRIPT_MESSAGES: dict[str, tuple[str, ...]] = {}


def script_messages(pattern: str) -> tuple[str, ...]:
    """Every string the scripts matching ``pattern`` wrap in ``_()`` (read once per
    process, with the extractor ``make translations`` uses, so the lists cannot drift)."""
    if pattern not in _SCRIPT_MESSAGES:
        found: dict[str, None] = {}
        for path in sorted(PACKAGE.glob(pattern)):
            with path.open("rb") as source:
                for _line, message, _comments, _context in extract(
                    "javascript", source, keywords={"_": None}
                ):
                    found[str(message)] = None
        _SCRIPT_MESSAGES[pattern] = tuple(found)
    return _SCRIPT_MESSAGES[pattern]


def script_texts(locale: str | None = None) -> dict[str, str]:
    """The agent UI scripts' strings in ``locale`` (the request's by default):
    {English: German}, and the words for stored values (``_(ticket.status)``); English
    needs none (the scripts fall back to the text they were given)."""
    if locale is None:
        locale = str(flask_babel.get_locale() or "en")
    if locale == "en":
        return {}
    with flask_babel.force_locale(locale):
        texts = {value: str(word) for value, word in LABELS.items()}
        texts.update({m: flask_babel.gettext(m) for m in script_messages(AGENT_SCRIPTS)})
        return texts


def widget_texts(locale: str) -> dict[str, str]:
    """The chat widget's strings in ``locale`` (empty for English: it is written in it)."""
    if locale == "en":
        return {}
    with flask_babel.force_locale(locale):
        return {m: flask_babel.gettext(m) for m in script_messages(WIDGET_SCRIPTS)}


def visitor_language(wanted: str | None = None) -> str:
    """A visitor's language: the one asked for when we have it, else the browser's, else
    the default."""
    wanted = (wanted or "").lower()[:2]
    if wanted in LANGUAGES:
        return wanted
    best = request.accept_languages.best_match(LANGUAGES) if has_request_context() else None
    return best or current_app.config["DEFAULT_LANGUAGE"]


def weekday_name(number: int) -> str:
    """The short name of a weekday (0: Monday) in the request's language."""
    locale = flask_babel.get_locale() or Locale.parse("en")
    return str(locale.days["format"]["abbreviated"][number])


def current_language() -> str:
    """The request's language code ("en", "de"): for ``<html lang>`` and Intl in scripts."""
    return str(flask_babel.get_locale() or current_app.config["DEFAULT_LANGUAGE"])


def agent_language(agent: object) -> str:
    """The language to write to ``agent`` in (mails from jobs): their own, else the default."""
    own = getattr(agent, "language", None)
    return own if own in LANGUAGES else current_app.config["DEFAULT_LANGUAGE"]


def customer_language(customer: object) -> str:
    """The language to write to ``customer`` in: theirs when we have a catalogue for it,
    else the desk's default."""
    own = (getattr(customer, "language", None) or "").lower()[:2]
    return own if own in LANGUAGES else current_app.config["DEFAULT_LANGUAGE"]


def register_template_helpers(app: Flask) -> None:
    """The filters and globals templates use for dates, numbers and the scripts' texts."""
    app.add_template_filter(datetime_filter, "datetime")
    app.add_template_filter(date_filter, "date")
    app.add_template_filter(number_filter, "number")
    app.add_template_filter(label_filter, "label")
    app.add_template_global(script_texts, "script_texts")
    app.add_template_global(current_language, "current_language")
    app.add_template_global(weekday_name, "weekday_name")


# The values the UI shows as words (a ticket's status, priority and channel, a message's
# delivery, an order's status): ``{{ ticket.status | label }}``.
LABELS = {
    "active": lazy_gettext("active"),  # the inbox's filter: new, open or pending
    "any": lazy_gettext("any status"),
    "new": lazy_gettext("new"),
    "open": lazy_gettext("open"),
    "pending": lazy_gettext("pending"),
    "solved": lazy_gettext("solved"),
    "closed": lazy_gettext("closed"),
    "low": lazy_gettext("low"),
    "normal": lazy_gettext("normal"),
    "high": lazy_gettext("high"),
    "urgent": lazy_gettext("urgent"),
    "email": lazy_gettext("email"),
    "sms": lazy_gettext("SMS"),
    "voice": lazy_gettext("phone"),
    "chat": lazy_gettext("chat"),
    "web": lazy_gettext("web form"),
    "api": lazy_gettext("API"),
    "received": lazy_gettext("received"),
    "queued": lazy_gettext("queued"),
    "sent": lazy_gettext("sent"),
    "delivered": lazy_gettext("delivered"),
    "undelivered": lazy_gettext("undelivered"),
    "failed": lazy_gettext("failed"),
    "paid": lazy_gettext("paid"),
    "processing": lazy_gettext("processing"),
    "shipped": lazy_gettext("shipped"),
    "delayed": lazy_gettext("delayed"),
    "cancelled": lazy_gettext("cancelled"),
    "online": lazy_gettext("online"),
    "away": lazy_gettext("away"),
    "on_call": lazy_gettext("on a call"),
    "offline": lazy_gettext("offline"),
    "agent": lazy_gettext("agent"),
    "lead": lazy_gettext("lead"),
    "admin": lazy_gettext("admin"),
    # a live notification's kind (sla.notifications): the title the page shows
    "escalated": lazy_gettext("Escalated to you"),
    "sla_warning": lazy_gettext("SLA due soon"),
    "low_rating": lazy_gettext("Low rating"),
    # a campaign's status (helpdesk/campaigns)
    "draft": lazy_gettext("draft"),
    "scheduled": lazy_gettext("scheduled"),
    "preparing": lazy_gettext("preparing"),
    "sending": lazy_gettext("sending"),
}


def label_filter(value: object) -> str:
    """The word for a stored value in the request's language (the value itself when it
    is not one of ``LABELS``)."""
    found = LABELS.get(value) if isinstance(value, str) else None
    return str(found) if found is not None else ("" if value is None else str(value))


def timezones() -> list[str]:
    """The IANA time zone names an agent may pick, sorted."""
    return sorted(available_timezones() - {"localtime", "Factory"})


def known_timezone(name: str) -> bool:
    """Whether ``name`` is a time zone we can load (zoneinfo)."""
    if len(name) > 64 or name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
