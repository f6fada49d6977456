"""Reading mail headers and text in any state: RFC 2047, 8-bit bytes, wrong charsets.

Every function here takes what a broken mail gives and returns readable text;
none raises on bad input.

Who a mail is from and to: addresses read from the raw header, never from decoded text.

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

import codecs
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from typing import overload

_HEADERS_ONLY = BytesParser(policy=policy.default)
_MSGID = re.compile(r"<[^<>\s]{1,490}>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UTF7 = re.compile(r"\+[A-Za-z0-9/+]{3,}-?")
_SPACES = re.compile(r"[\r\n\t]+")
_FOLD = re.compile(r"\r?\n[ \t]*")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
# Labels mail programs put on charsets Python knows under another name (or supersets).
_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-2022-jp": "iso2022_jp_ext",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode-2-0-utf-7": "utf-7",
    "utf7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
    "unknown": "",
    "x-user-defined": "",
}


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Text from bytes in any charset: declared, UTF-8, a guess; never an exception."""
    label = (charset or "").strip().strip('"').lower()
    label = _ALIASES.get(label, label)
    try:
        declared = codecs.lookup(label).name if label else None
    except LookupError:
        declared = None
    # Valid UTF-8 is almost never meant as anything else; stateful encodings
    # (ISO-2022-JP, UTF-7) look like ASCII, so those go first.
    stateful = declared is not None and declared.startswith(
        ("utf-7", "utf-16", "utf-32", "iso2022", "hz")
    )
    if not stateful and data.isascii():
        return data.decode("ascii")
    order = [declared, "utf-8"] if stateful else ["utf-8", declared]
    for name in filter(None, order):
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    # Text without a single NUL byte is not UTF-16 or UTF-32, whatever a detector says.
    wide = best is not None and best.encoding.startswith(("utf_16", "utf_32"))
    if best is not None and best.encoding and not (wide and b"\x00" not in data):
        return data.decode(best.encoding, errors="replace")
    return data.decode("cp1252", errors="replace")


@overload
def clean_text(value: str) -> str: ...
@overload
def clean_text(value: None) -> None: ...
@overload
def clean_text(value: str | None) -> str | None: ...
def clean_text(value: str | None) -> str | None:
    """``value`` without lone surrogates (undecoded bytes the MIME parser left in)."""
    if not value:
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        if all(not "\ud800" <= ch <= "\udfff" or "\udc80" <= ch <= "\udcff" for ch in value):
            return decode_bytes(value.encode("utf-8", "surrogateescape"))
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _pairs(data: bytes) -> list[bytes]:
    """``data``'s 8-bit bytes as a two-byte charset would read them: each with the
    byte after it (a trail byte may be ASCII in Big5 and GBK)."""
    return re.findall(rb"[\x80-\xff][\x40-\x7e\x80-\xff]?", data)


def header_charset(data: bytes) -> str:
    """The charset 8-bit header bytes that declare none are most likely in.

    UTF-8 when they are valid UTF-8. GBK when every 8-bit byte pairs up as a GB 2312
    character (both bytes 0xA1 and up, most in the common first level); Latin-1
    letters stand alone between ASCII letters. Big5 when they pair up as Big5's
    frequent characters, most with a lead byte below 0xC0 (where Latin-1 has no
    letters). Else Windows-1252 (Latin-1).
    """
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    pairs = _pairs(data)
    runs = re.findall(rb"[\x80-\xff]+", data)
    if pairs and all(len(run) % 2 == 0 for run in runs):
        common = sum(0xA1 <= p[0] <= 0xD7 and p[1] >= 0xA1 for p in pairs if len(p) == 2)
        if common >= 0.9 * len(pairs) and all(len(p) == 2 and p[1] >= 0xA1 for p in pairs):
            try:
                return data.decode("gb18030") and "gb18030"
            except UnicodeDecodeError:
                pass
    if pairs and all(len(p) == 2 for p in pairs):
        frequent = sum(0xA1 <= p[0] <= 0xC6 for p in pairs)
        below_letters = sum(p[0] < 0xC0 for p in pairs)
        if frequent >= 0.8 * len(pairs) and below_letters >= 0.5 * len(pairs):
            try:
                return data.decode("big5") and "big5"
            except UnicodeDecodeError:
                pass
    return "cp1252"


