"""docs/python.md stays true: its ```python blocks run, in order, in one namespace in a fresh directory,
and the Streamlit dashboard it shows (streamlit_dashboard.py) runs under a stand-in for streamlit whose
cache_data caches by arguments, as Streamlit's does."""
import os
import re
import sys
import types

import factdb
from conftest import ROOT

HERE = os.path.dirname(os.path.abspath(__file__))


def test_python_md_examples_run(tmp_path, monkeypatch):
    text = open(os.path.join(ROOT, "docs", "python.md"), encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "docs_example"}
    for i, b in enumerate(blocks):
        try:
            exec(compile(b, "docs/python.md block %d" % (i + 1), "exec"), ns)
        except Exception as e:  # pragma: no cover - the message names the block
            raise AssertionError("docs/python.md ```python block %d failed: %r\n%s" % (i + 1, e, b))


class _FakeStreamlit(types.ModuleType):
    """Streamlit's caches live across reruns of the script, keyed by the function and its arguments."""

    def __init__(self):
        super().__init__("streamlit")
        self.calls = []
        self.computed = 0
        self.memo = {}

    def _cache(self, f, count):
        def wrapper(*a):
            key = (f.__qualname__, a)
            if key not in self.memo:
                self.computed += count
                self.memo[key] = f(*a)
            return self.memo[key]
        return wrapper

    def cache_resource(self, f):
        return self._cache(f, 0)

    def cache_data(self, f):
        return self._cache(f, 1)

    def __getattr__(self, name):  # title, bar_chart, dataframe: recorded
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *a, **k: self.calls.append((name, a, k))


def test_streamlit_snippet_refreshes_only_on_new_data(tmp_path, monkeypatch):
    db = str(tmp_path / "facts.factdb")
    w = factdb.connect(db)
    w.execute("CREATE TABLE facts (id bigint, ts timestamptz, kind text, amount numeric(12,2), pid integer)")
    w.execute("INSERT INTO facts VALUES (1, now(), 'order', 9.80, 0)")
    st = _FakeStreamlit()
    monkeypatch.setitem(sys.modules, "streamlit", st)
    monkeypatch.setenv("FACTDB_SEED_DB", db)
    src = open(os.path.join(HERE, "streamlit_dashboard.py")).read()
    ns = {"__name__": "dash"}
    exec(compile(src, "streamlit_dashboard.py", "exec"), ns)  # first run of the script
    assert st.computed == 1
    exec(compile(src, "streamlit_dashboard.py", "exec"), ns)  # a rerun, no new data: cached
    assert st.computed == 1
    w.execute("INSERT INTO facts VALUES (2, now(), 'refund', 1.20, 0)")
    exec(compile(src, "streamlit_dashboard.py", "exec"), ns)  # new data_version: recomputed
    assert st.computed == 2
    df = [c for c in st.calls if c[0] == "dataframe"][-1][1][0]
    assert sorted(df["kind"]) == ["order", "refund"]


def test_streamlit_snippet_is_the_tested_file():
    text = open(os.path.join(ROOT, "docs", "python.md"), encoding="utf-8").read()
    block = [b for b in re.findall(r"```py\n(.*?)```", text, re.S) if "st.cache_data" in b][0]
    src = open(os.path.join(HERE, "streamlit_dashboard.py")).read()
    body = src[src.index('"""', 3) + 4:].lstrip("\n")
    assert block == body
