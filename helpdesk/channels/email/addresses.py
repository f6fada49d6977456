"""Who a mail is from and to: addresses read from the raw header, never from decoded text.

An RFC 2047 encoded word is only ever a display name: its decoded text may say
``victim@example.com`` (or hold a line break that splits the header), but the
address is what the header says outside encoded words. The strict parser of
``policy.default`` reads the header first (on its 8-bit bytes decoded, its
encoded words as written), and an address it gives is taken only when it is
written so in the header; otherwise a lenient reading finds ``<...>`` or a bare
``local@domain`` outside the encoded words, so broken display names (quoted
local parts with spaces, a trailing dot on the domain, a stray ``>``) still
give the address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email import policy
from email.message import Message

from helpdesk.channels.email.headers import header_text, raw_header, unfold

_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_ANGLE = re.compile(r"<\s*([^<>\s@]+@[^<>\s]+?)\s*>")
_BARE = re.compile(r'(?:"[^"\r\n]{1,64}"|[^\s<>()\[\]",;:@]{1,64})@[A-Za-z0-9][A-Za-z0-9.-]{0,252}')
_HEADER_FACTORY = policy.default.header_factory
# Where a mail says who sent it, in order: without a From, the reply address, the
# Sender, then the envelope sender the delivering server wrote down.
SENDER_HEADERS = ("From", "Reply-To", "Sender", "Return-Path")


def _tidy(address: str) -> str:
    """An address as it can be matched: no surrounding blanks, no trailing dot."""
    local, _, domain = address.strip().rpartition("@")
    domain = domain.strip().rstrip(".")
    return f"{local.strip()}@{domain}" if local.strip() and domain else ""


def _spans(text: str) -> Iterable[tuple[int, int]]:
    """The spans of ``text`` between commas or semicolons outside quotes and ``<>``."""
    start, quoted, angle = 0, False, 0
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == "<" and not quoted:
            angle += 1
        elif char == ">" and not quoted:
            angle = max(0, angle - 1)
        elif char in ",;" and not quoted and not angle:
            yield start, index
            start = index + 1
    yield start, len(text)


def _lenient(text: str) -> list[tuple[str, str]]:
    """(display name, address) pairs found outside encoded words."""
    # Encoded words blanked out in place: positions stay those of ``text``.
    bare = _ENCODED_WORD.sub(lambda word: " " * len(word.group(0)), text)
    found = []
    for start, end in _spans(bare):
        piece = bare[start:end]
        angles = list(_ANGLE.finditer(piece))
        match = angles[-1] if angles else None  # the last <...> holds the address
        group = 1 if match is not None else 0
        if match is None:
            match = _BARE.search(piece)
        if match is None:
            continue
        address = _tidy(match.group(group))
        name = text[start : start + match.start()] or text[start + match.end() : end]
        name = header_text(name).strip(" \"'<>()")
        if address:
            found.append((name, address))
    return found


def addresses(msg: Message, name: str, charset: str | None = None) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header, however broken; the
    addresses as the header writes them (``charset``: the mail's, for 8-bit bytes)."""
    raw = raw_header(msg, name)
    if not raw.strip():
        return []
    text = unfold(raw, charset)
    written = _ENCODED_WORD.sub(" ", text).lower()
    try:
        header = _HEADER_FACTORY(name, text)
        found = [
            (header_text(item.display_name), _tidy(item.addr_spec))
            for item in getattr(header, "addresses", ())
            if item.addr_spec and "@" in item.addr_spec and item.addr_spec.lower() in written
        ]
        if found and all(address for _, address in found):
            return found
    except Exception:  # noqa: BLE001 - the lenient reading below takes over
        pass
    return _lenient(text)


def sender_of(
    msg: Message, charset: str | None = None, list_domains: Iterable[str] = ()
) -> tuple[str | None, str]:
    """(display name, address) of who wrote the mail; ("", "") when no header says.

    ``X-Original-Sender`` (a mailing list's member behind the list's From) is believed
    only when the From address is in one of ``list_domains`` (the mailbox's setting):
    anyone else could write it to pose as someone.
    """
    for header in SENDER_HEADERS:
        found = addresses(msg, header, charset)
        if found:
            name, address = found[0]
            break
    else:
        return None, ""
    domains = {d.strip().lower().lstrip("@") for d in list_domains if d and d.strip()}
    if header == "From" and address.rpartition("@")[2].lower() in domains:
        member = addresses(msg, "X-Original-Sender", charset)
        if member:
            return name or member[0][0] or None, member[0][1]
    return name or None, address
