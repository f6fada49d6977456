"""Files an agent or a chat visitor sends with a message: checked (size, type for
visitors, the optional virus scan), stored once under their hash and attached.

Limits (docs/product.md): ``HELPDESK_UPLOAD_MAX_BYTES`` for agents' files,
``HELPDESK_CHAT_UPLOAD_MAX_BYTES`` and ``HELPDESK_CHAT_UPLOAD_TYPES`` for visitors';
``HELPDESK_CLAMAV_SOCKET`` (a clamd socket, ``/path`` or ``host:port``) scans each file
before it is stored."""

from __future__ import annotations

import logging
import mimetypes
import re
import socket
import struct
import unicodedata
from dataclasses import dataclass

from flask import current_app, request

from helpdesk.errors import Invalid
from helpdesk.tickets import attachments
from helpdesk.tickets.models import Attachment, Message

log = logging.getLogger(__name__)
MAX_FILES = 10
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')
# What a raster image starts with: only these are ever shown inline.
RASTER_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}


@dataclass
class Upload:
    """One file as it arrived: its name, claimed type and content."""

    filename: str
    content_type: str
    content: bytes


def from_request() -> list[Upload]:
    """The files of a multipart request (field ``files``), unchecked."""
    if request.mimetype != "multipart/form-data":
        return []
    found = request.files.getlist("files")
    if len(found) > MAX_FILES:
        raise Invalid(f"at most {MAX_FILES} files at once", fields={"files": "too many"})
    return [
        Upload(item.filename or "attachment", item.mimetype or "", item.read())
        for item in found
        if item.filename or item.content_length
    ]


def safe_filename(name: str | None) -> str:
    """A file name without a path, control characters or quotes, at most 200 characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" ._") or "attachment"
    stem, dot, ext = name.rpartition(".")
    if dot and len(ext) <= 10:
        return stem[: 200 - len(ext) - 1] + "." + ext
    return name[:200]


def content_type_of(filename: str, claimed: str | None) -> str:
    """The file's media type: the one claimed when it looks like one, else by its name."""
    claimed = (claimed or "").split(";")[0].strip().lower()
    if (
        re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", claimed)
        and claimed != "application/octet-stream"
    ):
        return claimed
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def is_raster(content_type: str, head: bytes) -> bool:
    """Whether the content is a raster image of its type (the type alone is not trusted)."""
    magic = RASTER_MAGIC.get(content_type)
    if magic is None or not any(head.startswith(m) for m in magic):
        return False
    return content_type != "image/webp" or head[8:12] == b"WEBP"


def check(files: list[Upload], visitor: bool = False) -> list[Upload]:
    """Refuse what is too large, too many, of a type visitors may not send, or infected
    (422, naming the file); the files with safe names and types otherwise."""
    config = current_app.config
    limit = config["CHAT_UPLOAD_MAX_BYTES" if visitor else "UPLOAD_MAX_BYTES"]
    if len(files) > MAX_FILES:
        raise Invalid(f"at most {MAX_FILES} files at once", fields={"files": "too many"})
    checked = []
    for item in files:
        name = safe_filename(item.filename)
        kind = content_type_of(name, item.content_type)
        if not item.content:
            raise Invalid(f"{name} is empty", fields={"files": "empty file"})
        if len(item.content) > limit:
            raise Invalid(
                f"{name} is larger than {limit // 1024} KiB", fields={"files": "too large"}
            )
        if visitor and kind not in config["CHAT_UPLOAD_TYPES"]:
            raise Invalid(f"files of type {kind} cannot be sent here", fields={"files": "type"})
        infected = scan(item.content)
        if infected:
            log.warning("upload %s refused: %s", name, infected)
            raise Invalid(f"{name} contains a virus ({infected})", fields={"files": "virus"})
        checked.append(Upload(name, kind, item.content))
    return checked


def attach(message: Message, files: list[Upload]) -> None:
    """Store each (checked) file once under its hash and attach it to ``message``."""
    for item in files:
        message.attachments.append(
            Attachment(
                filename=item.filename[:255],
                content_type=item.content_type[:255],
                size=len(item.content),
                sha256=attachments.store(item.content),
            )
        )


def copy(source: list[Attachment], message: Message) -> None:
    """Attach the stored files of ``source`` to ``message`` too (the content is shared)."""
    for item in source:
        if item.sha256:
            message.attachments.append(
                Attachment(
                    filename=item.filename,
                    content_type=item.content_type,
                    size=item.size,
                    sha256=item.sha256,
                )
            )


def scan(content: bytes) -> str | None:
    """The virus clamd finds in ``content`` (INSTREAM), or None; without
    ``CLAMAV_SOCKET`` nothing is scanned. A clamd that cannot be reached refuses the file."""
    where = current_app.config.get("CLAMAV_SOCKET")
    if not where:
        return None
    try:
        if where.startswith("/"):
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.settimeout(30)
            conn.connect(where)
        else:
            host, _, port = where.rpartition(":")
            conn = socket.create_connection((host, int(port)), timeout=30)
        with conn:
            conn.sendall(b"zINSTREAM\0")
            for start in range(0, len(content), 65536):
                chunk = content[start : start + 65536]
                conn.sendall(struct.pack("!L", len(chunk)) + chunk)
            conn.sendall(struct.pack("!L", 0))
            answer = b""
            while not answer.endswith(b"\0"):
                part = conn.recv(4096)
                if not part:
                    break
                answer += part
    except OSError as exc:
        log.error("virus scanner at %s unreachable: %s", where, exc)
        return "the virus scanner is unreachable"
    text = answer.rstrip(b"\0").decode("utf-8", "replace")
    if text.endswith("FOUND"):
        return text.rsplit(":", 1)[-1].removesuffix("FOUND").strip() or "found"
    return None if text.endswith("OK") else f"scanner answered {text[:100]}"
