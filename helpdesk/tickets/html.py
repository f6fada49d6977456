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
        "border",
        "vertical-align",
    ]
)
# Sizing and positioning are left out above: inside the agent's frame a mail may not
# make an element 1 pixel small, move it off the screen or wider than the frame.
# What the mail frame allows while its remote images are blocked (inside the page's
# own Content-Security-Policy): images only from the mail itself.
FRAME_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_BLOCKED = re.compile(r'<img\b[^<]*\sdata-remote-src="')


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


class BlockRemoteImages(Filter):
    """(After cleaning.) An image from the network (http, https) keeps its address in
    ``data-remote-src`` instead of ``src``; any other source that is not part of the mail
    (a relative or protocol-relative address: our own server or anyone's) is dropped."""

    def __iter__(self):
        for token in super().__iter__():
            if token.get("name") == "img" and token["type"] in ("StartTag", "EmptyTag"):
                attributes = dict(token["data"])
                source = attributes.pop((None, "src"), None)
                if source and source.lower().startswith(("http://", "https://")):
                    attributes[(None, "data-remote-src")] = source
                elif source and source.lower().startswith(("cid:", "data:")):
                    attributes[(None, "src")] = source
                token = {**token, "data": attributes}
            yield token


_FRAMER = bleach.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    protocols=ALLOWED_PROTOCOLS,
    css_sanitizer=CSS,
    strip=True,
    strip_comments=True,
    filters=[BlockRemoteImages],
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


def framed(body_html: str | None) -> tuple[str, bool]:
    """Cleaned mail HTML as the agent's mail frame shows it, and whether it has remote
    images: each remote image's address waits in ``data-remote-src`` until the agent
    loads them, sizing and positioning CSS is dropped. Cleaned again on every render,
    so mail stored earlier is framed by today's rules."""
    if not body_html or not body_html.strip():
        return "", False
    framed_html = _FRAMER.clean(body_html)
    return framed_html, bool(_BLOCKED.search(framed_html))


def html_to_text(raw: str | None) -> str:
    """Readable plain text from HTML, for previews, search and channels without HTML."""
    if not raw:
        return ""
    text = _TEXT.clean(_BLOCK_END.sub("\n", raw))
    text = html.unescape(text).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
