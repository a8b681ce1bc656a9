"""append() of lists and DataFrames (one commit, all or nothing), df() and fetchnumpy() of large results."""
import datetime as dt
import subprocess
import time
from decimal import Decimal

import pytest

import factdb
from conftest import ASAN, FACTDB_BIN, PYTHON, child_env

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")


def test_append_rows_tuples_and_dicts(con):
    con.execute("CREATE TABLE t (id bigint NOT NULL, kind text, amount numeric(10,2), day date)")
    n = con.append("t", [(1, "a", Decimal("1.10"), dt.date(2024, 1, 1)),
                         {"id": 2, "kind": "b"},
                         (3, None, 2.5, "2024-01-03")])
    assert n == 3
    assert con.execute("SELECT * FROM t ORDER BY id").fetchall() == [
        (1, "a", Decimal("1.10"), dt.date(2024, 1, 1)), (2, "b", None, None),
        (3, None, Decimal("2.50"), dt.date(2024, 1, 3))]


def test_append_is_all_or_nothing(con):
    con.execute("CREATE TABLE t (id bigint NOT NULL, s text)")
    rows = [(i, "x") for i in range(100000)] + [(None, "bad")]
    with pytest.raises(factdb.IntegrityError) as ei:
        con.append("t", rows)
    assert "row 100001" in str(ei.value)
    with pytest.raises(factdb.DataError, match="row 3"):
        con.append("t", [(1, "a"), (2, "b"), ("three", "c")])
    with pytest.raises(factdb.ProgrammingError, match="no column"):
        con.append("t", [{"id": 1, "nope": 2}])
    with pytest.raises(factdb.ProgrammingError, match="2 columns"):
        con.append("t", [(1,)])
    with pytest.raises(factdb.ProgrammingError) as ei:
        con.append("missing", [(1,)])
    assert ei.value.code == "NO_TABLE"
    assert con.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_append_inside_a_transaction(db, con):
    con.execute("CREATE TABLE t (id bigint NOT NULL)")
    other = factdb.connect(db)
    with con.transaction():
        con.execute("INSERT INTO t VALUES (0)")
        assert con.append("t", [(i,) for i in range(1, 70001)]) == 70000  # more than a chunk
        assert con.execute("SELECT count(*) FROM t").fetchone() == (70001,)
        assert other.execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert other.execute("SELECT count(*) FROM t").fetchone() == (70001,)
    con.begin()
    con.append("t", pd.DataFrame({"id": [1, 2]}))
    con.rollback()
    assert other.execute("SELECT count(*) FROM t").fetchone() == (70001,)
    # a failed append fails the transaction, as a failed statement does: only rollback remains
    con.begin()
    with pytest.raises(factdb.IntegrityError):
        con.append("t", [(i,) for i in range(70000)] + [(None,)])
    with pytest.raises(factdb.ProgrammingError, match="aborted"):
        con.execute("INSERT INTO t VALUES (5)")
    con.commit()  # rolls back, as in PostgreSQL
    assert not con.in_transaction
    assert other.execute("SELECT count(*) FROM t").fetchone() == (70001,)


