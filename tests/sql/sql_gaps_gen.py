#!/usr/bin/python3
"""Makes tests/sql/sql_gaps.test: edge cases found by attacking the SQL of issue 13 (NULL offsets of lag / lead
/ ntile, RANGE offsets past the integer ranges, ORDER BY inside aggregate calls, what a JOIN's ON may name),
every answer PostgreSQL 15's (psql --csv). Run against a scratch cluster (pg_gen.py names its socket):
/usr/bin/python3 tests/sql/sql_gaps_gen.py > tests/sql/sql_gaps.test"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg_gen  # noqa: E402

steps = [
 ("ok", "CREATE TABLE s (id integer, x integer, big bigint, g text)"),
 ("ok", "INSERT INTO s VALUES (1, 10, 100, 'a'), (2, 20, 200, 'b'), (3, 30, NULL, 'a'), (4, NULL, 400, 'b'), (5, 50, 500, NULL)"),
 ("#", "a NULL offset or bucket count gives NULL, as in PostgreSQL"),
 ("query", "SELECT id, lead(x, NULL) OVER (ORDER BY id) AS ld, lag(x, NULL) OVER (ORDER BY id) AS lg, lag(x, NULL, 0) OVER (ORDER BY id) AS lg0, ntile(NULL) OVER (ORDER BY id) AS nt FROM s ORDER BY id"),
 ("query", "SELECT id, lag(x, 2147483647) OVER (ORDER BY id) AS far, lead(x, -2147483647, -1) OVER (ORDER BY id) AS back FROM s ORDER BY id"),
 ("#", "RANGE offsets whose bound passes the type's range reach the partition's end"),
 ("query", "SELECT id, sum(x) OVER (ORDER BY x RANGE BETWEEN 2147483647 PRECEDING AND 2147483647 FOLLOWING) AS s FROM s ORDER BY id"),
 ("query", "SELECT id, sum(x) OVER (ORDER BY x RANGE BETWEEN CURRENT ROW AND 9223372036854775807 FOLLOWING) AS s FROM s ORDER BY id"),
 ("query", "SELECT id, count(*) OVER (ORDER BY big DESC RANGE BETWEEN 9223372036854775807 PRECEDING AND 9223372036854775807 FOLLOWING) AS c, sum(big) OVER (ORDER BY big RANGE BETWEEN 9223372036854775807 PRECEDING AND 1 PRECEDING) AS before FROM s ORDER BY id"),
 ("query", "SELECT id, sum(x) OVER (ORDER BY x RANGE BETWEEN 10 PRECEDING AND 10 FOLLOWING) AS near FROM s ORDER BY id"),
 ("#", "ORDER BY inside the aggregates whose result does not depend on the order"),
 ("query", "SELECT g, sum(x ORDER BY id DESC) AS s, count(x ORDER BY x) AS c, max(id ORDER BY g) AS m, avg(big ORDER BY id) AS a FROM s GROUP BY g ORDER BY g"),
 ("query", "SELECT count(*) AS n, min(g ORDER BY id DESC NULLS FIRST) AS first_g FROM s"),
 ("error", "SELECT upper(g ORDER BY id) FROM s", "ORDER BY specified, but upper is not an aggregate function"),
 ("error", "SELECT sum(x ORDER BY id) OVER () FROM s", "aggregate ORDER BY is not implemented for window functions"),
 ("refused", "SELECT string_agg(g, ',' ORDER BY id) FROM s", "function string_agg does not exist"),
 ("#", "a JOIN's ON sees only its two sides: the comma binds last"),
 ("error", "SELECT 1 FROM s a, s b JOIN s c ON a.x = c.x", "invalid reference to FROM-clause entry for table \"a\""),
 ("error", "SELECT 1 FROM s a, s b LEFT JOIN s c ON c.x = a.x", "invalid reference to FROM-clause entry for table \"a\""),
 ("error", "SELECT 1 FROM s a JOIN (s b JOIN s c ON a.id = c.id) ON true", "invalid reference to FROM-clause entry for table \"a\""),
 ("query", "SELECT count(*) AS n FROM s a, s b JOIN s c ON b.x = c.x"),
 ("query", "SELECT count(*) AS n FROM s a JOIN s b ON a.id = b.id JOIN s c ON a.id = c.id"),
 ("query", "SELECT count(*) AS n FROM s a WHERE EXISTS (SELECT 1 FROM s b JOIN s c ON c.id = b.id WHERE b.id = a.id)"),
]

pg_gen.write_steps("factdb_sql_gaps", [
    "# Edge cases of issue 13's SQL; made by sql_gaps_gen.py, every answer PostgreSQL 15's.",
], steps)