def decode_header_bytes(data: bytes, charset: str | None = None) -> str:
    """8-bit header bytes as text: in ``charset`` (the mail's declared one) when they
    read as it, else in the charset they look like (``header_charset``)."""
    label = _ALIASES.get((charset or "").lower(), (charset or "").lower())
    if label and label not in ("cp1252", "ascii") and not label.startswith("utf-7"):
        try:
            data.decode("utf-8")
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        try:
            return data.decode(label)
        except (UnicodeDecodeError, LookupError):
            pass
    return data.decode(header_charset(data), errors="replace")


def unfold(value: str | None, charset: str | None = None) -> str:
    """A raw header value on one line with its 8-bit bytes decoded; encoded words kept."""
    value = _FOLD.sub(" ", str(value or ""))
    if any("\udc80" <= ch <= "\udcff" for ch in value):  # undecoded 8-bit bytes
        value = decode_header_bytes(value.encode("ascii", "surrogateescape"), charset)
    return value


def _utf7(value: str) -> str:
    """``value`` read as UTF-7 when it is written so (a header some mail programs send
    without an encoded word), else as it is."""
    try:
        text = value.encode("ascii").decode("utf-7")
    except (UnicodeError, ValueError):
        return value
    odd = [ch for ch in text if not ch.isascii() and unicodedata.category(ch)[0] not in "LNPZ"]
    return text if text != value and not odd and not text.isascii() else value


def header_text(value: str | None, charset: str | None = None) -> str:
    """A raw header value as readable text: unfolded, RFC 2047 and 8-bit decoded
    (``charset``: the one the mail declares for its text, tried for 8-bit bytes)."""
    if not value:
        return ""
    value = unfold(value, charset)
    if "=?" not in value and _UTF7.search(value):
        value = _utf7(value)
    if "=?" in value:
        try:
            value = "".join(
                chunk
                if isinstance(chunk, str)
                # unencoded text between encoded words comes back as raw-unicode-escape
                else chunk.decode("raw-unicode-escape")
                if declared is None
                else decode_bytes(chunk, declared)
                for chunk, declared in decode_header(value)
            )
        except Exception:  # noqa: BLE001 - a broken encoded word stays as it was written
            pass
    return _SPACES.sub(" ", _CONTROL.sub("", value)).strip()


def raw_header(msg: Message, name: str) -> str:
    """The first ``name`` header as written, without the policy's parsing."""
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return str(value)
    return ""


def message_ids(value: str) -> list[str]:
    """The ``<id>`` tokens of a Message-ID, In-Reply-To or References value."""
    return _MSGID.findall(_FOLD.sub(" ", value or ""))


def header_digest_id(raw_headers: bytes) -> str:
    """A stable stand-in Message-ID for a mail without one: a hash of its header block."""
    block = _HEADER_END.split(raw_headers, 1)[0].replace(b"\r\n", b"\n").strip()
    return f"<{hashlib.sha256(block).hexdigest()[:40]}@no-message-id.invalid>"


def message_key(msg: Message, raw: bytes) -> tuple[str, bool]:
    """The id that makes a mail unique: its Message-ID, or a digest of its headers."""
    found = message_ids(raw_header(msg, "Message-ID"))
    if found:
        return found[0], False
    return header_digest_id(raw), True


def key_of_headers(raw_headers: bytes) -> str:
    """``message_key`` from a header block alone (an IMAP ``BODY.PEEK[HEADER]``)."""
    return message_key(_HEADERS_ONLY.parsebytes(raw_headers, headersonly=True), raw_headers)[0]


_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)
_NAME_PARAM = re.compile(r"(^|;)\s*name\*?\s*=", re.IGNORECASE)


def content_type(part: Message) -> str:
    """The part's MIME type from its raw header (the policy's parser is slow and strict)."""
    kind = raw_header(part, "Content-Type").split(";", 1)[0].strip().lower()
    return kind if kind.count("/") == 1 else part.get_default_type()


def content_charset(part: Message) -> str | None:
    """The charset parameter of the part's Content-Type, if any."""
    found = _CHARSET.search(raw_header(part, "Content-Type"))
    return found.group(1) if found else None


def is_attachment(part: Message) -> bool:
    """Whether the sender meant the part as a file rather than as text to read."""
    disposition = raw_header(part, "Content-Disposition").lower()
    return (
        disposition.strip().startswith("attachment")
        or "filename" in disposition
        or bool(_NAME_PARAM.search(raw_header(part, "Content-Type")))
    )


# --- addresses ------------------------------------------------------------------

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
