"""Cleaning inbound HTML with bleach: once, at ingest, before anything stores or shows it."""

from __future__ import annotations

import html
import re

import bleach
from bleach.css_sanitizer import CSSSanitizer
from bleach.html5lib_shim import Filter

ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "code",
        "div",
        "em",
        "font",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
    }
)
# Elements whose content is never text a person wrote: dropped with everything inside.
DROPPED = frozenset(
    {
        "script",
        "style",
        "head",
        "title",
        "template",
        "noscript",
        "iframe",
        "object",
        "embed",
        "svg",
        "math",
        "form",
        "textarea",
        "select",
        "button",
    }
)
ALLOWED_ATTRIBUTES = {
    "*": ["style", "title", "dir", "align"],
    "a": ["href", "title"],
    "img": ["src", "alt", "width", "height"],
    "td": ["colspan", "rowspan", "valign"],
    "th": ["colspan", "rowspan", "valign"],
    "font": ["color"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto", "tel", "cid"})
CSS = CSSSanitizer(
    allowed_css_properties=[
        "color",
        "background-color",
        "font-weight",
        "font-style",
        "text-decoration",
        "text-align",
        "font-size",
        "margin",
        "padding",
        "border",
        "width",
        "height",
        "vertical-align",
    ]
)


class DropElements(Filter):
    """Remove dropped elements together with all of their content."""

    def __iter__(self):
        depth = 0
        for token in super().__iter__():
            kind, name = token["type"], token.get("name")
            if name in DROPPED and kind in ("StartTag", "EmptyTag", "EndTag"):
                if kind == "StartTag":
                    depth += 1
                elif kind == "EndTag":
                    depth = max(0, depth - 1)
                continue
            if depth == 0:
                yield token


_CLEANER = bleach.Cleaner(
    tags=ALLOWED_TAGS | DROPPED,
    attributes=ALLOWED_ATTRIBUTES,
    protocols=ALLOWED_PROTOCOLS,
    css_sanitizer=CSS,
    strip=True,
    strip_comments=True,
    filters=[DropElements],
)
_TEXT = bleach.Cleaner(
    tags=DROPPED, attributes={}, strip=True, strip_comments=True, filters=[DropElements]
)
_BLOCK_END = re.compile(r"(?i)<\s*(br|/p|/div|/tr|/li|/h[1-6]|/blockquote|/table)\b[^>]*>")


def clean_html(raw: str | None) -> str | None:
    """Safe HTML from untrusted HTML: no scripts, handlers, javascript: links or CSS tricks."""
    if not raw or not raw.strip():
        return None
    return _CLEANER.clean(raw)


def html_to_text(raw: str | None) -> str:
    """Readable plain text from HTML, for previews, search and channels without HTML."""
    if not raw:
        return ""
    text = _TEXT.clean(_BLOCK_END.sub("\n", raw))
    text = html.unescape(text).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
