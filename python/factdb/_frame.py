"""Columns of a result to numpy/pandas and DataFrames to columns for append(); numpy and pandas are
imported only here, when used. The C core hands over fixed-width buffers (see Cursor._columns), which
become arrays without a copy."""
import datetime as _dt

import numpy as np

_DTYPES = {"bool": np.bool_, "integer": np.int32, "bigint": np.int64, "double": np.float64,
           "decimal": np.int64, "date": np.int64, "timestamp": np.int64, "timestamptz": np.int64}


def _array(kind, data, scale):
    if kind in ("text", "object"):
        a = np.empty(len(data), dtype=object)
        a[:] = data
        return a
    a = np.frombuffer(data, dtype=_DTYPES[kind])
    if kind == "decimal":
        # like DuckDB's df(): float64 (exact Decimal values come from fetchone/fetchall)
        return a / (10.0 ** scale) if scale else a.astype(np.float64)
    if kind == "date":
        return a.astype("datetime64[D]")
    if kind in ("timestamp", "timestamptz"):
        return a.view("datetime64[us]")
    return a


def to_numpy(cols):
    """{name: array}; a column with NULLs is a numpy.ma.MaskedArray (mask True = NULL)."""
    out = {}
    for name, kind, data, valid, scale in cols:
        a = _array(kind, data, scale)
        if valid is not None and kind not in ("text", "object"):
            a = np.ma.MaskedArray(a, mask=np.frombuffer(valid, dtype=np.uint8) == 0)
        out[name] = a
    return out


def to_df(cols):
    """cols from Cursor._columns(True): decimals already float64, dates and timestamps already int64
    nanoseconds with NaT for NULL where they fit datetime64[ns] (pandas 1.x knows no other unit)."""
    import pandas as pd
    data = {}
    dup = len({c[0] for c in cols}) != len(cols)
    for pos, (name, kind, data_, valid, scale) in enumerate(cols):
        if dup:
            name = pos
        if kind == "decimal_f64":
            a = np.frombuffer(data_, dtype=np.float64)
            if valid is not None:  # the buffer is the cursor's own bytearray: writable, no copy
                a[np.frombuffer(valid, dtype=np.uint8) == 0] = np.nan
            data[name] = a
            continue
        if kind.endswith("_ns"):
            s = pd.Series(np.frombuffer(data_, dtype=np.int64).view("datetime64[ns]"), name=name, copy=False)
            data[name] = s.dt.tz_localize("UTC") if kind == "timestamptz_ns" else s
            continue
        a = _array(kind, data_, scale)
        if kind in ("date", "timestamp", "timestamptz"):
            # beyond datetime64[ns] (1677..2262): Python objects (date/datetime), None for NULL
            a = a.astype(object)
            if kind == "timestamptz":
                a = np.array([None if x is None else x.replace(tzinfo=_dt.timezone.utc) for x in a], dtype=object)
            if valid is not None:
                a[np.frombuffer(valid, dtype=np.uint8) == 0] = None
            data[name] = a
            continue
        if valid is not None and kind not in ("text", "object"):
            mask = np.frombuffer(valid, dtype=np.uint8) == 0
            if kind in ("integer", "bigint"):
                a = pd.arrays.IntegerArray(a.copy(), mask)
            elif kind == "bool":
                a = pd.arrays.BooleanArray(a.copy(), mask)
            else:
                a = a.copy()
                a[mask] = np.nan
        data[name] = a
    names = [c[0] for c in cols]
    if dup:  # duplicate column names (SELECT a, a): keep them all, in order
        df = pd.DataFrame({i: data[i] for i in range(len(names))}, copy=False)
        df.columns = names
        return df
    return pd.DataFrame(data, copy=False)


def dataframe_columns(df):
    """(names, columns, units, nrows) for Connection._append_columns: numeric columns as numpy arrays
    (datetime64 as their int64 view with the unit), anything else as lists of Python objects."""
    names, cols, units = [], [], []
    for name in df.columns:
        s = df[name]
        dt = s.dtype
        unit = None
        if getattr(dt, "kind", "O") in "biuf" and isinstance(dt, np.dtype):
            a = np.ascontiguousarray(s.to_numpy())
        elif isinstance(dt, np.dtype) and dt.kind == "M":
            a = np.ascontiguousarray(s.to_numpy())
            unit = np.datetime_data(a.dtype)[0]
            a = a.view(np.int64)
        elif str(dt).startswith("datetime64[") and getattr(dt, "tz", None) is not None:
            a = np.ascontiguousarray(s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy())
            unit = np.datetime_data(a.dtype)[0]
            a = a.view(np.int64)
        else:
            a = s.astype(object).where(s.notna(), None).tolist()
        names.append(str(name))
        cols.append(a)
        units.append(unit)
    return names, cols, units, len(df)
