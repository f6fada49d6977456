"""What the survey says to the customer, in German or English (the customer's language;
English when it is neither): gettext strings, read in that language (``force_locale``),
their German in the catalogue (helpdesk/translations)."""

from __future__ import annotations

from flask_babel import force_locale, pgettext
from flask_babel import gettext as _


def language_of(code: str | None) -> str:
    """``de`` for German-speaking customers, else ``en``."""
    return "de" if (code or "").lower().startswith("de") else "en"


def texts(language: str) -> dict:
    """The strings of one language (``{name}``-style places, filled with str.format)."""
    with force_locale(language_of(language)):
        return {
            "email": _(
                "Hello {name},\n\nyour request #{number} ({subject}) is solved. How did we "
                "do? Please rate our help, it takes ten seconds:\n\n{link}\n\nThank you!"
            ),
            "short": _(
                "How did we do with #{number}? Reply with a number from 1 (bad) to 5 (great)."
            ),
            "chat": _(
                "How did we do with #{number}? Rate our help with the buttons below "
                "(1 bad, 5 great), or reply with the number."
            ),
            "thanks_short": _("Thank you for your rating!"),
            "title": _("How did we do?"),
            "question": _("How satisfied are you with our help on request #{number}?"),
            "comment": _("Anything you would like to tell us? (optional)"),
            "send": pgettext("survey", "Send"),
            "thanks": _("Thank you! Your rating helps us get better."),
            "expired": _("This survey has closed."),
            "labels": [_("very bad"), _("bad"), _("okay"), _("good"), _("very good")],
        }
