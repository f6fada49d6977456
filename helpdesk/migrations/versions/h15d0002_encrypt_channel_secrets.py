"""channel secrets encrypted at rest: seal every plaintext channels.secrets

Revision ID: h15d0002
Revises: h15d0001

Runs in the app (``helpdesk init``, ``flask db upgrade``): the key is the app's
HELPDESK_SECRETS_KEY. The column stays JSON; its value becomes ``{"fernet": TOKEN}``.
"""

import sqlalchemy as sa
from alembic import op
from flask import current_app

from helpdesk.channels.sealed import is_sealed, seal, unseal

revision = "h15d0002"
down_revision = "h15d0001"
branch_labels = None
depends_on = None

channels = sa.table("channels", sa.column("id", sa.Integer), sa.column("secrets", sa.JSON))


def _rewrite(change) -> None:
    connection = op.get_bind()
    keys = current_app.config["SECRETS_KEY"]
    for row in connection.execute(sa.select(channels.c.id, channels.c.secrets)).all():
        value = change(row.secrets, keys)
        if value is not None:
            connection.execute(
                channels.update().where(channels.c.id == row.id).values(secrets=value)
            )


def upgrade():
    _rewrite(lambda stored, keys: None if is_sealed(stored) else seal(stored or {}, keys))


def downgrade():
    _rewrite(lambda stored, keys: unseal(stored, keys) if is_sealed(stored) else None)
