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

from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel
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
