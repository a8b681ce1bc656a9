#!/usr/bin/python3
"""Makes tests/sql/catalog_views.test: views in the system views (information_schema.tables, .columns, .views,
pg_class, pg_attribute, pg_views) and the reflection queries of psql and SQLAlchemy, every answer PostgreSQL
15's (psql --csv). Run against a scratch cluster (pg_gen.py names its socket):
/usr/bin/python3 tests/sql/catalog_views_gen.py > tests/sql/catalog_views.test
A view's text differs (PostgreSQL prints its own rendering of the query, factdb the text as written), so
definitions are only checked for being there; oids differ, so they are only joined on."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg_gen  # noqa: E402

steps = [
 ("ok", "CREATE TABLE t (a integer NOT NULL, b text, c numeric(6,2), d date)"),
 ("ok", "CREATE VIEW v AS SELECT a, b || 'x' AS bx, c * 2 AS c2, count(*) OVER () AS n, d + 1 AS next_day FROM t"),
 ("ok", "CREATE VIEW w (k, total) AS SELECT b, sum(c) FROM t GROUP BY b"),
 ("query", "SELECT table_name, table_type, is_insertable_into FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"),
 ("query", "SELECT table_name, column_name, ordinal_position, is_nullable, data_type, numeric_precision, numeric_scale, datetime_precision, udt_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 3"),
 ("query", "SELECT table_schema, table_name, (view_definition IS NOT NULL)::text AS has_text, check_option, is_updatable, is_insertable_into FROM information_schema.views WHERE table_schema = 'public' ORDER BY 2"),
 ("query", "SELECT schemaname, viewname, (length(definition) > 0)::text AS has_text FROM pg_views WHERE schemaname = 'public' ORDER BY 2"),
 ("query", "SELECT relname, relkind, CASE WHEN relkind = 'v' THEN reltuples END AS view_tuples, relnatts, relpersistence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1"),
 ("query", "SELECT c.relname, a.attname, a.attnum, a.atttypid, a.attnotnull::text AS notnull FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'v' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, 3"),
 ("#", "psql's \\dv"),
 ("query", "SELECT n.nspname as \"Schema\", c.relname as \"Name\", CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' END as \"Type\" FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v','') AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1,2"),
 ("#", "SQLAlchemy 2.0's get_view_names and get_table_names (PGDialect._get_relnames_for_relkinds)"),
 ("query", "SELECT pg_catalog.pg_class.relname FROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace WHERE pg_catalog.pg_class.relkind = ANY (ARRAY['v', 'm']) AND pg_catalog.pg_class.relpersistence != 't' AND pg_catalog.pg_table_is_visible(pg_catalog.pg_class.oid) AND pg_catalog.pg_namespace.nspname != 'pg_catalog' ORDER BY 1"),
 ("query", "SELECT pg_catalog.pg_class.relname FROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace WHERE pg_catalog.pg_class.relkind = ANY (ARRAY['r', 'p']) AND pg_catalog.pg_class.relpersistence != 't' AND pg_catalog.pg_namespace.nspname = 'public' ORDER BY 1"),
 ("#", "= ANY / <> ALL are IN / NOT IN, NULLs included"),
 ("query", "SELECT x, (x = ANY (ARRAY[1, 2]))::text AS a, (x <> ALL (ARRAY[1, NULL]))::text AS b, (x = SOME (SELECT 2))::text AS c FROM (SELECT 1 AS x UNION ALL SELECT 3 UNION ALL SELECT NULL) s ORDER BY 1"),
 ("refused", "SELECT 1 = ALL (ARRAY[1])", "= ALL (...) is not supported"),
 ("#", "a dropped view leaves the lists"),
 ("ok", "DROP VIEW w"),
 ("query", "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"),
 ("query", "SELECT table_name, count(*) AS n FROM information_schema.columns WHERE table_schema = 'public' GROUP BY table_name ORDER BY 1"),
]

pg_gen.write_steps("factdb_catalog_views", [
    "# Views in the system views, and psql's and SQLAlchemy's reflection queries; made by catalog_views_gen.py, every",
    "# answer PostgreSQL 15's.",
], steps)
