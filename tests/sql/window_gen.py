#!/usr/bin/python3
"""Makes tests/sql/window.test: every query's expected answer is PostgreSQL 15's (psql --csv). Run against a
scratch cluster (pg_gen.py names its socket): /usr/bin/python3 tests/sql/window_gen.py > tests/sql/window.test
Every query orders its rows completely, and functions that depend on the order among peers (row_number,
first_value, lag, ...) are only used over orders without ties, so the answers are PostgreSQL's only ones."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg_gen  # noqa: E402
setup = [
 "CREATE TABLE s (id integer, region text, city text, d date, qty integer, price numeric(10,2), w double precision, big bigint)",
 "INSERT INTO s VALUES (1, 'North', 'Milano', '2026-01-01', 5, 10.50, 1.5, 100), (2, 'North', 'Torino', '2026-01-01', 3, 2.25, 0.5, 200), "
 "(3, 'North', 'Milano', '2026-01-02', NULL, 7.00, 2.25, NULL), (4, 'South', 'Napoli', '2026-01-01', 7, 0.99, NULL, 300), "
 "(5, 'South', 'Bari', '2026-01-03', 7, 1.00, 3.0, 400), (6, 'South', 'Napoli', '2026-01-04', 2, NULL, 0.25, 500), "
 "(7, NULL, 'Nowhere', '2026-01-02', 1, 5.00, 1.0, 600), (8, NULL, NULL, NULL, 4, 3.50, 4.5, 700), "
 "(9, 'Center', 'Roma', '2026-01-05', 9, 12.00, 0.75, 800), (10, 'North', 'Torino', '2026-01-03', 3, 2.25, 2.0, 900)",
 "CREATE TABLE r (region text, manager text, target integer)",
 "INSERT INTO r VALUES ('North', 'Anna', 10), ('South', 'Bruno', 20), ('Center', 'Carla', 5), ('West', 'Dario', 1)",
]
queries = [
 # ranking, with ties and NULLs in the ORDER BY
 "SELECT id, row_number() OVER (ORDER BY id) FROM s ORDER BY id",
 "SELECT id, qty, rank() OVER (ORDER BY qty), dense_rank() OVER (ORDER BY qty) FROM s ORDER BY id",
 "SELECT id, qty, rank() OVER (ORDER BY qty DESC), dense_rank() OVER (ORDER BY qty DESC NULLS LAST) FROM s ORDER BY id",
 "SELECT id, qty, percent_rank() OVER (ORDER BY qty), cume_dist() OVER (ORDER BY qty) FROM s ORDER BY id",
 "SELECT id, region, rank() OVER (PARTITION BY region ORDER BY qty NULLS FIRST) AS r, percent_rank() OVER (PARTITION BY region ORDER BY qty NULLS FIRST) AS pr FROM s ORDER BY id",
 "SELECT id, row_number() OVER (PARTITION BY region ORDER BY id DESC) AS rn FROM s ORDER BY id",
 "SELECT id, ntile(3) OVER (ORDER BY id) AS t3, ntile(4) OVER (PARTITION BY region ORDER BY id) AS t4, ntile(20) OVER (ORDER BY id) AS t20 FROM s ORDER BY id",
 "SELECT id, rank() OVER () AS r, cume_dist() OVER () AS c FROM s ORDER BY id",
 # lag / lead
 "SELECT id, qty, lag(qty) OVER (ORDER BY id), lead(qty) OVER (ORDER BY id) FROM s ORDER BY id",
 "SELECT id, lag(qty, 2) OVER (ORDER BY id) AS l2, lead(qty, 3, -1) OVER (ORDER BY id) AS l3, lag(qty, 0) OVER (ORDER BY id) AS l0 FROM s ORDER BY id",
 "SELECT id, city, lag(city, 1, 'none') OVER (PARTITION BY region ORDER BY id) AS prev, lead(price, 1, 0) OVER (PARTITION BY region ORDER BY id) AS next FROM s ORDER BY id",
 "SELECT id, lag(id, -1) OVER (ORDER BY id) AS back, lead(w, 1, 0.5) OVER (ORDER BY id) AS lw, lag(d) OVER (ORDER BY id) AS ld FROM s ORDER BY id",
 "SELECT id, qty - lag(qty) OVER (ORDER BY id) AS delta FROM s ORDER BY id",
 # first / last / nth value
 "SELECT id, first_value(city) OVER (PARTITION BY region ORDER BY id), last_value(city) OVER (PARTITION BY region ORDER BY id) FROM s ORDER BY id",
 "SELECT id, last_value(id) OVER (ORDER BY qty, id) AS lv, first_value(id) OVER (ORDER BY qty DESC, id) AS fv FROM s ORDER BY id",
 "SELECT id, nth_value(id, 2) OVER (ORDER BY id) AS n2, nth_value(city, 3) OVER (PARTITION BY region ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS n3 FROM s ORDER BY id",
 "SELECT id, last_value(id) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS lv, first_value(id) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING) AS fv FROM s ORDER BY id",
 # aggregates over the default frames
 "SELECT id, count(*) OVER () AS n, sum(qty) OVER () AS total, avg(qty) OVER () AS mean, min(qty) OVER () AS lo, max(city) OVER () AS hi FROM s ORDER BY id",
 "SELECT id, region, count(qty) OVER (PARTITION BY region) AS n, sum(price) OVER (PARTITION BY region) AS total, avg(price) OVER (PARTITION BY region) AS mean FROM s ORDER BY id",
 "SELECT id, qty, sum(qty) OVER (ORDER BY qty) AS running, count(*) OVER (ORDER BY qty) AS c, avg(w) OVER (ORDER BY qty) AS aw FROM s ORDER BY id",
 "SELECT id, sum(qty) OVER (PARTITION BY region ORDER BY id) AS running, max(price) OVER (PARTITION BY region ORDER BY id) AS mx, min(w) OVER (PARTITION BY region ORDER BY id) AS mn FROM s ORDER BY id",
 "SELECT id, sum(big) OVER (ORDER BY id) AS sb, avg(big) OVER (ORDER BY id) AS ab, sum(w) OVER (ORDER BY id) AS sw FROM s ORDER BY id",
 "SELECT id, count(*) FILTER (WHERE qty > 3) OVER (ORDER BY id) AS c, sum(qty) FILTER (WHERE region = 'North') OVER () AS sn FROM s ORDER BY id",
 "SELECT id, round(stddev(w) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)::numeric, 10) AS sd, round(variance(w) OVER (PARTITION BY region)::numeric, 10) AS v, round(stddev_samp(qty) OVER (ORDER BY id)::numeric, 8) AS sq FROM s ORDER BY id",
 "SELECT id, (bool_and(qty > 2) OVER (ORDER BY id))::text AS a, (bool_or(qty > 6) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING))::text AS o, (every(price > 1) OVER (PARTITION BY region))::text AS e FROM s ORDER BY id",
 # ROWS frames
 "SELECT id, sum(qty) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS s3, avg(qty) OVER (ORDER BY id ROWS 2 PRECEDING) AS a3 FROM s ORDER BY id",
 "SELECT id, sum(qty) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS rest, count(*) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS n FROM s ORDER BY id",
 "SELECT id, min(qty) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS mn, max(qty) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING) AS mx FROM s ORDER BY id",
 "SELECT id, sum(qty) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 3 FOLLOWING) AS ahead, sum(qty) OVER (ORDER BY id ROWS BETWEEN 3 PRECEDING AND 2 PRECEDING) AS behind FROM s ORDER BY id",
 "SELECT id, sum(w) OVER (PARTITION BY region ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS sw, max(city) OVER (PARTITION BY region ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS mc FROM s ORDER BY id",
 "SELECT id, count(*) OVER (ORDER BY id ROWS BETWEEN 5 FOLLOWING AND 2 FOLLOWING) AS empty, sum(qty) OVER (ROWS BETWEEN 100 PRECEDING AND 100 FOLLOWING) AS whole FROM s ORDER BY id",
 "SELECT id, sum(price) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) AS sp, avg(price) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) AS ap FROM s ORDER BY id",
 # RANGE frames
 "SELECT id, qty, sum(qty) OVER (ORDER BY qty RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS a, sum(qty) OVER (ORDER BY qty RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS b FROM s ORDER BY id",
 "SELECT id, count(*) OVER (PARTITION BY region RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS n, sum(qty) OVER (ORDER BY qty DESC RANGE UNBOUNDED PRECEDING) AS d FROM s ORDER BY id",
 "SELECT id, qty, max(id) OVER (ORDER BY qty RANGE BETWEEN CURRENT ROW AND CURRENT ROW) AS peers_max, count(*) OVER (ORDER BY qty RANGE BETWEEN CURRENT ROW AND CURRENT ROW) AS peers FROM s WHERE qty IS NOT NULL ORDER BY id",
 # RANGE frames with offsets: numbers, numerics, doubles, dates with intervals, DESC, NULL keys
 "SELECT id, sum(qty) OVER (ORDER BY id RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM s ORDER BY id",
 "SELECT id, qty, sum(id) OVER (ORDER BY qty RANGE BETWEEN 2 PRECEDING AND 1 FOLLOWING) AS a, count(*) OVER (ORDER BY qty DESC RANGE BETWEEN 1 PRECEDING AND 2 FOLLOWING) AS b FROM s ORDER BY id",
 "SELECT id, qty, count(*) OVER (ORDER BY qty NULLS FIRST RANGE BETWEEN 1 FOLLOWING AND 3 FOLLOWING) AS a, max(id) OVER (ORDER BY qty DESC NULLS LAST RANGE BETWEEN 3 PRECEDING AND 1 PRECEDING) AS b FROM s ORDER BY id",
 "SELECT id, d, count(*) OVER (ORDER BY d RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW) AS a, sum(qty) OVER (ORDER BY d DESC RANGE BETWEEN CURRENT ROW AND INTERVAL '2 days' FOLLOWING) AS b FROM s ORDER BY id",
 "SELECT id, price, sum(qty) OVER (PARTITION BY region ORDER BY price RANGE BETWEEN 2.5 PRECEDING AND 2.5 FOLLOWING) FROM s ORDER BY id",
 "SELECT id, w, count(*) OVER (ORDER BY w RANGE BETWEEN 1 PRECEDING AND 0.5 FOLLOWING) FROM s ORDER BY id",
 "SELECT id, big, first_value(id) OVER (ORDER BY big RANGE 250 PRECEDING), last_value(id) OVER (ORDER BY big RANGE BETWEEN UNBOUNDED PRECEDING AND 150 FOLLOWING) FROM s ORDER BY id",
 "SELECT id, qty, sum(qty) OVER (ORDER BY qty RANGE BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) FROM s ORDER BY id",
 # GROUPS frames: offsets count peer groups
 "SELECT id, qty, sum(id) OVER (ORDER BY qty GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS a, count(*) OVER (ORDER BY qty DESC GROUPS BETWEEN CURRENT ROW AND 2 FOLLOWING) AS b FROM s ORDER BY id",
 "SELECT id, qty, max(id) OVER (ORDER BY qty NULLS FIRST GROUPS BETWEEN 2 PRECEDING AND 1 PRECEDING) AS a, min(id) OVER (ORDER BY qty GROUPS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS b, count(*) OVER (PARTITION BY region ORDER BY qty GROUPS 1 PRECEDING) c FROM s ORDER BY id",
 "SELECT id, last_value(id) OVER (ORDER BY d, id GROUPS BETWEEN 0 FOLLOWING AND 0 FOLLOWING) AS lv, sum(qty) OVER (ORDER BY region GROUPS BETWEEN 3 FOLLOWING AND 7 FOLLOWING) AS s FROM s ORDER BY id",
 # EXCLUDE
 "SELECT id, qty, sum(qty) OVER (ORDER BY qty ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE CURRENT ROW) AS a, sum(id) OVER (ORDER BY qty RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS b, sum(id) OVER (ORDER BY qty GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE TIES) AS c FROM s ORDER BY id",
 "SELECT id, qty, count(*) OVER (ORDER BY qty RANGE BETWEEN CURRENT ROW AND CURRENT ROW EXCLUDE TIES) AS a, max(id) OVER (ORDER BY qty RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE GROUP) AS b, min(id) OVER (ORDER BY qty GROUPS BETWEEN CURRENT ROW AND 1 FOLLOWING EXCLUDE TIES) AS c, min(qty) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE CURRENT ROW) AS d FROM s ORDER BY id",
 "SELECT id, qty, first_value(id) OVER (ORDER BY qty, id ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING EXCLUDE CURRENT ROW) AS a, last_value(id) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW) AS b, nth_value(id, 2) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING EXCLUDE CURRENT ROW) AS c FROM s ORDER BY id",
 "SELECT id, count(*) OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE GROUP) AS g, avg(qty) OVER (PARTITION BY region ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE CURRENT ROW) AS a, sum(qty) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE NO OTHERS) AS n FROM s ORDER BY id",
 # windows over GROUP BY
 "SELECT region, sum(qty) AS q, sum(sum(qty)) OVER () AS total, rank() OVER (ORDER BY sum(qty) DESC) AS r FROM s GROUP BY region ORDER BY region",
 "SELECT region, count(*) AS n, rank() OVER (ORDER BY count(*) DESC) AS r, 100.0 * sum(qty) / sum(sum(qty)) OVER () AS pct FROM s GROUP BY region ORDER BY r, region",
 "SELECT d, sum(qty) AS q, sum(sum(qty)) OVER (ORDER BY d) AS running, avg(sum(qty)) OVER (ORDER BY d ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS moving FROM s WHERE d IS NOT NULL GROUP BY d ORDER BY d",
 "SELECT region, city, sum(qty) AS q, row_number() OVER (PARTITION BY region ORDER BY sum(qty) DESC, city) AS rn FROM s GROUP BY region, city ORDER BY 1, 4",
 "SELECT region, max(price) - lag(max(price)) OVER (ORDER BY region) AS diff FROM s GROUP BY 1 HAVING count(*) > 1 ORDER BY 1",
 # over joins, in derived tables and WITH, DISTINCT, ORDER BY a window, LIMIT
 "SELECT s.id, r.manager, sum(s.qty) OVER (PARTITION BY r.manager ORDER BY s.id) AS running FROM s JOIN r ON s.region = r.region ORDER BY s.id",
 "SELECT r.region, count(s.id) AS n, dense_rank() OVER (ORDER BY count(s.id)) AS dr FROM r LEFT JOIN s ON s.region = r.region GROUP BY r.region ORDER BY r.region",
 "SELECT * FROM (SELECT id, region, row_number() OVER (PARTITION BY region ORDER BY qty DESC NULLS LAST, id) AS rn FROM s) t WHERE rn = 1 ORDER BY id",
 "WITH t AS (SELECT region, sum(qty) AS q FROM s GROUP BY region) SELECT region, q, q * 100 / sum(q) OVER () AS share FROM t ORDER BY region",
 "SELECT DISTINCT region, count(*) OVER (PARTITION BY region) AS n FROM s ORDER BY region",
 "SELECT id, rank() OVER (ORDER BY price DESC NULLS LAST) AS r FROM s ORDER BY rank() OVER (ORDER BY price DESC NULLS LAST), id LIMIT 5",
 "SELECT id, sum(qty) OVER (ORDER BY id) AS running FROM s ORDER BY running DESC NULLS LAST, id LIMIT 3 OFFSET 1",
 "SELECT id, region FROM s ORDER BY row_number() OVER (ORDER BY id DESC) LIMIT 4",
 "SELECT *, row_number() OVER (ORDER BY target DESC) AS rn FROM r ORDER BY rn",
 "SELECT *, *, rank() OVER (ORDER BY target) FROM r ORDER BY 1",
 "SELECT r.*, rank() OVER (ORDER BY r.target), x.* FROM r JOIN r x USING (region) ORDER BY 1",
 "SELECT *, lag(manager) OVER (ORDER BY region) FROM r JOIN (SELECT region, target AS t2 FROM r) y USING (region) ORDER BY 1",
 "SELECT count(*) OVER () AS n, 1 + rank() OVER () AS r",
 "SELECT id, CASE WHEN rank() OVER (ORDER BY qty DESC NULLS LAST) <= 3 THEN 'top' ELSE 'rest' END AS tier FROM s ORDER BY id",
 "SELECT region, city, id FROM s WHERE id IN (SELECT id FROM (SELECT id, rank() OVER (PARTITION BY region ORDER BY price) AS r FROM s) x WHERE r = 1) ORDER BY id",
 "SELECT id, sum(qty) OVER (ORDER BY id) FROM s UNION ALL SELECT 100, count(*) OVER () FROM r ORDER BY 1, 2",
 "SELECT id, round(avg(qty) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING), 2) AS r, sum(qty) OVER (ORDER BY id) * 2 AS twice FROM s ORDER BY id",
 # named windows (the WINDOW clause)
 "SELECT id, sum(qty) OVER w, rank() OVER w, count(*) OVER (w ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM s WINDOW w AS (PARTITION BY region ORDER BY id) ORDER BY id",
 "SELECT id, sum(qty) OVER (w ORDER BY id) AS a, count(*) OVER w AS b FROM s WINDOW w AS (PARTITION BY region) ORDER BY id",
 "SELECT id, sum(qty) OVER w2 FROM s WINDOW w1 AS (PARTITION BY region), w2 AS (w1 ORDER BY id DESC) ORDER BY id",
 "SELECT id, sum(qty) OVER w FROM s WINDOW w AS (ORDER BY id ROWS 1 PRECEDING) ORDER BY id",
 "SELECT region, sum(sum(qty)) OVER w FROM s GROUP BY region WINDOW w AS (ORDER BY region) ORDER BY 1",
 "SELECT id FROM s WINDOW w AS (ORDER BY id) ORDER BY id LIMIT 2",
 "SELECT id, max(d) OVER (PARTITION BY region) AS last_day, min(city) OVER (PARTITION BY region ORDER BY id DESC) AS mc FROM s ORDER BY id",
 # types: per-value-scale numerics, text defaults cast to the value's type, dates, booleans, empty inputs
 "SELECT id, sum(price * qty) OVER (ORDER BY id) AS sv, avg(price * qty) OVER (PARTITION BY region) AS av, max(price / 3) OVER (ORDER BY id ROWS 1 PRECEDING) AS mx FROM s ORDER BY id",
 "SELECT id, lag(qty, 1, '0') OVER (ORDER BY id) AS a, lead(qty, 2, NULL) OVER (ORDER BY id) AS b, lag(price, 1, 1) OVER (ORDER BY id) AS c, lag(qty, 1, 0.5) OVER (ORDER BY id) AS e FROM s ORDER BY id",
 "SELECT id, min(city || 'x') OVER (ORDER BY id) AS x, first_value(d) OVER (ORDER BY id DESC) AS fd, max(d + 1) OVER () AS md FROM s ORDER BY id",
 "SELECT id, row_number() OVER (ORDER BY id), sum(qty) OVER () FROM s WHERE id > 100",
 "SELECT region, count(*) AS n, sum(count(*)) OVER (ORDER BY region NULLS FIRST) AS c FROM s WHERE id > 100 GROUP BY region ORDER BY 1",
 "SELECT region AS g, sum(qty), rank() OVER (ORDER BY sum(qty)) FROM s GROUP BY g ORDER BY 1 NULLS FIRST",
 "SELECT region, sum(qty), rank() OVER (ORDER BY sum(qty)) FROM s GROUP BY 1 ORDER BY 3, 1",
 "SELECT id, count(*) OVER (PARTITION BY region, city) AS n, row_number() OVER (PARTITION BY region, city ORDER BY d DESC NULLS LAST, id) AS rn FROM s ORDER BY id",
 "SELECT id, sum(qty) OVER (ORDER BY d NULLS FIRST, id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS a, sum(qty) OVER (ORDER BY d DESC) AS b FROM s ORDER BY id",
 "SELECT x.region, x.n, lead(x.n) OVER (ORDER BY x.region) AS nxt FROM (SELECT region, count(*) AS n FROM s GROUP BY region) x ORDER BY 1",
 "SELECT id, percent_rank() OVER (PARTITION BY region ORDER BY w) AS p, cume_dist() OVER (PARTITION BY region ORDER BY w DESC) AS c FROM s ORDER BY id",
 "SELECT id, sum(w) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) AS sw, avg(w) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND 3 FOLLOWING) AS aw, min(w) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS mw FROM s ORDER BY id",
]
errors = [
 ("SELECT id FROM s WHERE row_number() OVER () > 1", "window functions are not allowed in WHERE"),
 ("SELECT region FROM s GROUP BY region HAVING rank() OVER () > 1", "window functions are not allowed in HAVING"),
 ("SELECT count(*) FROM s GROUP BY row_number() OVER ()", "window functions are not allowed in GROUP BY"),
 ("SELECT sum(row_number() OVER ()) FROM s", "aggregate function calls cannot contain window function calls"),
 ("SELECT sum(rank() OVER ()) OVER () FROM s", "window function calls cannot be nested"),
 ("SELECT row_number() FROM s", "window function row_number requires an OVER clause"),
 ("SELECT lower(city) OVER () FROM s", "OVER specified, but lower is not a window function nor an aggregate function"),
 ("SELECT ntile(0) OVER (ORDER BY id) FROM s", "argument of ntile must be greater than zero"),
 ("SELECT nth_value(id, 0) OVER (ORDER BY id) FROM s", "argument of nth_value must be greater than zero"),
 ("SELECT sum(qty) OVER (ROWS BETWEEN UNBOUNDED FOLLOWING AND CURRENT ROW) FROM s", "frame start cannot be UNBOUNDED FOLLOWING"),
 ("SELECT sum(qty) OVER (ROWS BETWEEN CURRENT ROW AND UNBOUNDED PRECEDING) FROM s", "frame end cannot be UNBOUNDED PRECEDING"),
 ("SELECT sum(qty) OVER (ROWS BETWEEN CURRENT ROW AND 1 PRECEDING) FROM s", "frame starting from current row cannot have preceding rows"),
 ("SELECT sum(qty) OVER (ROWS BETWEEN 1 FOLLOWING AND CURRENT ROW) FROM s", "frame starting from following row cannot have preceding rows"),
 ("SELECT sum(qty) OVER (ORDER BY id ROWS -1 PRECEDING) FROM s", "frame starting offset must not be negative"),
 ("SELECT count(DISTINCT qty) OVER () FROM s", "DISTINCT is not implemented for window functions"),
 ("SELECT rank(id) OVER () FROM s", "function rank(integer) does not exist"),
 ("SELECT sum(city) OVER () FROM s", "function sum(text) does not exist"),
 ("SELECT bool_and(qty) OVER () FROM s", "function bool_and(integer) does not exist"),
 ("SELECT region, sum(qty) OVER () FROM s GROUP BY region", "must appear in the GROUP BY clause"),
 ("SELECT s.id FROM s JOIN r ON rank() OVER () = 1", "window functions are not allowed in JOIN conditions"),
 ("SELECT row_number() OVER (ORDER BY nosuch) FROM s", "column \"nosuch\" does not exist"),
 ("SELECT sum(qty) OVER (ORDER BY id ROWS qty PRECEDING) FROM s", "argument of ROWS must not contain variables"),
 ("SELECT lag(qty, 1, 'x') OVER (ORDER BY id) FROM s", "invalid input syntax for type integer"),
 ("SELECT lag(qty, 1, 'x'::text) OVER (ORDER BY id) FROM s", "does not exist"),
 ("SELECT ntile(3000000000) OVER () FROM s", "function ntile(bigint) does not exist"),
 ("SELECT sum(qty) OVER (ORDER BY id ROWS NULL PRECEDING) FROM s", "frame starting offset must not be null"),
 ("SELECT id, rank() OVER () FROM s GROUP BY 2", "window functions are not allowed in GROUP BY"),
 ("SELECT id, sum(qty) OVER x FROM s WINDOW w AS (ORDER BY id)", "window \"x\" does not exist"),
 ("SELECT id, sum(qty) OVER (w PARTITION BY city) FROM s WINDOW w AS (ORDER BY id)", "cannot override PARTITION BY clause of window \"w\""),
 ("SELECT id, sum(qty) OVER (w ORDER BY city) FROM s WINDOW w AS (ORDER BY id)", "cannot override ORDER BY clause of window \"w\""),
 ("SELECT id, sum(qty) OVER (w) FROM s WINDOW w AS (ORDER BY id ROWS 1 PRECEDING)", "cannot copy window \"w\" because it has a frame clause"),
 ("SELECT id FROM s WINDOW w AS (ORDER BY id), w AS (ORDER BY qty)", "window \"w\" is already defined"),
 ("SELECT id, rank() OVER w FROM s WINDOW w AS (w2), w2 AS (ORDER BY id)", "window \"w2\" does not exist"),
 ("SELECT id, sum(qty) OVER (ORDER BY id, qty RANGE 1 PRECEDING) FROM s", "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column"),
 ("SELECT id, sum(qty) OVER (ORDER BY d RANGE 1 PRECEDING) FROM s", "RANGE with offset PRECEDING/FOLLOWING is not supported for column type date and offset type integer"),
 ("SELECT id, sum(qty) OVER (ORDER BY id RANGE -1 PRECEDING) FROM s", "invalid preceding or following size in window function"),
 ("SELECT id, sum(qty) OVER (ORDER BY d RANGE INTERVAL '-1 day' PRECEDING) FROM s", "invalid preceding or following size in window function"),
 ("SELECT id, sum(qty) OVER (GROUPS 1 PRECEDING) FROM s", "GROUPS mode requires an ORDER BY clause"),
 ("SELECT id, sum(qty) OVER (ORDER BY id GROUPS qty PRECEDING) FROM s", "argument of GROUPS must not contain variables"),
 ("SELECT id FROM s WINDOW w AS (PARTITION BY nosuch)", "column \"nosuch\" does not exist"),
]
# what PostgreSQL accepts but factdb refuses, with a message saying so
refused = [
]
pg_gen.write_test('wint', ["# Window functions (issue 13), with PostgreSQL 15's answers (made by psql --csv on the same statements by",
       "# window_gen.py). The runner uses 2 threads."], setup, queries, errors, refused)
