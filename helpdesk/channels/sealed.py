"""Channel secrets (mailbox passwords, chat identity secrets) encrypted at rest.

``Channel.secrets`` is stored as ``{"fernet": TOKEN}``: the JSON of the secrets encrypted
with Fernet (AES-128-CBC and HMAC-SHA256, from ``cryptography``) under
``HELPDESK_SECRETS_KEY``, a key kept outside the database (generated once into
``instance/secrets_key`` when unset). Several keys, comma-separated, rotate: the first
encrypts, any decrypts. A row written before encryption (plain JSON) is still read; the
migration ``h15d0002`` encrypts those, and every write seals.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import JSON, TypeDecorator
from sqlalchemy.engine import Dialect

SEALED = "fernet"


class SecretsKeyError(RuntimeError):
    """Stored secrets cannot be decrypted: HELPDESK_SECRETS_KEY is not their key."""


def new_key() -> str:
    """A fresh key for HELPDESK_SECRETS_KEY."""
    return Fernet.generate_key().decode("ascii")


def _box(keys: str | None = None) -> MultiFernet:
    """The Fernet keys configured (``SECRETS_KEY``), the first one encrypting."""
    configured = keys if keys is not None else current_app.config["SECRETS_KEY"]
    try:
        return MultiFernet([Fernet(k.strip()) for k in configured.split(",") if k.strip()])
    except (ValueError, TypeError) as exc:
        raise SecretsKeyError(
            "HELPDESK_SECRETS_KEY must be one or more Fernet keys (32 url-safe base64 bytes), "
            "comma-separated"
        ) from exc


def is_sealed(value: Any) -> bool:
    """Whether a stored value is encrypted secrets (not an old plaintext row)."""
    return isinstance(value, dict) and set(value) == {SEALED} and isinstance(value[SEALED], str)


def seal(secrets: dict, keys: str | None = None) -> dict:
    """``secrets`` as stored: encrypted under the first key."""
    token = _box(keys).encrypt(json.dumps(secrets, sort_keys=True).encode())
    return {SEALED: token.decode("ascii")}


def unseal(stored: Any, keys: str | None = None) -> dict:
    """The secrets of a stored value; an old plaintext row as it is."""
    if not is_sealed(stored):
        return dict(stored or {})
    try:
        value: dict = json.loads(_box(keys).decrypt(stored[SEALED].encode()))
    except InvalidToken as exc:
        raise SecretsKeyError(
            "channel secrets cannot be decrypted: HELPDESK_SECRETS_KEY is not the key they "
            "were encrypted with"
        ) from exc
    return value


class SealedJSON(TypeDecorator[dict]):
    """A JSON column whose dict is stored encrypted (see the module)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: dict | None, dialect: Dialect) -> dict | None:
        """Encrypt before storing."""
        return None if value is None else seal(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> dict | None:
        """Decrypt what was read (plaintext rows pass through)."""
        return None if value is None else unseal(value)
