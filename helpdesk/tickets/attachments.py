"""Attachment content on disk, addressed by its SHA-256 (the same file is kept once)."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from helpdesk.extensions import db

log = logging.getLogger(__name__)


def _path(sha256: str) -> Path:
    """Where the content with this hash lives."""
    return Path(current_app.config["ATTACHMENT_DIR"]) / sha256[:2] / sha256


def store(content: bytes) -> str:
    """Write ``content`` once under its hash; return the hash."""
    digest = hashlib.sha256(content).hexdigest()
    path = _path(digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(content)
        tmp.replace(path)  # atomic: a reader never sees half a file
    return digest


def path_of(sha256: str) -> Path:
    """Where the content with this hash is kept (to stream it)."""
    return _path(sha256)


def load(sha256: str) -> bytes:
    """Read stored content back."""
    return _path(sha256).read_bytes()


def delete_unreferenced(hashes: set[str]) -> None:
    """Remove stored files that no attachment refers to any more."""
    from helpdesk.tickets.models import Attachment

    if not hashes:
        return
    still = set(
        db.session.execute(select(Attachment.sha256).where(Attachment.sha256.in_(hashes))).scalars()
    )
    for digest in hashes - still:
        try:
            _path(digest).unlink()
        except FileNotFoundError:
            pass
