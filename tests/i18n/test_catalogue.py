"""The German catalogue holds every string the desk shows: what ``make translations``
extracts from the templates, the Python code and the scripts (babel.cfg) has a German
translation with the same placeholders; the compiled .mo says what the .po says; and no
template shows English words outside gettext."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.i18n.unwrapped import unwrapped

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "helpdesk/translations/de/LC_MESSAGES"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}  # as the Makefile says
_PLACES = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
# Words that are not English to translate, and the bits that are bilingual on purpose
# (the customer's language is not known there, so the page says both, each with lang=).
NOT_TO_TRANSLATE = {
    "helpdesk",
    "Deutsch",
    "English",
    "HubSpot",
    "Pipedrive",
    "Insightly",
    "openapi.json",
    ", OpenAPI",
    '{"items": [',
    ', ...], "next": URL or null}',
    "Enter",  # keys, named as on their caps
    "Esc",
    "Europe/Berlin",  # a time zone's IANA name, an example in a field
}
BILINGUAL = {"_macros.html", "_message.html"}
# A visitor's confirmation link: no agent, no known language; the page says all in both.
BOTH_LANGUAGES = {"chat_confirm.html"}


def _extracted() -> dict[tuple[str | None, str | tuple], str]:
    """Every message babel.cfg's extraction finds: {(context, id): where}."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        key = message if isinstance(message, str) else tuple(message)
        found.setdefault((context, key), f"{filename}:{lineno}")
    return found


def _catalogue():
    with (CATALOGUE / "messages.po").open("rb") as po:
        return read_po(po, locale="de")


def test_every_string_of_the_ui_has_a_german_translation():
    catalogue = _catalogue()
    extracted = _extracted()
    assert len(extracted) > 500  # the extraction really read the sources
    problems = []
    for (context, message), where in sorted(extracted.items(), key=lambda kv: kv[1]):
        msgid = message if isinstance(message, str) else message[0]
        entry = catalogue.get(msgid, context=context)
        strings = (
            []
            if entry is None
            else (list(entry.string) if isinstance(entry.string, tuple) else [entry.string])
        )
        if entry is None or not all(strings) or entry.fuzzy:
            problems.append(f"{where}: {message!r} has no German translation")
            continue
        wanted = sorted(_PLACES.findall(msgid))
        for string in strings:
            if sorted(set(_PLACES.findall(string))) != sorted(set(wanted)):
                problems.append(f"{where}: {msgid!r} → {string!r} changes the placeholders")
    assert not problems, "run `make translations` and translate:\n" + "\n".join(problems)


def test_the_compiled_catalogue_says_what_the_po_says():
    catalogue = _catalogue()
    with (CATALOGUE / "messages.mo").open("rb") as mo:
        compiled = read_mo(mo)
    po = {_key(m): _strings(m) for m in catalogue if m.id and not m.fuzzy}
    mo = {_key(m): _strings(m) for m in compiled if m.id}
    assert po == mo, "the .mo is older than the .po: run `make translations`"


def _key(message) -> tuple:
    ids = message.id if isinstance(message.id, (list, tuple)) else [message.id]
    return (message.context, *ids)


def _strings(message) -> tuple:
    found = message.string
    return tuple(found) if isinstance(found, (list, tuple)) else (found,)


def test_no_template_shows_english_outside_gettext():
    problems = []
    for template in sorted((ROOT / "helpdesk/templates").rglob("*.html")):
        if template.name in BOTH_LANGUAGES:
            continue
        for text in unwrapped(template.read_text()):
            if text in NOT_TO_TRANSLATE:
                continue
            if template.name in BILINGUAL and _bilingual(template, text):
                continue
            problems.append(f"{template.relative_to(ROOT)}: {text!r}")
    assert not problems, "wrap these in {{ _(...) }}:\n" + "\n".join(problems)


def _bilingual(template: Path, text: str) -> bool:
    """Whether ``text`` sits in an element marked with its language (lang="en"/"de"),
    or in a title that says it in both."""
    source = template.read_text()
    return bool(
        re.search(r'lang="(en|de)">' + re.escape(text) + "<", source)
        or (" · " in text and re.search(r'title="' + re.escape(text) + '"', source))
    )
