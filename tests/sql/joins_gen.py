#!/usr/bin/python3
"""Makes tests/sql/joins.test: every query's expected answer is PostgreSQL 15's (psql --csv). Run against a
scratch cluster (pg_gen.py names its socket): /usr/bin/python3 tests/sql/joins_gen.py > tests/sql/joins.test"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg_gen  # noqa: E402
setup = [
 "CREATE TABLE store (id integer, city text, region text)",
 "INSERT INTO store VALUES (1, 'Milano', 'North'), (2, 'Roma', 'Center'), (3, 'Napoli', 'South'), (4, 'Torino', 'North'), (5, NULL, NULL)",
 "CREATE TABLE sale (store_id integer, day date, qty integer, price numeric(10,2), product text)",
 "INSERT INTO sale VALUES (1, '2026-01-01', 2, 10.50, 'apple'), (1, '2026-01-02', 1, 3.25, 'pear'), (2, '2026-01-01', 5, 1.00, 'apple'), (2, '2026-01-03', NULL, 2.00, 'fig'), (3, '2026-01-02', 7, 0.99, 'apple'), (6, '2026-01-04', 1, 100.00, 'gold'), (NULL, '2026-01-05', 3, 1.50, 'pear'), (1, '2026-01-05', 4, 10.50, 'apple')",
 "CREATE TABLE product (name text, kind text, weight double precision)",
 "INSERT INTO product VALUES ('apple', 'fruit', 0.2), ('pear', 'fruit', 0.25), ('fig', 'fruit', 0.05), ('gold', 'metal', 1.0), ('salt', 'mineral', 0.5)",
 "CREATE TABLE l (k integer)",
 "INSERT INTO l VALUES (1), (2)",
 "CREATE TABLE r (k integer)",
 "INSERT INTO r VALUES (2), (3)",
 "CREATE TABLE t3 (x integer, y integer)",
 "INSERT INTO t3 VALUES (1, 1), (1, 2), (2, NULL), (NULL, NULL), (3, 3)",
]
queries = [
 # inner joins, aliases, qualified stars
 "SELECT s.city, sum(x.qty) AS q FROM sale x JOIN store s ON x.store_id = s.id GROUP BY s.city ORDER BY s.city",
 "SELECT x.product, s.city FROM sale x, store s WHERE x.store_id = s.id AND x.price > 2 ORDER BY 1, 2",
 "SELECT s.*, x.qty FROM store s INNER JOIN sale x ON s.id = x.store_id WHERE x.day = date '2026-01-01' ORDER BY s.id",
 "SELECT count(*) FROM sale CROSS JOIN store",
 "SELECT count(*) FROM sale x JOIN store s ON x.store_id = s.id JOIN product p ON p.name = x.product",
 "SELECT p.kind, s.region, sum(x.qty * x.price) AS revenue FROM sale x JOIN store s ON x.store_id = s.id JOIN product p ON p.name = x.product GROUP BY p.kind, s.region ORDER BY 1, 2",
 # outer joins and NULL keys
 "SELECT s.id, s.city, x.qty FROM store s LEFT JOIN sale x ON s.id = x.store_id ORDER BY s.id, x.qty",
 "SELECT s.id, x.product FROM store s LEFT OUTER JOIN sale x ON s.id = x.store_id AND x.qty > 2 ORDER BY 1, 2",
 "SELECT x.store_id, s.city FROM store s RIGHT JOIN sale x ON s.id = x.store_id ORDER BY 1, 2",
 "SELECT s.id, x.store_id, x.product FROM store s FULL OUTER JOIN sale x ON s.id = x.store_id ORDER BY 1, 2, 3",
 "SELECT s.city, count(x.qty) AS n FROM store s LEFT JOIN sale x ON x.store_id = s.id GROUP BY s.city ORDER BY 1",
 "SELECT p.name FROM product p LEFT JOIN sale x ON x.product = p.name WHERE x.product IS NULL ORDER BY 1",
 # USING and NATURAL
 "SELECT * FROM (SELECT id, city FROM store) a JOIN (SELECT id, region FROM store) b USING (id) ORDER BY id",
 "SELECT id, a.city, b.region FROM (SELECT id, city FROM store) a LEFT JOIN (SELECT id, region FROM store WHERE id < 3) b USING (id) ORDER BY id",
 "SELECT * FROM (SELECT name, kind FROM product) a NATURAL JOIN (SELECT name, weight FROM product WHERE weight > 0.2) b ORDER BY name",
 # derived tables and WITH
 "SELECT t.store_id, t.total FROM (SELECT store_id, sum(qty) AS total FROM sale GROUP BY store_id) t WHERE t.total > 3 ORDER BY 1",
 "SELECT c.n, c.k FROM (SELECT count(*), kind FROM product GROUP BY kind) AS c (n, k) ORDER BY c.k",
 "WITH t AS (SELECT store_id, sum(qty) AS total FROM sale GROUP BY store_id) SELECT s.city, t.total FROM t JOIN store s ON s.id = t.store_id ORDER BY 1",
 "WITH a AS (SELECT product, qty FROM sale WHERE qty IS NOT NULL), b AS (SELECT product, max(qty) AS m FROM a GROUP BY product) SELECT a.product, a.qty FROM a JOIN b ON a.product = b.product AND a.qty = b.m ORDER BY 1",
 "WITH t AS (SELECT id FROM store WHERE region = 'North') SELECT x.id, y.id FROM t x, t y WHERE x.id < y.id ORDER BY 1, 2",
 # set operations
 "SELECT product FROM sale UNION SELECT name FROM product ORDER BY 1",
 "SELECT product FROM sale UNION ALL SELECT name FROM product WHERE kind = 'metal' ORDER BY 1",
 "SELECT product FROM sale INTERSECT SELECT name FROM product ORDER BY 1",
 "SELECT name FROM product EXCEPT SELECT product FROM sale ORDER BY 1",
 "SELECT store_id FROM sale EXCEPT ALL SELECT id FROM store ORDER BY 1",
 "SELECT store_id FROM sale INTERSECT ALL SELECT store_id FROM sale WHERE qty > 1 ORDER BY 1",
 "SELECT qty FROM sale UNION SELECT weight FROM product ORDER BY 1 LIMIT 4",
 "(SELECT id FROM store ORDER BY id DESC LIMIT 2) UNION ALL (SELECT 10) ORDER BY 1",
 # subqueries
 "SELECT product, price FROM sale WHERE price > (SELECT avg(price) FROM sale) ORDER BY 1, 2",
 "SELECT name FROM product WHERE name IN (SELECT product FROM sale WHERE qty > 2) ORDER BY 1",
 "SELECT name FROM product WHERE name NOT IN (SELECT product FROM sale) ORDER BY 1",
 "SELECT id FROM store WHERE id NOT IN (SELECT store_id FROM sale) ORDER BY 1",
 "SELECT id FROM store WHERE id NOT IN (SELECT store_id FROM sale WHERE store_id IS NOT NULL) ORDER BY 1",
 "SELECT s.city FROM store s WHERE EXISTS (SELECT 1 FROM sale x WHERE x.store_id = s.id AND x.qty > 3) ORDER BY 1",
 "SELECT s.id FROM store s WHERE NOT EXISTS (SELECT * FROM sale x WHERE x.store_id = s.id) ORDER BY 1",
 "SELECT x.product, x.qty FROM sale x WHERE x.qty >= (SELECT max(y.qty) FROM sale y WHERE y.product = x.product) ORDER BY 1",
 "SELECT x.store_id, x.price FROM sale x WHERE x.price < (SELECT 0.5 * avg(y.price) FROM sale y WHERE y.store_id = x.store_id) ORDER BY 1, 2",
 "SELECT x.store_id, x.day FROM sale x WHERE EXISTS (SELECT 1 FROM sale y WHERE y.store_id = x.store_id AND y.day <> x.day) AND NOT EXISTS (SELECT 1 FROM sale z WHERE z.store_id = x.store_id AND z.qty > 4) ORDER BY 1, 2",
 "SELECT (SELECT max(qty) FROM sale) AS m, (SELECT count(*) FROM store) AS n",
 "SELECT kind, count(*) FROM product GROUP BY kind HAVING count(*) > (SELECT count(*) FROM product WHERE kind = 'metal') ORDER BY 1",
 "SELECT count(*) FROM sale WHERE EXISTS (SELECT 1 FROM product WHERE kind = 'metal')",
 "SELECT count(*) FROM sale WHERE EXISTS (SELECT 1 FROM product WHERE kind = 'wood')",
 # OR of ANDs with a common join condition (TPC-H Q19's form)
 "SELECT x.product, x.qty FROM sale x, product p WHERE (p.name = x.product AND p.kind = 'fruit' AND x.qty > 3) OR (p.name = x.product AND p.kind = 'metal') ORDER BY 1, 2",
    # found by attacking the first version (issue 13): USING outer joins, NOT IN over no rows, columns that
    # only a later join reads, parenthesized USING joins, EXISTS naming only outer columns, UNION of literals
    "SELECT k, l.k AS lk, r.k AS rk FROM l FULL JOIN r USING (k) ORDER BY 1, 2, 3",
    "SELECT r.k FROM l LEFT JOIN r USING (k) ORDER BY 1",
    "SELECT l.k FROM l RIGHT JOIN r USING (k) ORDER BY 1",
    "SELECT * FROM l NATURAL FULL JOIN r ORDER BY 1",
    "SELECT * FROM l LEFT JOIN r USING (k) ORDER BY 1",
    "SELECT x, y FROM t3 WHERE y NOT IN (SELECT k FROM l WHERE false) ORDER BY 1, 2",
    "SELECT y, CASE WHEN y NOT IN (SELECT k FROM l WHERE false) THEN 1 ELSE 0 END AS n, CASE WHEN y IN (SELECT k FROM l WHERE false) THEN 1 ELSE 0 END AS i FROM t3 ORDER BY 1",
    "SELECT q1.x FROM t3 q0 LEFT JOIN t3 q1 ON q1.x = q0.x JOIN t3 q2 ON q1.y = q2.y ORDER BY 1",
    "SELECT q1.x FROM t3 q0 LEFT JOIN t3 q1 ON q0.x = q1.x RIGHT JOIN t3 q2 ON q2.y = q0.y ORDER BY 1",
    "SELECT count(*) FROM t3 a1 JOIN (t3 a0 JOIN t3 z USING (x)) USING (x)",
    "SELECT count(*) FROM t3 a1 JOIN (t3 a0 NATURAL JOIN t3 z) USING (x)",
    "SELECT x FROM t3 WHERE EXISTS (SELECT 1 FROM l WHERE t3.x > 1) ORDER BY 1",
    "SELECT k FROM l UNION SELECT NULL ORDER BY 1",
    "SELECT 1 AS a UNION SELECT NULL UNION SELECT NULL ORDER BY 1",
    "SELECT NULL AS a UNION SELECT 1.5 ORDER BY 1",
    "SELECT DATE '2024-01-01' AS d UNION SELECT TIMESTAMP '2024-01-01 00:00:00' UNION SELECT DATE '2024-01-02' ORDER BY 1",
    "SELECT 1 AS a UNION SELECT '2' ORDER BY 1",
    "SELECT a.x, b.y FROM t3 a JOIN t3 b ON a.x + 1 = b.y ORDER BY 1, 2",
    "SELECT count(*) FROM sale x JOIN store s ON x.store_id::bigint = s.id",
    "SELECT p.name, x.qty FROM product p JOIN sale x ON upper(p.name) = upper(x.product) WHERE x.qty > 2 ORDER BY 1, 2",
    "SELECT l.k, r.k AS rk FROM l LEFT JOIN r ON l.k + 1 = r.k ORDER BY 1, 2",
    "SELECT q.x, t.y FROM t3 q FULL JOIN t3 t ON q.x = t.y - 1 AND t.x > 0 ORDER BY 1, 2",
    "SELECT count(*) FROM t3 a RIGHT JOIN t3 b ON a.x * 2 = b.y",
    "SELECT x, y FROM t3 o WHERE EXISTS (SELECT 1 FROM t3 i WHERE i.y = o.x + 1) ORDER BY 1, 2",
    "SELECT x, y FROM t3 o WHERE NOT EXISTS (SELECT 1 FROM t3 i WHERE i.x * 2 = o.y) ORDER BY 1, 2",
    "SELECT x FROM t3 o WHERE o.y >= (SELECT max(i.x) FROM t3 i WHERE i.y - 1 = o.x) ORDER BY 1",
    # the system views tools read (information_schema, pg_catalog)
    "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    "SELECT table_name, column_name, ordinal_position, data_type, is_nullable, numeric_precision, numeric_precision_radix, numeric_scale, datetime_precision, udt_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 3",
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    "SELECT c.relname, a.attname, a.attnum FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, 3",
    "SELECT t.table_name, count(*) AS columns FROM information_schema.tables t JOIN information_schema.columns c ON c.table_name = t.table_name WHERE t.table_schema = 'public' GROUP BY t.table_name ORDER BY 1",
]
errors = [
 ("SELECT * FROM l, l", "table name \"l\" specified more than once"),
 ("SELECT * FROM l JOIN r USING (k, k)", "appears more than once in USING clause"),
 ("SELECT count(*) FROM t3 a1 JOIN (t3 a0 JOIN t3 z ON a0.x = z.x) USING (x)", "common column name \"x\" appears more than once"),
 ("WITH w AS (SELECT 1 AS x) SELECT w.y FROM w", "column w.y does not exist"),
 ("SELECT s.zz FROM (SELECT 1 AS a) s", "column s.zz does not exist"),
 ("SELECT id FROM store JOIN sale ON store_id = id JOIN store s2 ON s2.id = store_id", "ambiguous"),
 ("SELECT (SELECT qty FROM sale) FROM store", "more than one row returned by a subquery used as an expression"),
 ("SELECT name FROM product WHERE name IN (SELECT product, qty FROM sale)", "subquery must return only one column"),
 ("SELECT 1 UNION SELECT 1, 2", "each UNION query must have the same number of columns"),
 ("SELECT city FROM store UNION SELECT qty FROM sale", "UNION types text and integer cannot be matched"),
 ("SELECT * FROM store JOIN nosuch ON true", "relation \"nosuch\" does not exist"),
 ("SELECT x.y FROM store s", "missing FROM-clause entry for table \"x\""),
 ("SELECT * FROM store a JOIN store b USING (nope)", "column \"nope\" specified in USING clause does not exist"),
]
# what PostgreSQL accepts but factdb refuses, with a message saying so
refused = [
 ("SELECT k FROM l WHERE EXISTS (SELECT 1 FROM r WHERE r.k = l.k AND EXISTS (SELECT 1 FROM t3 WHERE t3.x = l.k))", "two levels of correlation are not supported"),
 ("SELECT count(*) FROM t3 a0 " + " ".join("LEFT JOIN t3 a%d ON a%d.y = a%d.y" % (i, i - 1, i) for i in range(1, 80)), "too many tables in one FROM clause"),
 ("WITH RECURSIVE t AS (SELECT 1) SELECT * FROM t", "WITH RECURSIVE is not supported"),
]
pg_gen.write_test('jt', ["# Joins, derived tables, WITH, set operations and subqueries (issue 13), with PostgreSQL 15's answers",
       "# (made by psql --csv on the same statements). The runner uses 2 threads."], setup, queries, errors, refused)
