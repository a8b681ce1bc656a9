#!/usr/bin/python3
"""Makes tests/sql/update_from.test: UPDATE ... FROM, every answer PostgreSQL 15's (psql --csv). Run against a
scratch cluster (pg_gen.py names its socket): /usr/bin/python3 tests/sql/update_from_gen.py > tests/sql/update_from.test
Rows do not keep their place through an UPDATE, so every query orders its rows completely."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg_gen  # noqa: E402

steps = [
 ("ok", "CREATE TABLE t (id integer PRIMARY KEY, v text, n integer, price numeric(8,2))"),
 ("ok", "INSERT INTO t VALUES (1, 'a', 10, 1.50), (2, 'b', 20, 2.50), (3, 'c', 30, NULL), (4, NULL, NULL, 4.00), (5, 'e', 50, 5.25)"),
 ("ok", "CREATE TABLE s (id integer, w text, k integer)"),
 ("ok", "INSERT INTO s VALUES (1, 'x', 100), (3, 'z', 300), (3, 'z', 300), (4, NULL, 400), (9, 'nine', 900)"),
 ("ok", "CREATE TABLE dim (code text, label text, rate numeric(4,2))"),
 ("ok", "INSERT INTO dim VALUES ('x', 'ex', 0.10), ('z', 'zed', 0.20), ('w', 'dub', 0.30)"),
 ("#", "the basic form: the target's columns qualified by its name, a FROM column in SET"),
 ("ok", "UPDATE t SET v = s.w, n = t.n + s.k FROM s WHERE t.id = s.id"),
 ("query", "SELECT * FROM t ORDER BY id"),
 ("#", "an alias; every SET reads the old row; a FROM row that matches no target changes nothing"),
 ("ok", "UPDATE t AS a SET n = a.id, price = a.price * 2 FROM s AS b WHERE a.id = b.id AND b.k > 150"),
 ("query", "SELECT id, n, price FROM t ORDER BY id"),
 ("#", "FROM with a join and a derived table"),
 ("ok", "UPDATE t SET price = t.price + d.rate FROM s JOIN dim d ON d.code = s.w WHERE s.id = t.id"),
 ("query", "SELECT id, price FROM t ORDER BY id"),
 ("ok", "UPDATE t SET n = agg.total FROM (SELECT id, sum(k) AS total FROM s GROUP BY id) AS agg WHERE agg.id = t.id"),
 ("query", "SELECT id, n FROM t ORDER BY id"),
 ("#", "the target named again in FROM is a self-join under another alias"),
 ("ok", "UPDATE t SET v = prev.v || '+' FROM t AS prev WHERE prev.id = t.id - 1"),
 ("query", "SELECT id, v FROM t ORDER BY id"),
 ("#", "a FROM with no condition: every target row (with some FROM row, here the one there is)"),
 ("ok", "UPDATE t SET v = d.label FROM (SELECT label FROM dim WHERE code = 'w') d"),
 ("query", "SELECT id, v FROM t ORDER BY id"),
 ("#", "a condition on the target only and an empty FROM: nothing"),
 ("ok", "UPDATE t SET n = -1 FROM s WHERE s.id > 1000 AND t.id = 1"),
 ("query", "SELECT id, n FROM t ORDER BY id"),
 ("#", "a target row joined to several FROM rows is updated once, with one of them (PostgreSQL: any)"),
 ("ok", "UPDATE t SET n = s.k FROM s WHERE s.id IN (1, 3) AND t.id = 2"),
 ("query", "SELECT count(*) AS rows, count(*) FILTER (WHERE n IN (100, 300)) AS ok FROM t WHERE id = 2"),
 ("#", "a column of FROM with the name of an unassigned target column does not replace it"),
 ("ok", "CREATE TABLE s2 (id integer, n integer)"),
 ("ok", "INSERT INTO s2 VALUES (5, 555)"),
 ("ok", "UPDATE t SET v = 'five' FROM s2 WHERE s2.id = t.id"),
 ("query", "SELECT id, v, n FROM t ORDER BY id"),
 ("#", "conditions on the target alone (they also filter the target's rows as they are read), next to a FROM column of the same name"),
 ("ok", "UPDATE t SET n = s2.n + t.n FROM s2 WHERE s2.id = t.id AND t.n > 0 AND t.v IS NOT NULL AND (t.id = 5 OR t.id = 1)"),
 ("query", "SELECT id, v, n FROM t ORDER BY id"),
 ("ok", "UPDATE t AS x SET n = 0 FROM s2 WHERE x.n < 0 AND s2.id = 5"),
 ("query", "SELECT id, n FROM t ORDER BY id"),
 ("#", "a parameterless subquery and functions in SET"),
 ("ok", "UPDATE t SET v = upper(coalesce(s.w, 'null')) || (SELECT count(*) FROM dim)::text FROM s WHERE s.id = t.id AND s.id = 4"),
 ("query", "SELECT id, v FROM t ORDER BY id"),
 ("#", "unique keys: an UPDATE ... FROM that would make two rows equal fails and changes nothing"),
 ("error", "UPDATE t SET id = 1 FROM s WHERE s.id = t.id AND s.id = 3", "duplicate key value violates unique constraint \"t_pkey\""),
 ("query", "SELECT id, v FROM t ORDER BY id"),
 ("ok", "UPDATE t SET id = t.id + 10 FROM s2 WHERE true"),
 ("query", "SELECT id FROM t ORDER BY id"),
 ("#", "errors"),
 ("error", "UPDATE t SET v = s.nope FROM s WHERE s.id = t.id", "column s.nope does not exist"),
 ("error", "UPDATE t SET v = s.w FROM s WHERE x.id = t.id", "missing FROM-clause entry for table \"x\""),
 ("error", "UPDATE t SET n = s.w FROM s WHERE s.id = t.id", "column \"n\" is of type integer but expression is of type text"),
 ("error", "UPDATE t SET n = sum(s.k) FROM s WHERE s.id = t.id", "aggregate functions are not allowed in UPDATE"),
 ("error", "UPDATE t SET n = row_number() OVER () FROM s", "window functions are not allowed in UPDATE"),
 ("error", "UPDATE t SET v = 'q' FROM nosuch WHERE nosuch.id = t.id", "relation \"nosuch\" does not exist"),
 ("error", "UPDATE t SET nope = 1 FROM s", "column \"nope\" of relation \"t\" does not exist"),
 ("error", "UPDATE t AS a SET v = 'q' FROM s WHERE t.id = s.id", "invalid reference to FROM-clause entry for table \"t\""),
 ("error", "UPDATE t SET v = 'q' FROM t", "table name \"t\" specified more than once"),
 ("query", "SELECT * FROM t ORDER BY id"),
]

pg_gen.write_steps("factdb_update_from", [
    "# UPDATE ... FROM with PostgreSQL's semantics; made by update_from_gen.py, every answer PostgreSQL 15's.",
], steps)
