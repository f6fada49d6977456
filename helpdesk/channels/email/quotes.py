"""Separating what a customer wrote from the quoted history below it, for display.

Line based and linear (no regular expression can backtrack across lines), so
a 1 MB quote or a hostile body still splits in milliseconds. The full text is
always kept; this only decides which part an agent sees first. When replies
are written between quoted lines (inline or bottom posting) nothing is hidden.
"""

from __future__ import annotations

import re

_QUOTED = re.compile(r"^\s{0,3}>")
# "On <date>, <person> wrote:" in the languages customers write in most.
_ATTRIBUTION = re.compile(
    r"^\s{0,3}[>*\s]*(on|am|le|el|il|op|w dniu|em|den|dne|på|в|el día|il giorno)\b.{0,400}"
    r"(wrote|writes|schrieb|a écrit|escribió|ha scritto|schreef|pisze|escreveu|skrev|"
    r"napsal|kirjoitti|написал|написала|yazdı)\s*:?\s*$",
    re.IGNORECASE,
)
_KEYWORD_START = re.compile(r"^\s*(on|am|le|el|il|op|w dniu|em|den|dne|på|\d)", re.IGNORECASE)
_SEPARATOR = re.compile(
    r"^\s*[>*\s]*(-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|"
    r"mensaje original|messaggio originale|oorspronkelijk bericht|oprindelig meddelelse|"
    r"originalmeddelande|alkuperäinen viesti|původní zpráva|wiadomość oryginalna|"
    r"исходное сообщение)\s*-{2,}|_{20,}|-{20,})\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(
    r"^\s*[*]?(from|von|de|van|da|från|fra|od|от)\s*:[*]?(\s*\S|\s*$)", re.IGNORECASE
)
_HEADER_OTHER = re.compile(
    r"^\s*[*]?(sent|date|gesendet|datum|envoyé|enviado|inviato|"
    r"verzonden|skickat|sendt|wysłano|отправлено|to|an|à|para|a|aan|"
    r"till|til|do|кому|subject|betreff|objet|asunto|oggetto|"
    r"onderwerp|ämne|emne|temat|тема)\s*:",
    re.IGNORECASE,
)
# A time and an address on a line ending in ':' (mail.ru, Yandex and other webmails).
_DATED_SENDER = re.compile(r"\b\d{1,2}:\d{2}\b.{0,200}@[^\s>]{1,100}>?\s*:\s*$")
MAX_LINE = 2000  # longer lines are content, not attribution lines; also bounds the regexes


def _is_header_block(lines: list[str], index: int) -> bool:
    """An Outlook-style 'From: / Sent: / To: / Subject:' block starts at ``index``."""
    first = lines[index][:MAX_LINE]
    if not (_HEADER_FROM.match(first) or _HEADER_OTHER.match(first)):
        return False
    block = [line[:MAX_LINE] for line in lines[index : index + 10] if line.strip()][:6]
    senders = sum(1 for line in block if _HEADER_FROM.match(line))
    others = sum(1 for line in block if _HEADER_OTHER.match(line))
    return senders >= 1 and senders + others >= 3


def _next_filled(lines: list[str], index: int) -> int | None:
    """The index of the first non-blank line from ``index`` on."""
    for position in range(index, min(len(lines), index + 5)):
        if lines[position].strip():
            return position
    return None


def _attribution_start(lines: list[str], end: int) -> int:
    """Where an attribution ending at ``end`` begins (it may be wrapped over lines)."""
    start = end
    if _KEYWORD_START.match(lines[end]):
        return start
    while start > 0 and end - start < 2:
        above = lines[start - 1]
        if (
            not above.strip()
            or above.rstrip().endswith((".", "!", "?"))
            or not re.search(r"\d|@", above[:MAX_LINE])
        ):
            break
        start -= 1
    return start


def _first_quote(lines: list[str]) -> tuple[int, str] | None:
    """The first line of quoted history and how it was recognised."""
    for index, line in enumerate(lines):
        short = line[:MAX_LINE]
        if _QUOTED.match(short):
            return index, "quoted"
        if _SEPARATOR.match(short) or _is_header_block(lines, index):
            return index, "separator"
        if len(line) <= MAX_LINE and _ATTRIBUTION.match(line):
            return index, "attribution"
        if (
            index + 1 < len(lines)
            and len(line) < 400
            and len(lines[index + 1]) < 400
            and _KEYWORD_START.match(line)
            and _ATTRIBUTION.match(f"{line} {lines[index + 1]}")
        ):
            return index, "attribution"  # "On <date>, <name>" wrapped before "wrote:"
        if short.rstrip().endswith(":") and len(line) < 400:
            if _DATED_SENDER.search(line):  # "<date> <time>, Name <a@b>:" without quote marks
                return index, "attribution"
            following = _next_filled(lines, index + 1)
            if following is not None and _QUOTED.match(lines[following][:MAX_LINE]):
                return _attribution_start(lines, index), "attribution"
    return None


def _has_inline_replies(lines: list[str], start: int) -> bool:
    """Whether unquoted text follows quoted lines after ``start`` (inline or bottom post)."""
    seen_quote = False
    for line in lines[start:]:
        short = line[:MAX_LINE]
        if short.rstrip() == "--":  # a signature below the quote is no reply
            return False
        if _QUOTED.match(short):
            seen_quote = True
        elif seen_quote and line.strip():
            return True
    return False


def split_reply(text: str) -> str:
    """The part of ``text`` the customer just wrote, without the quoted history."""
    text = (text or "").replace("\r\n", "\n")
    lines = text.split("\n")
    found = _first_quote(lines)
    if found is None:
        return text.strip()
    index, kind = found
    if kind != "separator":
        quote_from = index if kind == "quoted" else (_next_filled(lines, index + 1) or index)
        if _has_inline_replies(lines, quote_from):
            if not "\n".join(lines[:index]).strip():
                # Bottom posting: the quote first, the answer under its last line.
                last = max(i for i, line in enumerate(lines) if _QUOTED.match(line[:MAX_LINE]))
                return "\n".join(lines[last + 1 :]).strip() or text.strip()
            return text.strip()
    reply = "\n".join(lines[:index]).strip()
    return reply or text.strip()