def test_append_dataframe(con):
    con.execute("CREATE TABLE t (id bigint, ok boolean, x double precision, amount numeric(8,2), "
                "ts timestamp, tz timestamptz, day date, s text, small integer)")
    df = pd.DataFrame({
        "id": np.arange(5, dtype=np.int64),
        "ok": [True, False, True, False, True],
        "x": [0.5, np.nan, 2.5, -1.0, 1e300],
        "amount": [1.005, 2.0, None, 3.25, -4.5],
        "ts": pd.to_datetime(["2024-01-01 12:00:00.123456", None, "1969-12-31 23:59:59", "2262-04-11", "1970-01-01"]),
        "tz": pd.to_datetime(["2024-01-01 12:00:00+01:00"] * 5, utc=True),
        "day": pd.to_datetime(["2024-01-31"] * 5),
        "s": ["a", None, "ü", "b", "a"],
        "small": np.array([1, 2, 3, 4, 5], dtype=np.int16),
    })
    assert con.append("t", df) == 5
    rows = con.execute("SELECT * FROM t ORDER BY id").fetchall()
    assert rows[0] == (0, True, 0.5, Decimal("1.01"), dt.datetime(2024, 1, 1, 12, 0, 0, 123456),
                       dt.datetime(2024, 1, 1, 11, tzinfo=dt.timezone.utc), dt.date(2024, 1, 31), "a", 1)
    assert rows[1][2] is None and rows[1][4] is None and rows[1][7] is None  # NaN, NaT, None -> NULL
    assert rows[2][3] is None and rows[2][4] == dt.datetime(1969, 12, 31, 23, 59, 59)
    # a subset of the columns, by name; the others are NULL
    con.append("t", pd.DataFrame({"s": ["only"], "id": [9]}))
    assert con.execute("SELECT id, x, s FROM t WHERE id = 9").fetchone() == (9, None, "only")
    with pytest.raises(factdb.ProgrammingError, match="no column"):
        con.append("t", pd.DataFrame({"zz": [1]}))
    # nullable pandas dtypes
    con.append("t", pd.DataFrame({"id": pd.array([10, None], dtype="Int64"), "s": ["n1", "n2"]}))
    assert con.execute("SELECT id FROM t WHERE s LIKE 'n%' ORDER BY s").fetchall() == [(10,), (None,)]


def test_df_and_fetchnumpy_types(con):
    con.execute("CREATE TABLE t (i integer, b bigint, f double precision, n numeric(10,2), s text, d date, "
                "ts timestamp, tz timestamptz, ok boolean)")
    con.append("t", [(1, 10, 1.5, Decimal("2.25"), "x", dt.date(2024, 1, 31), dt.datetime(2024, 1, 31, 1, 2, 3),
                      dt.datetime(2024, 1, 31, tzinfo=dt.timezone.utc), True),
                     (None,) * 9])
    df = con.execute("SELECT * FROM t ORDER BY i NULLS LAST").df()
    assert list(df.columns) == ["i", "b", "f", "n", "s", "d", "ts", "tz", "ok"]
    assert str(df.dtypes["i"]) == "Int32" and str(df.dtypes["b"]) == "Int64"
    assert df["f"].dtype == np.float64 and df["n"].dtype == np.float64 and df["n"][0] == 2.25
    assert df["s"].tolist() == ["x", None]
    assert df["d"][0] == pd.Timestamp("2024-01-31") and pd.isna(df["d"][1])
    assert df["ts"][0] == pd.Timestamp("2024-01-31 01:02:03") and str(df["tz"].dt.tz) == "UTC"
    assert str(df.dtypes["ok"]) == "boolean" and bool(df["ok"][0]) and pd.isna(df["ok"][1])
    arrs = con.execute("SELECT i, s, d FROM t ORDER BY i NULLS LAST").fetchnumpy()
    assert isinstance(arrs["i"], np.ma.MaskedArray) and arrs["i"].mask.tolist() == [False, True]
    assert arrs["d"].dtype == np.dtype("datetime64[D]")
    # without NULLs: plain arrays, the fetch position moves to the end
    cur = con.execute("SELECT b FROM t WHERE b IS NOT NULL")
    assert cur.fetchnumpy()["b"].tolist() == [10]
    assert cur.fetchall() == []
    # df() after fetchone: the remaining rows
    cur = con.execute("SELECT b FROM t ORDER BY b NULLS LAST")
    cur.fetchone()
    assert len(cur.df()) == 1


