"""Values both ways: every type, NULLs, extremes, Unicode, Decimal scale, time zones, refused bytes."""
import datetime as dt
import math
from decimal import Decimal

import pytest

import factdb

UTC = dt.timezone.utc


def roundtrip(con, sqltype, values):
    con.execute(f"CREATE TABLE rt (i integer, v {sqltype})")
    con.executemany("INSERT INTO rt VALUES (?, ?)", list(enumerate(values)))
    got = [r[0] for r in con.execute("SELECT v FROM rt ORDER BY i")]
    appended = values
    con.execute("DELETE FROM rt")
    con.append("rt", list(enumerate(values)))
    got2 = [r[0] for r in con.execute("SELECT v FROM rt ORDER BY i")]
    con.execute("DROP TABLE rt")
    return got, got2, appended


@pytest.mark.parametrize("sqltype,values", [
    ("boolean", [True, False, None]),
    ("integer", [0, 1, -1, 2 ** 31 - 1, -2 ** 31, None]),
    ("bigint", [0, 2 ** 63 - 1, -2 ** 63, 42, None]),
    ("double precision", [0.0, -0.0, 1.5, 1e308, -1e-308, 5e-324, math.inf, -math.inf, None]),
    ("numeric(18,6)", [Decimal("0.000000"), Decimal("123456789012.123456"), Decimal("-999999999999.999999"),
                       Decimal("1.500000"), None]),
    ("numeric(12,2)", [Decimal("9.80"), Decimal("-0.01"), Decimal("9999999999.99"), None]),
    ("text", ["", "plain", "naïve café", "日本語テキスト", "emoji 🎉🚀", "quote ' and \" and \\", "x" * 100000, None]),
    ("date", [dt.date(1970, 1, 1), dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2024, 2, 29),
              dt.date(1969, 12, 31), None]),
    ("timestamp", [dt.datetime(1970, 1, 1), dt.datetime(2024, 1, 31, 12, 34, 56, 789012),
                   dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
                   dt.datetime(1969, 12, 31, 23, 59, 59, 999999), None]),
    ("timestamptz", [dt.datetime(2024, 1, 31, 12, 0, tzinfo=UTC), dt.datetime(1960, 5, 1, 0, 0, 0, 1, tzinfo=UTC),
                     None]),
])
def test_roundtrip(con, sqltype, values):
    got, got2, expect = roundtrip(con, sqltype, values)
    for g in (got, got2):
        assert len(g) == len(expect)
        for a, b in zip(g, expect):
            if isinstance(b, float) and math.isnan(b):
                assert math.isnan(a)
            else:
                assert a == b and type(a) is type(b), (a, b)
                if isinstance(b, Decimal):
                    assert a.as_tuple().exponent == b.as_tuple().exponent  # scale kept


def test_decimal_scale_and_rounding(con):
    con.execute("CREATE TABLE m (a numeric(10,3))")
    con.execute("INSERT INTO m VALUES ($1), ($2), ($3), ($4)",
                [Decimal("1.5"), Decimal("2.0005"), Decimal("-2.0005"), Decimal("1E+2")])
    assert [r[0] for r in con.execute("SELECT a FROM m")] == [Decimal("1.500"), Decimal("2.001"), Decimal("-2.001"),
                                                              Decimal("100.000")]
    # more digits than 18: bound as exact text, typed by its context
    assert con.execute("SELECT $1::numeric", [Decimal("1.1234567890123456789")]).fetchone() == (Decimal("1.1234567890123456789"),)
    assert con.execute("SELECT $1 + 1", [Decimal("0.10")]).fetchone() == (Decimal("1.10"),)
    assert con.execute("SELECT sum(a) FROM m").fetchone() == (Decimal("101.500"),)
    with pytest.raises(factdb.DataError, match="finite"):
        con.execute("SELECT $1", [Decimal("NaN")])


def test_timezones(con):
    con.execute("CREATE TABLE z (tz timestamptz, ts timestamp)")
    paris = dt.timezone(dt.timedelta(hours=1))
    v = dt.datetime(2024, 1, 31, 13, 0, tzinfo=paris)
    con.execute("INSERT INTO z VALUES ($1, $2)", [v, dt.datetime(2024, 1, 31, 13, 0)])
    tz, ts = con.execute("SELECT tz, ts FROM z").fetchone()
    assert tz == v and tz.tzinfo == UTC and tz.hour == 12
    assert ts == dt.datetime(2024, 1, 31, 13, 0) and ts.tzinfo is None
    assert con.execute("SELECT tz > $1 FROM z", [dt.datetime(2024, 1, 31, 11, 59, tzinfo=UTC)]).fetchone() == (True,)


def test_params_are_typed(con):
    row = con.execute("SELECT $1, $2, $3, $4, $5, $6, $7, $8",
                      [None, True, 7, 2.5, "s", dt.date(2024, 1, 31), dt.datetime(2024, 1, 31, 1, 2, 3),
                       Decimal("1.25")]).fetchone()
    assert row == (None, True, 7, 2.5, "s", dt.date(2024, 1, 31), dt.datetime(2024, 1, 31, 1, 2, 3), Decimal("1.25"))
    assert con.execute("SELECT $1::date + 1", ["2024-01-31"]).fetchone() == (dt.date(2024, 2, 1),)
    assert con.execute("SELECT interval '90 days'").fetchone() == ("90 days",)  # no C form: its text


def test_bytes_refused_everywhere(con):
    con.execute("CREATE TABLE b (s text)")
    with pytest.raises(factdb.ProgrammingError, match="no binary type"):
        con.execute("INSERT INTO b VALUES (?)", [bytearray(b"x")])
    with pytest.raises(factdb.DataError, match="no binary type"):
        con.append("b", [(b"x",)])
    with pytest.raises(factdb.ProgrammingError):
        con.execute("INSERT INTO b VALUES (?)", [factdb.Binary(b"x")])


def test_invalid_text(con):
    con.execute("CREATE TABLE s (s text)")
    with pytest.raises(factdb.DataError, match="NUL"):
        con.execute("INSERT INTO s VALUES (?)", ["a\x00b"])
    with pytest.raises(UnicodeEncodeError):
        con.execute("INSERT INTO s VALUES (?)", ["\udc80"])


def test_numpy_scalars_bind(con):
    np = pytest.importorskip("numpy")
    assert con.execute("SELECT $1, $2, $3", [np.int64(5), np.float64(1.5), np.bool_(True)]).fetchone() == (5, 1.5, True)
