"""The search structure on PostgreSQL, kept in step after every migrate.

Why a structure of its own: under row-level security PostgreSQL evaluates a query's own
conditions after the policy unless their functions are LEAKPROOF, and `@@`, `LIKE` and
trigram similarity are not; so on a tenant table a full-text or trigram index is never used
and every search scans the tenant (218 ms at 500,000 incidents). Here:

- one table, `itsm_search.entry` (tenant, kind, object id, a weighted tsvector of title and
  body, and the columns callers narrow by: service, category, owner, status, audience), in a
  schema of its own on which the application role has no privilege at all: it cannot read it,
  with or without a policy;
- two functions in `public`, SECURITY DEFINER (they run as the schema owner, to whom the table
  belongs and no policy applies), that answer for the tenant the caller names only if it is the
  tenant of the transaction's row-level-security setting, the same setting every policy reads:
  `itsm_search_ids` (every match: a list's `?search=`) and `itsm_search_ranked` (the best
  matches, boosted by same service and category: the diagnosis aid). The planner uses the GIN
  index on (tenant, kind, document) inside them;
- a trigger per searchable table (SECURITY DEFINER too) that writes the entry in the same
  transaction as the row, so search is never stale and never sees another tenant.

The caller gets ids and ranks only; it loads the objects through its usual tenant-scoped,
row-level-secured querysets, so nothing invisible can come back even from a wrong argument.
Words match by prefix, and by their English stem ("print" and "printers" find "printer").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from itsm.search.registry import Searchable, registered
from itsm.tenancy import rls

SCHEMA = "itsm_search"
CONFIG = "simple"
# Words too common to tell documents apart; kept short on purpose (see QUERY).
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
    ]
)
TRIGGER_PREFIX = "itsm_search_"

# The table and its index. btree_gin lets one GIN index serve "this tenant and these words".
TABLE = f"""
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC;
CREATE TABLE IF NOT EXISTS {SCHEMA}.entry (
    kind text NOT NULL,
    object_id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    document tsvector NOT NULL,
    service_id bigint,
    category_id bigint,
    owner_id bigint,
    status text NOT NULL DEFAULT '',
    audience text NOT NULL DEFAULT '',
    PRIMARY KEY (kind, object_id)
);
CREATE INDEX IF NOT EXISTS entry_search ON {SCHEMA}.entry USING gin (tenant_id, kind, document);
"""

# The words of a text as a prefix query: every word (AND) or any word (OR); each word also
# matches its English stem ("printers" finds "printer"), and a few function words are dropped.
# Documents are indexed with the `simple` configuration (lower case, no stop words): the
# English list drops words that matter at a service desk ("down", "off", "out", "not").
QUERY = f"""
CREATE OR REPLACE FUNCTION {SCHEMA}.query(p_text text, p_all boolean) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsquery('simple', string_agg(term, CASE WHEN p_all THEN ' & ' ELSE ' | ' END))
    FROM (
        SELECT '(' || quote_literal(word) || ':*' || coalesce((
                   SELECT string_agg(' | ' || quote_literal(stem) || ':*', '')
                   FROM unnest(tsvector_to_array(to_tsvector('english', word))) AS stem
                   WHERE stem <> word), '') || ')' AS term
        FROM unnest(tsvector_to_array(to_tsvector('simple', left(p_text, 2000)))) AS word
        WHERE word <> ALL (ARRAY[{", ".join(f"'{w}'" for w in sorted(STOP_WORDS))}])
    ) AS terms
$$;
"""

# The tenant check both functions make: the tenant asked for is the transaction's. The query is
# built in a scalar subquery: evaluated once (an InitPlan) and usable as the GIN index's
# condition; as a plain expression of a parameter it would be rebuilt for every row.
_SAME_TENANT = (
    "e.tenant_id = p_tenant "
    "AND p_tenant = NULLIF(current_setting('app.tenant_id', true), '')::bigint"
)

IDS = f"""
CREATE OR REPLACE FUNCTION public.itsm_search_ids(
    p_tenant bigint, p_kind text, p_text text, p_owner bigint DEFAULT NULL
) RETURNS SETOF bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, {SCHEMA} AS $$
    SELECT e.object_id FROM {SCHEMA}.entry e
    WHERE {_SAME_TENANT} AND e.kind = p_kind
      AND e.document @@ (SELECT {SCHEMA}.query(p_text, true))
      AND (p_owner IS NULL OR e.owner_id = p_owner)
