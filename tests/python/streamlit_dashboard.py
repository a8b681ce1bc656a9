"""The Streamlit dashboard of docs/python.md ("Replacing DuckDB in a FastAPI + Streamlit app"), verbatim.
Run it with `streamlit run streamlit_dashboard.py` (FACTDB_SEED_DB names the file); test_docs.py runs it
with a stand-in for streamlit, which is not packaged in Debian 12."""
import os

import streamlit as st

import factdb

DB = os.environ.get("FACTDB_SEED_DB", "facts.factdb")


@st.cache_resource
def connection():
    # one connection per dashboard process, shared by its sessions' threads; read-only: the dashboard
    # never writes, and never blocks the API's writers (readers do not wait for writers, nor they for it)
    return factdb.connect(DB, read_only=True)


@st.cache_data
def totals(data_version):
    # keyed by data_version: recomputed only after some process committed something
    return connection().execute(
        "SELECT kind, count(*) AS n, sum(amount) AS total FROM facts GROUP BY kind ORDER BY kind").df()


con = connection()
st.title("Facts")
df = totals(con.data_version())
st.bar_chart(df, x="kind", y="total")
st.dataframe(df)
