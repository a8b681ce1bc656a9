#!/usr/bin/python3
"""Makes tests/sql/returning.test: INSERT, UPDATE and DELETE ... RETURNING, every answer PostgreSQL 15's (psql
--csv). Run against a scratch cluster (pg_gen.py names its socket):
/usr/bin/python3 tests/sql/returning_gen.py > tests/sql/returning.test
Rows come back in the order the statement wrote them; where that order is not defined (rows an UPDATE moved
earlier), a statement returns at most one row."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg_gen  # noqa: E402

steps = [
 ("ok", "CREATE TABLE t (id integer PRIMARY KEY, v text, n numeric(6,2), d date)"),
 ("#", "INSERT ... VALUES: *, expressions, names as PostgreSQL gives them, columns left out are NULL"),
 ("query", "INSERT INTO t VALUES (1, 'a', 1.5, '2024-01-01'), (2, 'b', 2, NULL) RETURNING *"),
 ("query", "INSERT INTO t (id, v) VALUES (3, 'c') RETURNING id, v, n, n * 2 AS dbl, 'x' || id, upper(v), (d IS NULL)::text AS nod"),
 ("query", "INSERT INTO t (v, id) VALUES ('e', 5) RETURNING id"),
 ("query", "INSERT INTO t VALUES (6, 'f', 6.125, '2024-06-06') RETURNING t.n, t.*, n::text AS nt"),
 ("#", "values as stored: cast to the column's type"),
 ("query", "INSERT INTO t VALUES ('7', 'g', 7.777, '2024-07-07') RETURNING id + 1 AS next, n"),
 ("#", "INSERT ... SELECT"),
 ("query", "INSERT INTO t SELECT id + 10, v || '2', n, d FROM t WHERE id <= 2 ORDER BY id RETURNING id, v"),
 ("query", "INSERT INTO t SELECT id + 100, v, n, d FROM t WHERE false RETURNING *"),
 ("#", "ON CONFLICT: only the rows inserted or updated"),
 ("query", "INSERT INTO t VALUES (1, 'dup', 0, NULL), (8, 'h', 8, NULL) ON CONFLICT DO NOTHING RETURNING id, v"),
 ("query", "INSERT INTO t VALUES (1, 'dup', 0, NULL) ON CONFLICT (id) DO NOTHING RETURNING id"),
 ("query", "INSERT INTO t VALUES (2, 'B', 20, NULL) ON CONFLICT (id) DO UPDATE SET v = excluded.v, n = t.n + excluded.n RETURNING *"),
 ("query", "INSERT INTO t VALUES (9, 'i', 9, NULL) ON CONFLICT (id) DO UPDATE SET v = excluded.v RETURNING id, v"),
 ("query", "INSERT INTO t VALUES (3, 'C', 3, NULL) ON CONFLICT (id) DO UPDATE SET v = excluded.v WHERE t.v = 'nope' RETURNING id"),
 ("#", "rows inserted and updated come back in the order they were proposed"),
 ("query", "INSERT INTO t VALUES (2, 'B2', 0, NULL), (10, 'j', 10, NULL), (1, 'A1', 0, NULL), (3, 'C3', 0, NULL) ON CONFLICT (id) DO UPDATE SET v = excluded.v WHERE t.id <> 3 RETURNING id, v"),
 ("#", "UPDATE: the new row"),
 ("query", "UPDATE t SET n = n + 1, v = upper(v) WHERE id = 1 RETURNING id, v, n, n - 1 AS old_n"),
 ("query", "UPDATE t AS x SET d = '2025-01-01' WHERE x.id = 5 RETURNING x.id, x.d, d + 1 AS next_day"),
 ("query", "UPDATE t SET v = 'none' WHERE id = 1000 RETURNING *"),
 ("#", "UPDATE ... FROM: the target's new row"),
 ("ok", "CREATE TABLE s (id integer, w text)"),
 ("ok", "INSERT INTO s VALUES (5, 'five')"),
 ("query", "UPDATE t SET v = s.w FROM s WHERE s.id = t.id RETURNING t.id, t.v"),
 ("#", "DELETE: the row as it was"),
 ("query", "DELETE FROM t WHERE id = 9 RETURNING *"),
 ("query", "DELETE FROM t AS x WHERE x.id = 8 RETURNING x.v, length(x.v) AS len"),
 ("query", "DELETE FROM t WHERE id > 1000 RETURNING id"),
 ("query", "SELECT * FROM t ORDER BY id"),
 ("#", "every row of a fresh table, in the order written"),
 ("ok", "CREATE TABLE u (k integer, label text)"),
 ("query", "INSERT INTO u VALUES (1, 'one'), (2, 'two'), (3, 'three') RETURNING k, label"),
 ("query", "DELETE FROM u WHERE k >= 2 RETURNING k"),
 ("#", "errors change nothing"),
 ("error", "INSERT INTO t VALUES (50, 'x', 1, NULL) RETURNING nope", "column \"nope\" does not exist"),
 ("error", "INSERT INTO t VALUES (51, 'x', 1, NULL) RETURNING count(*)", "aggregate functions are not allowed in RETURNING"),
 ("error", "UPDATE t SET v = 'y' WHERE id = 1 RETURNING row_number() OVER ()", "window functions are not allowed in RETURNING"),
 ("error", "DELETE FROM t WHERE id = 1 RETURNING 1 / 0", "division by zero"),
 ("error", "INSERT INTO t VALUES (52, 'x', 1, NULL) RETURNING s.w", "missing FROM-clause entry for table \"s\""),
 ("query", "SELECT * FROM t ORDER BY id"),
]

pg_gen.write_steps("factdb_returning", [
    "# INSERT / UPDATE / DELETE ... RETURNING; made by returning_gen.py, every answer PostgreSQL 15's.",
], steps)