$$;
"""

# One ranked scan per kind, merged: a SQL function's statements are planned with parameter
# symbols, and `kind = ANY (p_kinds)` is then no index condition of the GIN index, so every
# matching entry of the tenant (100,000 incidents among them) was read and filtered (100 ms);
# `kind = k.kind` from the lateral join is one (the known errors and articles only).
RANKED = f"""
CREATE OR REPLACE FUNCTION public.itsm_search_ranked(
    p_tenant bigint, p_kinds text[], p_text text, p_limit integer,
    p_statuses text[] DEFAULT NULL, p_audiences text[] DEFAULT NULL,
    p_service bigint DEFAULT NULL, p_category bigint DEFAULT NULL, p_all boolean DEFAULT false
) RETURNS TABLE (kind text, object_id bigint, rank real)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, {SCHEMA} AS $$
    SELECT m.kind, m.object_id, m.rank
    FROM unnest(p_kinds) AS k(kind)
    CROSS JOIN LATERAL (
        SELECT e.kind, e.object_id,
               -- ts_rank, not ts_rank_cd: the same order on our cases at under half the cost
               -- per matching row (6,000 rows: 22 ms against 51 ms).
               (ts_rank(e.document, (SELECT {SCHEMA}.query(p_text, p_all)), 1)
                * (1 + CASE WHEN e.service_id = p_service THEN 0.5 ELSE 0 END
                     + CASE WHEN e.category_id = p_category THEN 0.25 ELSE 0 END))::real AS rank
        FROM {SCHEMA}.entry e
        WHERE {_SAME_TENANT} AND e.kind = k.kind
          AND e.document @@ (SELECT {SCHEMA}.query(p_text, p_all))
          AND (p_statuses IS NULL OR e.status = ANY (p_statuses))
          AND (p_audiences IS NULL OR e.audience = ANY (p_audiences))
        ORDER BY 3 DESC, e.object_id DESC
        LIMIT p_limit
    ) AS m
    ORDER BY m.rank DESC, m.object_id DESC
    LIMIT p_limit
$$;
"""


def _column(name: str | None) -> str:
    return f"NEW.{name}" if name else "NULL"


def _document(searchable: Searchable) -> str:
    title = f"setweight(to_tsvector('{CONFIG}', coalesce(NEW.{searchable.title}, '')), 'A')"
    body = " || ' ' || ".join(f"coalesce(NEW.{column}, '')" for column in searchable.body)
    if not body:
        return title
    return f"{title} || setweight(to_tsvector('{CONFIG}', {body}), 'B')"


def _trigger_name(searchable: Searchable) -> str:
    return f"{TRIGGER_PREFIX}{searchable.table}"[:63]


def _trigger_function(searchable: Searchable) -> str:
    watched = [
        searchable.title,
        *searchable.body,
        *(c for c in (searchable.service, searchable.category, searchable.owner) if c),
        *(c for c in (searchable.status, searchable.audience) if c),
    ]
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in watched)
    name = _trigger_name(searchable)
    # Names come from the registered models (never from input).
    return f"""
CREATE OR REPLACE FUNCTION {SCHEMA}.{name}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {SCHEMA} AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM {SCHEMA}.entry WHERE kind = '{searchable.kind}' AND object_id = OLD.id;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND NOT ({changed}) THEN
        RETURN NEW;
    END IF;
    INSERT INTO {SCHEMA}.entry AS e (kind, object_id, tenant_id, document, service_id,
                                      category_id, owner_id, status, audience)
    VALUES ('{searchable.kind}', NEW.id, NEW.tenant_id, {_document(searchable)},
            {_column(searchable.service)}, {_column(searchable.category)},
            {_column(searchable.owner)}, coalesce({_column(searchable.status)}::text, ''),
            coalesce({_column(searchable.audience)}::text, ''))
    ON CONFLICT (kind, object_id) DO UPDATE SET
        tenant_id = EXCLUDED.tenant_id, document = EXCLUDED.document,
        service_id = EXCLUDED.service_id, category_id = EXCLUDED.category_id,
        owner_id = EXCLUDED.owner_id, status = EXCLUDED.status, audience = EXCLUDED.audience;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS {name} ON public.{searchable.table};
CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON public.{searchable.table}
    FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.{name}();
"""


def _backfill(searchable: Searchable) -> str:
    """Entries for rows that have none (a table made searchable after it had rows)."""
    document = _document(searchable).replace("NEW.", "t.")

    def column(name: str | None) -> str:
        return f"t.{name}" if name else "NULL"

    return f"""
INSERT INTO {SCHEMA}.entry (kind, object_id, tenant_id, document, service_id, category_id,
                            owner_id, status, audience)
SELECT '{searchable.kind}', t.id, t.tenant_id, {document}, {column(searchable.service)},
       {column(searchable.category)}, {column(searchable.owner)},
       coalesce({column(searchable.status)}::text, ''),
       coalesce({column(searchable.audience)}::text, '')
FROM public.{searchable.table} t
WHERE NOT EXISTS (SELECT 1 FROM {SCHEMA}.entry e
                  WHERE e.kind = '{searchable.kind}' AND e.object_id = t.id)
"""


def sync(connection: BaseDatabaseWrapper) -> None:
    """Create or update the table, the functions and one trigger per searchable model, and
    index rows that have no entry yet. Idempotent; runs as the schema owner after migrate
    (whose connection has the platform scope on, so the backfill sees every tenant)."""
    if connection.vendor != "postgresql":
        return
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for statement in (TABLE, QUERY, IDS, RANKED):
            cursor.execute(statement)
        for searchable in registered().values():
            cursor.execute(_trigger_function(searchable))
            cursor.execute(_backfill(searchable))
        # Statistics now: the planner's first guesses on a fresh table pick the wrong index.
        cursor.execute(f"ANALYZE {SCHEMA}.entry")


@contextmanager
def indexing_deferred(*kinds: str) -> Iterator[None]:
    """Bulk writes (benchmark seeding, imports): the kinds' triggers are off while the block
    writes rows, and one INSERT … SELECT indexes the new rows afterwards, with the GIN index
    rebuilt once: many times faster than an entry per row. Enter and leave outside any
    transaction: both ends reconnect as the schema owner. The tables must have no other writer
    meanwhile (their rows would go unindexed until the next migrate's backfill), and searches
    run without the index while it is rebuilt."""
    searchables = [registered()[kind] for kind in kinds]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield  # the triggers index row by row (inside a transaction: a test's, for instance)
        return

    def set_triggers(enabled: bool) -> None:
        verb = "ENABLE" if enabled else "DISABLE"
        with rls.owner_connection(), connection.cursor() as cursor:
            for searchable in searchables:
                cursor.execute(
                    f"ALTER TABLE public.{searchable.table} {verb} TRIGGER "
                    f"{_trigger_name(searchable)}"
                )
            if enabled:
                # The GIN index built once over all entries: inserting 100,000 entries into it
                # row by row took minutes (every entry adds to the same tenant and kind keys).
                cursor.execute(f"DROP INDEX IF EXISTS {SCHEMA}.entry_search")
                # Statistics taken while the table was empty (after migrate) make the planner
                # check each new row against the entries with a scan of the table the INSERT is
                # filling: quadratic, an hour at 1,000,000 incidents. A hash join reads it once.
                cursor.execute("SET enable_nestloop = off")
                for searchable in searchables:
                    cursor.execute(_backfill(searchable))
                cursor.execute("SET maintenance_work_mem = '256MB'")
                cursor.execute(TABLE)
                cursor.execute(f"ANALYZE {SCHEMA}.entry")

    set_triggers(False)
    try:
        yield
    finally:
        set_triggers(True)
