"""Reading mail headers and text in any state: RFC 2047, 8-bit bytes, wrong charsets.

Every function here takes what a broken mail gives and returns readable text;
none raises on bad input.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any, overload

_HEADERS_ONLY = BytesParser(policy=policy.default)
_MSGID = re.compile(r"<[^<>\s]{1,490}>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
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
    if best is not None and best.encoding:
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


def header_text(value: str | None) -> str:
    """A raw header value as readable text: unfolded, RFC 2047 and 8-bit decoded."""
    if not value:
        return ""
    value = _FOLD.sub(" ", str(value))
    if any("\udc80" <= ch <= "\udcff" for ch in value):  # undecoded 8-bit bytes
        value = decode_bytes(value.encode("ascii", "surrogateescape"))
    if "=?" in value:
        try:
            value = "".join(
                chunk if isinstance(chunk, str) else decode_bytes(chunk, charset)
                for chunk, charset in decode_header(value)
            )
        except Exception:  # noqa: BLE001 - a broken encoded word stays as it was written
            pass
    return _CONTROL.sub("", value).strip()


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


def addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header, however broken."""
    raw = raw_header(msg, name)
    if not raw:
        return []
    try:
        header: Any = msg[name]  # the policy's header object: addresses parsed
        found = [(header_text(a.display_name), a.addr_spec) for a in header.addresses]
        if any(addr and "@" in addr for _, addr in found):
            return [(n, a) for n, a in found if a and a != "<>"]
    except Exception:  # noqa: BLE001 - fall back to the lenient parser below
        pass
    return [(header_text(n), a) for n, a in getaddresses([header_text(raw)]) if a]


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
