"""Full-text directory search (issue 24): an index of every service's text, kept in step by triggers.

Reviewed by hand. The index covers what the directory's search read before (ILIKE over five columns): the
service's name and description, its agency's name and description, and its service type's name. Triggers in the
database keep it in step with every INSERT, UPDATE and DELETE of a service, every edit of an agency's name or
description and every rename of a service type — whoever writes them (the forms, the HSDS import, a bulk INSERT,
psql). The upgrade fills it for the rows already there; the downgrade drops it.

- SQLite: an FTS5 table `service_fts` (rowid = service.id, five columns), tokenizer
  `porter unicode61 remove_diacritics 2` (case and accents folded, Porter stems), and triggers on service,
  agency and service_type. Deleting an agency deletes its services (ON DELETE CASCADE), whose trigger removes
  their rows.
- PostgreSQL: `service_search (service_id → service ON DELETE CASCADE, document tsvector)` with a GIN index,
  filled by `csrn_service_document()` and maintained by trigger functions. The text search configuration
  `csrn_search` is English without stop words (as SQLite's FTS5 has none), accents removed by the `unaccent`
  dictionary: `CREATE EXTENSION IF NOT EXISTS unaccent` needs a role allowed to create it (it is a trusted
  extension from PostgreSQL 13: a database owner may), or a DBA creates it beforehand (README). ASCII punctuation
  is turned into spaces before parsing, so "trauma-informed", "o'neil", "3.5" or a web address are split into
  words as SQLite's tokenizer splits them; the fields are a gap apart, so a phrase never spans two of them.

Alembic's autogenerate ignores these tables (csrn.directory.fulltext.include_object). A later SQLite batch
migration that rebuilds service, agency or service_type drops that table's triggers with it: such a migration
must create them again (`_sqlite_triggers` here is what to copy) — tests/test_directory_fulltext.py checks every
trigger is there at the head.

Revision ID: 0034_directory_fulltext
Revises: 0033_hsds_import
Create Date: 2026-12-06 12:10:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0034_directory_fulltext'
down_revision = '0033_hsds_import'
branch_labels = None
depends_on = None


# ----- SQLite -------------------------------------------------------------------------------------

SQLITE_COLUMNS = "service_name, agency_name, type_name, service_description, agency_description"

SQLITE_ROWS = (
    "SELECT s.id, s.name, a.name, t.name, s.description, a.description "
    "FROM service s JOIN agency a ON a.id = s.agency_id JOIN service_type t ON t.id = s.service_type_id"
)


def _sqlite_triggers() -> list[str]:
    # Only this module's constants go into the statements.
    insert = f"INSERT INTO service_fts (rowid, {SQLITE_COLUMNS}) {SQLITE_ROWS}"
    return [
        f"""CREATE TRIGGER service_fts_insert AFTER INSERT ON service BEGIN
            {insert} WHERE s.id = NEW.id;
        END""",
        f"""CREATE TRIGGER service_fts_update AFTER UPDATE OF id, name, description, agency_id, service_type_id
            ON service BEGIN
            DELETE FROM service_fts WHERE rowid = OLD.id;
            {insert} WHERE s.id = NEW.id;
        END""",  # noqa: S608 - constants only
        """CREATE TRIGGER service_fts_delete AFTER DELETE ON service BEGIN
            DELETE FROM service_fts WHERE rowid = OLD.id;
        END""",
        """CREATE TRIGGER agency_fts_update AFTER UPDATE OF name, description ON agency BEGIN
            UPDATE service_fts SET agency_name = NEW.name, agency_description = NEW.description
            WHERE rowid IN (SELECT id FROM service WHERE agency_id = NEW.id);
        END""",
        """CREATE TRIGGER service_type_fts_update AFTER UPDATE OF name ON service_type BEGIN
            UPDATE service_fts SET type_name = NEW.name
            WHERE rowid IN (SELECT id FROM service WHERE service_type_id = NEW.id);
        END""",
    ]


SQLITE_TRIGGERS = ("service_fts_insert", "service_fts_update", "service_fts_delete", "agency_fts_update",
                   "service_type_fts_update")


def _upgrade_sqlite():
    op.execute(f"CREATE VIRTUAL TABLE service_fts USING fts5({SQLITE_COLUMNS}, "
               "tokenize = 'porter unicode61 remove_diacritics 2', prefix = '1 2 3')")
    for statement in _sqlite_triggers():
        op.execute(statement)
    op.execute(f"INSERT INTO service_fts (rowid, {SQLITE_COLUMNS}) {SQLITE_ROWS}")


def _downgrade_sqlite():
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS service_fts")


# ----- PostgreSQL ---------------------------------------------------------------------------------

# ASCII punctuation becomes spaces (translate: one space for each of the 32 characters).
PUNCTUATION = "!\"#$%&''()*+,-./:;<=>?@[\\]^_`{|}~"


def _pg_field(name: str) -> str:
    return f"translate(coalesce({name}, ''), '{PUNCTUATION}', '{' ' * 32}')"


PG_FUNCTIONS = [
    # One service's document: names weigh A, the type B, the service's description C, the agency's D; a gap
    # (the placeholder lexeme, then deleted) between fields keeps a phrase inside one of them.
    f"""CREATE OR REPLACE FUNCTION csrn_service_document(service_name text, agency_name text, type_name text,
                                                        service_description text, agency_description text)
        RETURNS tsvector LANGUAGE sql STABLE AS $$
        SELECT ts_delete(
            setweight(to_tsvector('csrn_search', {_pg_field('service_name')}), 'A')
            || 'csrnfieldgap:2'::tsvector
            || setweight(to_tsvector('csrn_search', {_pg_field('agency_name')}), 'A')
            || 'csrnfieldgap:2'::tsvector
            || setweight(to_tsvector('csrn_search', {_pg_field('type_name')}), 'B')
            || 'csrnfieldgap:2'::tsvector
            || setweight(to_tsvector('csrn_search', {_pg_field('service_description')}), 'C')
            || 'csrnfieldgap:2'::tsvector
            || setweight(to_tsvector('csrn_search', {_pg_field('agency_description')}), 'D'),
            'csrnfieldgap')
        $$""",
    # Index the services whose ids are given (an insert or edit of one service, or of an agency's or type's).
    """CREATE OR REPLACE FUNCTION csrn_index_services(ids integer[]) RETURNS void LANGUAGE sql AS $$
        INSERT INTO service_search (service_id, document)
        SELECT s.id, csrn_service_document(s.name, a.name, t.name, s.description, a.description)
        FROM service s JOIN agency a ON a.id = s.agency_id JOIN service_type t ON t.id = s.service_type_id
        WHERE s.id = ANY(ids)
        ON CONFLICT (service_id) DO UPDATE SET document = EXCLUDED.document
        $$""",
    """CREATE OR REPLACE FUNCTION csrn_service_search_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_TABLE_NAME = 'service' THEN
                PERFORM csrn_index_services(ARRAY[NEW.id]);
            ELSIF TG_TABLE_NAME = 'agency' THEN
                PERFORM csrn_index_services(ARRAY(SELECT id FROM service WHERE agency_id = NEW.id));
            ELSE
                PERFORM csrn_index_services(ARRAY(SELECT id FROM service WHERE service_type_id = NEW.id));
            END IF;
            RETURN NULL;
        END
        $$""",
]

PG_TRIGGERS = [
    """CREATE TRIGGER service_search_service AFTER INSERT OR UPDATE OF name, description, agency_id, service_type_id
        ON service FOR EACH ROW EXECUTE FUNCTION csrn_service_search_trigger()""",
    """CREATE TRIGGER service_search_agency AFTER UPDATE OF name, description ON agency FOR EACH ROW
        WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.description IS DISTINCT FROM NEW.description)
        EXECUTE FUNCTION csrn_service_search_trigger()""",
    """CREATE TRIGGER service_search_service_type AFTER UPDATE OF name ON service_type FOR EACH ROW
        WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION csrn_service_search_trigger()""",
]


def _upgrade_postgresql():
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    # Dropped first: a test database emptied table by table keeps its configurations and functions.
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS csrn_search")
    op.execute("DROP TEXT SEARCH DICTIONARY IF EXISTS csrn_english_stem")
    op.execute("CREATE TEXT SEARCH DICTIONARY csrn_english_stem (TEMPLATE = snowball, Language = english)")
    op.execute("CREATE TEXT SEARCH CONFIGURATION csrn_search (COPY = english)")
    op.execute("ALTER TEXT SEARCH CONFIGURATION csrn_search ALTER MAPPING FOR asciiword, asciihword, "
               "hword_asciipart WITH csrn_english_stem")
    op.execute("ALTER TEXT SEARCH CONFIGURATION csrn_search ALTER MAPPING FOR word, hword, hword_part "
               "WITH unaccent, csrn_english_stem")
    op.execute("ALTER TEXT SEARCH CONFIGURATION csrn_search ALTER MAPPING FOR numword, hword_numpart "
               "WITH unaccent, simple")
    op.execute("""CREATE TABLE service_search (
        service_id integer PRIMARY KEY REFERENCES service (id) ON DELETE CASCADE,
        document tsvector NOT NULL)""")
    op.execute("CREATE INDEX ix_service_search_document ON service_search USING gin (document)")
    for statement in PG_FUNCTIONS + PG_TRIGGERS:
        op.execute(statement)
    op.execute("SELECT csrn_index_services(ARRAY(SELECT id FROM service))")


def _downgrade_postgresql():
    for name, on in (("service_search_service", "service"), ("service_search_agency", "agency"),
                     ("service_search_service_type", "service_type")):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {on}")
    op.execute("DROP TABLE IF EXISTS service_search")
    op.execute("DROP FUNCTION IF EXISTS csrn_service_search_trigger()")
    op.execute("DROP FUNCTION IF EXISTS csrn_index_services(integer[])")
    op.execute("DROP FUNCTION IF EXISTS csrn_service_document(text, text, text, text, text)")
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS csrn_search")
    op.execute("DROP TEXT SEARCH DICTIONARY IF EXISTS csrn_english_stem")
    # unaccent stays: other things may use it, and dropping an extension needs its owner.


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        _downgrade_postgresql()
    else:
        _downgrade_sqlite()
