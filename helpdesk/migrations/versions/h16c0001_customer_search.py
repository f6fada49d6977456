"""finding customers: full-text search kept by triggers (PostgreSQL tsvector + GIN,
SQLite FTS5), indexes for the list's filters and sorts

Revision ID: h16c0001
Revises: h16f0001

The rule (helpdesk/customers/finder/fulltext.py): words are runs of letters and digits,
case and accents folded the same way on both databases. A later SQLite batch migration
that rebuilds ``customers`` drops its triggers: run ``sqlite_triggers()`` again after it.
"""

from alembic import op

revision = "h16c0001"
down_revision = "h16f0001"
branch_labels = None
depends_on = None

# What the search reads of a customer; a change to one of these columns re-indexes it.
OWN_COLUMNS = "name, organization_id, street, postcode, city, country, custom_fields"
# Letters without an accent that unaccent still folds (fulltext.EXTRA): SQLite's
# tokenizer does not, so its documents spell them out first.
EXTRA = {
    "ß": "ss",
    "ẞ": "ss",
    "æ": "ae",
    "Æ": "ae",
    "ø": "o",
    "Ø": "o",
    "œ": "oe",
    "Œ": "oe",
    "ł": "l",
    "Ł": "l",
    "đ": "d",
    "Đ": "d",
    "ð": "d",
    "Ð": "d",
    "þ": "th",
    "Þ": "th",
    "ı": "i",
}

