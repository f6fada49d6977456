"""What the survey says to the customer, in German or English (the customer's language;
English when it is neither)."""

from __future__ import annotations

TEXTS = {
    "en": {
        "email": (
            "Hello {name},\n\nyour request #{number} ({subject}) is solved. How did we do? "
            "Please rate our help, it takes ten seconds:\n\n{link}\n\nThank you!"
        ),
        "short": "How did we do with #{number}? Reply with a number from 1 (bad) to 5 (great).",
        "chat": (
            "How did we do with #{number}? Rate our help with the buttons below "
            "(1 bad, 5 great), or reply with the number."
        ),
        "thanks_short": "Thank you for your rating!",
        "title": "How did we do?",
        "question": "How satisfied are you with our help on request #{number}?",
        "comment": "Anything you would like to tell us? (optional)",
        "send": "Send",
        "thanks": "Thank you! Your rating helps us get better.",
        "expired": "This survey has closed.",
        "labels": ["very bad", "bad", "okay", "good", "very good"],
    },
    "de": {
        "email": (
            "Hallo {name},\n\nIhre Anfrage #{number} ({subject}) ist gelöst. Wie zufrieden "
            "waren Sie? Bitte bewerten Sie unsere Hilfe, es dauert zehn Sekunden:\n\n{link}\n\n"
            "Vielen Dank!"
        ),
        "short": (
            "Wie zufrieden waren Sie mit #{number}? Antworten Sie mit einer Zahl von 1 "
            "(schlecht) bis 5 (sehr gut)."
        ),
        "chat": (
            "Wie zufrieden waren Sie mit #{number}? Bewerten Sie unsere Hilfe mit den "
            "Knöpfen unten (1 schlecht, 5 sehr gut) oder antworten Sie mit der Zahl."
        ),
        "thanks_short": "Vielen Dank für Ihre Bewertung!",
        "title": "Wie war unsere Hilfe?",
        "question": "Wie zufrieden sind Sie mit unserer Hilfe zu Anfrage #{number}?",
        "comment": "Möchten Sie uns noch etwas sagen? (freiwillig)",
        "send": "Absenden",
        "thanks": "Vielen Dank! Ihre Bewertung hilft uns, besser zu werden.",
        "expired": "Diese Umfrage ist geschlossen.",
        "labels": ["sehr schlecht", "schlecht", "in Ordnung", "gut", "sehr gut"],
    },
}


def language_of(code: str | None) -> str:
    """``de`` for German-speaking customers, else ``en``."""
    return "de" if (code or "").lower().startswith("de") else "en"


def texts(language: str) -> dict:
    """The strings of one language."""
    return TEXTS[language_of(language)]
