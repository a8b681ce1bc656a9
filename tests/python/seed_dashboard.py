"""The seed scenario's dashboard process: every 100 ms it reads aggregates through factdb.connect on the
same file as the API workers (only when data_version changed, as a Streamlit app keyed on it would) and
prints one line per reading: time, data_version, count, max id seen. Runs until its stop file appears."""
import os
import sys
import time

import factdb

db, stop = sys.argv[1], sys.argv[2]
con = factdb.connect(db, read_only=True)
last = None
while not os.path.exists(stop):
    v = con.data_version()
    if v != last:
        n, ids = con.execute("SELECT count(*), count(DISTINCT id) FROM facts").fetchone()
        df = con.execute("SELECT kind, sum(amount) AS total FROM facts GROUP BY kind").df()
        assert n == ids, "duplicate ids"
        print("%.4f %d %d %d" % (time.time(), v, n, len(df)), flush=True)
        last = v
    time.sleep(0.1)
n = con.execute("SELECT count(*) FROM facts").fetchone()[0]
print("%.4f %d %d final" % (time.time(), con.data_version(), n), flush=True)