PG_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION helpdesk_fold(t text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT regexp_replace(lower(unaccent(coalesce(t, ''))), '[^[:alnum:]]+', ' ', 'g')
$$;

CREATE OR REPLACE FUNCTION customer_search_vector(c customers) RETURNS tsvector
LANGUAGE sql STABLE AS $$
  SELECT
    setweight(to_tsvector('simple', helpdesk_fold(c.name)), 'A')
    || setweight(to_tsvector('simple', helpdesk_fold(concat_ws(' ',
         (SELECT string_agg(i.value, ' ') FROM identities i
           WHERE i.customer_id = c.id AND i.kind <> 'chat'),
         (SELECT o.name FROM organizations o WHERE o.id = c.organization_id)))), 'B')
    || setweight(to_tsvector('simple', helpdesk_fold(concat_ws(' ',
         c.street, c.postcode, c.city, c.country,
         (SELECT string_agg(e.value #>> '{}', ' ')
            FROM jsonb_each(CASE WHEN jsonb_typeof(c.custom_fields) = 'object'
                                 THEN c.custom_fields ELSE '{}'::jsonb END) e
           WHERE jsonb_typeof(e.value) = 'string')))), 'C')
    || setweight(to_tsvector('simple', helpdesk_fold(
         (SELECT string_agg(n.body, ' ') FROM notes n WHERE n.customer_id = c.id))), 'D')
$$;

CREATE OR REPLACE FUNCTION customers_search_own() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.search_vector := customer_search_vector(NEW);
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION customers_search_related() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    UPDATE customers c SET search_vector = customer_search_vector(c) WHERE c.id = OLD.customer_id;
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.customer_id <> OLD.customer_id) THEN
    UPDATE customers c SET search_vector = customer_search_vector(c) WHERE c.id = NEW.customer_id;
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION customers_search_organization() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE customers c SET search_vector = customer_search_vector(c)
   WHERE c.organization_id = NEW.id;
  RETURN NULL;
END $$;
"""

# Every customer's vector at once, by joins rather than a function call per row: the
# same document as customer_search_vector (after a bulk load with the triggers off).
PG_REBUILD = r"""
UPDATE customers c SET search_vector =
    setweight(to_tsvector('simple', helpdesk_fold(c.name)), 'A')
    || setweight(to_tsvector('simple', helpdesk_fold(concat_ws(' ', i.text, o.name))), 'B')
    || setweight(to_tsvector('simple', helpdesk_fold(concat_ws(' ',
         c.street, c.postcode, c.city, c.country,
         (SELECT string_agg(e.value #>> '{}', ' ')
            FROM jsonb_each(CASE WHEN jsonb_typeof(c.custom_fields) = 'object'
                                 THEN c.custom_fields ELSE '{}'::jsonb END) e
           WHERE jsonb_typeof(e.value) = 'string')))), 'C')
    || setweight(to_tsvector('simple', helpdesk_fold(n.text)), 'D')
FROM customers base
LEFT JOIN (SELECT customer_id, string_agg(value, ' ') AS text FROM identities
            WHERE kind <> 'chat' GROUP BY customer_id) i ON i.customer_id = base.id
LEFT JOIN organizations o ON o.id = base.organization_id
LEFT JOIN (SELECT customer_id, string_agg(body, ' ') AS text FROM notes
            GROUP BY customer_id) n ON n.customer_id = base.id
WHERE c.id = base.id
"""

PG_TRIGGERS = f"""
CREATE TRIGGER customers_search BEFORE INSERT OR UPDATE OF {OWN_COLUMNS} ON customers
  FOR EACH ROW EXECUTE FUNCTION customers_search_own();
CREATE TRIGGER identities_search AFTER INSERT OR UPDATE OF value, kind, customer_id OR DELETE
  ON identities FOR EACH ROW EXECUTE FUNCTION customers_search_related();
CREATE TRIGGER notes_search AFTER INSERT OR UPDATE OF body, customer_id OR DELETE ON notes
  FOR EACH ROW EXECUTE FUNCTION customers_search_related();
CREATE TRIGGER organizations_search AFTER UPDATE OF name ON organizations
  FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
  EXECUTE FUNCTION customers_search_organization();
"""


def _sqlite_fold(expression: str) -> str:
    """``expression`` with the letters of EXTRA spelt out (the tokenizer folds the rest)."""
    for letter, plain in EXTRA.items():
        expression = f"replace({expression}, '{letter}', '{plain}')"
    return expression


SQLITE_DOCUMENT = """
INSERT INTO customers_fts(rowid, name, body)
SELECT c.id, {name}, {body} FROM customers c WHERE {where};
""".format(
    name=_sqlite_fold("coalesce(c.name, '')"),
    body=_sqlite_fold(
        " || ' ' || ".join(
            f"coalesce({part}, '')"
            for part in (
                "(SELECT group_concat(i.value, ' ') FROM identities i"
                " WHERE i.customer_id = c.id AND i.kind <> 'chat')",
                "(SELECT o.name FROM organizations o WHERE o.id = c.organization_id)",
                "c.street",
                "c.postcode",
                "c.city",
                "c.country",
                "(SELECT group_concat(e.value, ' ') FROM json_each(c.custom_fields) e"
                " WHERE e.type = 'text')",
                "(SELECT group_concat(n.body, ' ') FROM notes n WHERE n.customer_id = c.id)",
            )
        )
    ),
    where="{where}",
)


def _reindex(where: str) -> str:
    """Statements that write the FTS rows of the customers ``where`` selects afresh."""
    ids = f"SELECT c.id FROM customers c WHERE {where}"
    return f"DELETE FROM customers_fts WHERE rowid IN ({ids});" + SQLITE_DOCUMENT.format(
        where=where
    )


def sqlite_triggers() -> list[str]:
    """The SQLite triggers that keep ``customers_fts`` current (idempotent)."""
    related = {
        "identities": "value, kind, customer_id",
        "notes": "body, customer_id",
    }
    statements = [
        "CREATE TRIGGER IF NOT EXISTS customers_search_insert AFTER INSERT ON customers "
        f"BEGIN {_reindex('c.id = new.id')} END",
        f"CREATE TRIGGER IF NOT EXISTS customers_search_update AFTER UPDATE OF {OWN_COLUMNS} "
        f"ON customers BEGIN {_reindex('c.id = new.id')} END",
        "CREATE TRIGGER IF NOT EXISTS customers_search_delete AFTER DELETE ON customers "
        "BEGIN DELETE FROM customers_fts WHERE rowid = old.id; END",
        "CREATE TRIGGER IF NOT EXISTS organizations_search AFTER UPDATE OF name "
        f"ON organizations BEGIN {_reindex('c.organization_id = new.id')} END",
    ]
    for name, columns in related.items():
        statements += [
            f"CREATE TRIGGER IF NOT EXISTS {name}_search_insert AFTER INSERT ON {name} "
            f"BEGIN {_reindex('c.id = new.customer_id')} END",
            f"CREATE TRIGGER IF NOT EXISTS {name}_search_update AFTER UPDATE OF {columns} "
            f"ON {name} BEGIN {_reindex('c.id IN (old.customer_id, new.customer_id)')} END",
            f"CREATE TRIGGER IF NOT EXISTS {name}_search_delete AFTER DELETE ON {name} "
            f"BEGIN {_reindex('c.id = old.customer_id')} END",
        ]
    return statements


SQLITE_TRIGGER_NAMES = (
    "customers_search_insert",
    "customers_search_update",
    "customers_search_delete",
    "organizations_search",
    "identities_search_insert",
    "identities_search_update",
    "identities_search_delete",
    "notes_search_insert",
    "notes_search_update",
    "notes_search_delete",
)


def upgrade():
    with op.batch_alter_table("customers") as batch:
        batch.create_index("ix_customers_created_at", ["created_at"])
        batch.create_index("ix_customers_last_contact_at", ["last_contact_at"])
        batch.create_index("ix_customers_language", ["language"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        # jsonb: filtered by containment (@>) through GIN indexes, without parsing each row
        for column in ("tags", "custom_fields"):
            op.execute(
                f"ALTER TABLE customers ALTER COLUMN {column} TYPE jsonb USING {column}::jsonb"
            )
        op.execute("ALTER TABLE customers ADD COLUMN search_vector tsvector")
        op.execute(PG_FUNCTIONS)
        op.execute(PG_TRIGGERS)
        op.execute(PG_REBUILD)
        op.execute("CREATE INDEX ix_customers_search ON customers USING gin (search_vector)")
        op.execute("CREATE INDEX ix_customers_tags ON customers USING gin (tags)")
        op.execute(
            "CREATE INDEX ix_customers_custom_fields ON customers "
            "USING gin (custom_fields jsonb_path_ops)"
        )
        op.execute(
            "CREATE INDEX ix_customers_last_contact_desc "
            "ON customers (last_contact_at DESC NULLS LAST, id DESC)"
        )
        return
    op.execute(
        "CREATE VIRTUAL TABLE customers_fts USING fts5("
        "name, body, "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    for statement in sqlite_triggers():
        op.execute(statement)
    op.execute(SQLITE_DOCUMENT.format(where="1 = 1"))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in ("ix_customers_last_contact_desc", "ix_customers_custom_fields"):
            op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute("DROP INDEX IF EXISTS ix_customers_tags")
        op.execute("DROP TRIGGER IF EXISTS customers_search ON customers")
        op.execute("DROP TRIGGER IF EXISTS identities_search ON identities")
        op.execute("DROP TRIGGER IF EXISTS notes_search ON notes")
        op.execute("DROP TRIGGER IF EXISTS organizations_search ON organizations")
        for function in (
            "customers_search_own()",
            "customers_search_related()",
            "customers_search_organization()",
            "customer_search_vector(customers)",
            "helpdesk_fold(text)",
        ):
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
        op.execute("ALTER TABLE customers DROP COLUMN search_vector")
        for column in ("tags", "custom_fields"):
            op.execute(f"ALTER TABLE customers ALTER COLUMN {column} TYPE json USING {column}::json")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS customers_fts")
    with op.batch_alter_table("customers") as batch:
        batch.drop_index("ix_customers_language")
        batch.drop_index("ix_customers_last_contact_at")
        batch.drop_index("ix_customers_created_at")