def test_big_result_to_pandas(con):
    n = 300000 if ASAN else 1000000
    con.execute("CREATE TABLE big (id bigint, kind text, amount numeric(12,2), ts timestamp, x double precision)")
    base = np.datetime64("2024-01-01T00:00:00", "us")
    df = pd.DataFrame({"id": np.arange(n, dtype=np.int64),
                       "kind": np.array(["order", "refund", "view", "click"], dtype=object)[np.arange(n) % 4],
                       "amount": (np.arange(n) % 10000) / 100.0,
                       "ts": base + np.arange(n).astype("timedelta64[s]"),
                       "x": np.arange(n) * 0.5})
    t0 = time.perf_counter()
    assert con.append("big", df) == n
    t_append = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = con.execute("SELECT * FROM big").df()
    t_df = time.perf_counter() - t0
    assert len(out) == n
    out = out.sort_values("id").reset_index(drop=True)
    assert (out["id"].to_numpy() == df["id"].to_numpy()).all()
    assert (out["kind"] == df["kind"]).all()
    assert np.allclose(out["amount"].to_numpy(), df["amount"].to_numpy())
    assert (out["ts"].to_numpy() == df["ts"].to_numpy().astype("datetime64[ns]")).all()
    print("append %d rows: %.3f s; df: %.3f s" % (n, t_append, t_df))
    if not ASAN:
        assert t_append < 10 and t_df < 5  # generous: the benchmark (make bench-python) measures


def test_python_m_factdb_prints_like_the_cli(db):
    c = factdb.connect(db)
    c.execute("CREATE TABLE t (k text, v numeric(6,2))")
    c.execute("INSERT INTO t VALUES ('a', 1.5), ('bb', NULL)")
    c.close()
    out = subprocess.run([PYTHON, "-m", "factdb", db, "SELECT k, v FROM t ORDER BY k"], capture_output=True,
                         text=True, env=child_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    cli = subprocess.run([FACTDB_BIN, "sql", db, "SELECT k, v FROM t ORDER BY k"], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout == cli.stdout, (out.stdout, cli.stdout)
    for fmt in ("table", "json"):
        a = subprocess.run([PYTHON, "-m", "factdb", "--format", fmt, db, "SELECT k, v FROM t ORDER BY k"],
                           capture_output=True, text=True, env=child_env(), timeout=60)
        b = subprocess.run([FACTDB_BIN, "sql", "--format", fmt, db, "SELECT k, v FROM t ORDER BY k"],
                           capture_output=True, text=True, timeout=60)
        assert a.stdout == b.stdout, (fmt, a.stdout, b.stdout)
    bad = subprocess.run([PYTHON, "-m", "factdb", db, "SELEC 1"], capture_output=True, text=True, env=child_env())
    assert bad.returncode == 1 and "syntax error" in bad.stderr
    csv = subprocess.run([PYTHON, "-m", "factdb", db, "SELECT k FROM t ORDER BY k"], capture_output=True,
                         text=True, env=child_env())
    assert csv.stdout == "k\na\nbb\n"
    tag = subprocess.run([PYTHON, "-m", "factdb", "--format", "table", db, "INSERT INTO t VALUES ('c', 2)"],
                         capture_output=True, text=True, env=child_env(), timeout=60)
    assert tag.stdout == "INSERT 0 1\n"


def test_df_edge_columns(con):
    con.execute("CREATE TABLE e (a bigint, d date, ts timestamp)")
    con.append("e", [(1, dt.date(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59)), (2, None, None)])
    df = con.execute("SELECT a, a, d, ts FROM e ORDER BY a").df()
    assert list(df.columns) == ["a", "a", "d", "ts"]  # duplicate names kept, in order
    assert df.iloc[0, 2] == dt.date(1, 1, 1) and df.iloc[0, 3] == dt.datetime(9999, 12, 31, 23, 59)
    assert df.iloc[1, 2] is None and df.iloc[1, 3] is None
    empty = con.execute("SELECT a, d FROM e WHERE a > 100").df()
    assert len(empty) == 0 and list(empty.columns) == ["a", "d"]
