"""Columns of a result to numpy/pandas and DataFrames to columns for append(); numpy and pandas are
imported only here, when used. The C core hands over fixed-width buffers (see Cursor._columns), which
become arrays without a copy."""
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
    import pandas as pd
    data = {}
    for name, kind, data_, valid, scale in cols:
        a = _array(kind, data_, scale)
        if kind in ("date", "timestamp", "timestamptz"):
            a = a.astype("datetime64[ns]")  # pandas 1.x knows only nanoseconds
            if valid is not None:
                a[np.frombuffer(valid, dtype=np.uint8) == 0] = np.datetime64("NaT")
            s = pd.Series(a, name=name)
            if kind == "timestamptz":
                s = s.dt.tz_localize("UTC")
            data[name] = s
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
    if len(set(data)) != len(cols):  # duplicate column names: keep them all, in order
        frames = [pd.Series(_array(k, d, s), name=n) for n, k, d, v, s in cols]
        return pd.concat(frames, axis=1)
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
