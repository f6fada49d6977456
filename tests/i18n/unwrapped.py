"""Find the words in a template that do not go through gettext: text between tags, and
the attributes people read (placeholder, title, aria-label, alt), outside ``{{ }}``,
``{% %}`` and ``{# #}`` and outside script, style, pre and code elements."""

from __future__ import annotations

import re

READ_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")
NOT_TEXT = ("script", "style", "pre", "code")
_JINJA_CLOSE = {"{{": "}}", "{%": "%}", "{#": "#}"}
_WORD = re.compile(r"[A-Za-z]{2,}")
_ATTRIBUTE = re.compile(r"\b(" + "|".join(READ_ATTRIBUTES) + r')="([^"]*)"')


def _skip_jinja(source: str, at: int) -> int:
    """The index after the Jinja construct that starts at ``at``."""
    return source.index(_JINJA_CLOSE[source[at : at + 2]], at + 2) + 2


def _starts_tag(source: str, at: int) -> bool:
    """Whether an HTML tag (or comment, or doctype) starts at ``at``."""
    following = source[at + 1 : at + 2]
    return source[at] == "<" and bool(following) and (following.isalpha() or following in "/!")


def _starts_jinja(source: str, at: int) -> bool:
    """Whether ``{{``, ``{%`` or ``{#`` starts at ``at``."""
    return source.startswith(("{{", "{%", "{#"), at)


def unwrapped(source: str) -> list[str]:
    """The bits of readable English in ``source`` that are not inside a Jinja construct."""
    found: list[str] = []
    inside: list[str] = []
    at = 0
    while at < len(source):
        if _starts_jinja(source, at):
            at = _skip_jinja(source, at)
        elif _starts_tag(source, at):
            end = at + 1
            while end < len(source) and source[end] != ">":
                end = (
                    _skip_jinja(source, end)
                    if source.startswith(("{{", "{%", "{#"), end)
                    else end + 1
                )
            tag = source[at : end + 1]
            name = re.match(r"<(/?)([a-zA-Z0-9]*)", tag)
            if name and name.group(2).lower() in NOT_TEXT:
                if name.group(1):
                    inside = inside[:-1]
                else:
                    inside.append(name.group(2).lower())
            found += [v for _, v in _ATTRIBUTE.findall(tag) if "{" not in v and _WORD.search(v)]
            at = end + 1
        else:
            end = at
            while (
                end < len(source)
                and not source.startswith(("{{", "{%", "{#"), end)
                and not _starts_tag(source, end)
            ):
                end += 1
            text = source[at:end].strip()
            if not inside and _WORD.search(text):
                found.append(text)
            at = end
    return found
