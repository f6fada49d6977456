"""Channel secrets are encrypted at rest with a key outside the database."""

from __future__ import annotations

import json

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from helpdesk.channels import sealed
from helpdesk.channels.chat.services import _verified_email, create_chat_channel, identity_hash
from helpdesk.channels.email.mailboxes import add_mailbox, server
from helpdesk.channels.models import Channel
from helpdesk.extensions import db


def stored(channel_id: int) -> dict:
    """The secrets column as the database holds it."""
    raw = db.session.execute(
        text("SELECT secrets FROM channels WHERE id = :id"), {"id": channel_id}
    ).scalar_one()
    db.session.commit()
    return raw if isinstance(raw, dict) else json.loads(raw)


def test_mailbox_passwords_are_not_in_the_database(app):
    channel = add_mailbox(
        "Support",
        "imaps://support:imap-Pa55word@imap.example.com/INBOX",
        "smtp://support:smtp-Pa55word@smtp.example.com:587",
        "support@example.com",
    )
    db.session.commit()
    raw = stored(channel.id)
    assert set(raw) == {"fernet"}
    assert "Pa55word" not in json.dumps(raw)
    db.session.expire_all()
    channel = db.session.get(Channel, channel.id)
    assert server(channel, "imap").password == "imap-Pa55word"
    assert server(channel, "smtp").password == "smtp-Pa55word"
    with pytest.raises(sealed.SecretsKeyError):  # another key opens nothing
        sealed.unseal(raw, sealed.new_key())


def test_chat_identity_secret_is_encrypted_and_still_verifies(app):
    channel, secret = create_chat_channel("Shop chat", origins=["https://shop.example"])
    db.session.commit()
    assert secret not in json.dumps(stored(channel.id))
    db.session.expire_all()
    channel = db.session.get(Channel, channel.id)
    token = f"ada@example.com:{identity_hash(secret, 'ada@example.com')}"
    assert _verified_email(channel, token) == "ada@example.com"


def test_old_plaintext_rows_are_read_and_the_migration_encrypts_them(app):
    downgrade(revision="h15d0001")
    try:
        db.session.execute(
            text(
                "INSERT INTO channels (kind, name, address, active, settings, secrets, state, "
                "created_at) VALUES ('chat', 'Old', 'chat_old', :t, '{}', :s, '{}', "
                "CURRENT_TIMESTAMP)"
            ),
            {"t": True, "s": json.dumps({"identity_secret": "old-plain-secret"})},
        )
        db.session.commit()
        old = db.session.execute(select(Channel)).unique().scalar_one()
        assert old.secrets == {"identity_secret": "old-plain-secret"}  # plaintext still read
        db.session.rollback()
    finally:
        upgrade()
    db.session.expire_all()
    raw = stored(old.id)
    assert set(raw) == {"fernet"} and "old-plain-secret" not in json.dumps(raw)
    assert db.session.get(Channel, old.id).secrets == {"identity_secret": "old-plain-secret"}


# `helpdesk mailbox add` with URLs that carry no password, which comes on standard input.
MAILBOX_ADD_FROM_STDIN = [
    "mailbox",
    "add",
    "Support",
    "--imap-url",
    "imaps://support@imap.example.com/INBOX",
    "--smtp-url",
    "smtp://support@smtp.example.com:587",
    "--address",
    "support@example.com",
    "--no-check",
    "--password-stdin",
]


def test_mailbox_add_reads_the_password_from_stdin(app):
    result = app.test_cli_runner().invoke(
        args=MAILBOX_ADD_FROM_STDIN,
        input="s3cret pass\n",
    )
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    channel = db.session.execute(select(Channel)).unique().scalar_one()
    assert server(channel, "imap").password == "s3cret pass"
    assert server(channel, "smtp").password == "s3cret pass"
    assert "s3cret" not in json.dumps(stored(channel.id))


def test_mailbox_add_refuses_an_empty_password_on_stdin(app):
    result = app.test_cli_runner().invoke(
        args=MAILBOX_ADD_FROM_STDIN,
        input="",
    )
    assert result.exit_code != 0 and "stdin" in result.output
    assert db.session.execute(select(Channel)).first() is None
