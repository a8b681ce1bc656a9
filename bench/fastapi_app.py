"""The baseline for the HTTP benchmark: the FastAPI + SQLite (WAL) app shape factdb replaces, with the
same two endpoints as `factdb serve` (POST /v1/tables/{name}/rows, POST /v1/sql). Every insert is
committed with synchronous=FULL before it is answered, as factdb's are. Run with
uvicorn bench.fastapi_app:app (Debian python3-fastapi, python3-uvicorn)."""
import os
import sqlite3
import threading

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

DB = os.environ.get("BENCH_SQLITE", "bench/data/http.sqlite")
app = FastAPI()
_local = threading.local()


def con():
    c = getattr(_local, "con", None)
    if c is None:
        c = sqlite3.connect(DB, timeout=10, isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=FULL")
        _local.con = c
    return c


@app.post("/v1/tables/{name}/rows")
async def rows(name: str, request: Request):
    body = await request.json()
    if not body:
        return {"inserted": 0}
    cols = list(body[0].keys())
    sql = 'INSERT INTO "%s" (%s) VALUES (%s)' % (name.replace('"', ''), ",".join('"%s"' % c for c in cols),
                                                 ",".join("?" * len(cols)))
    c = con()
    try:
        c.execute("BEGIN IMMEDIATE")
        c.executemany(sql, [[r.get(k) for k in cols] for r in body])
        c.execute("COMMIT")
    except sqlite3.Error as e:
        if c.in_transaction:
            c.execute("ROLLBACK")
        return JSONResponse({"error": {"code": "SQLITE", "message": str(e)}}, status_code=400)
    return {"inserted": len(body)}


@app.post("/v1/sql")
async def sql(request: Request):
    body = await request.json()
    try:
        cur = con().execute(body["sql"], body.get("params") or [])
        rows = cur.fetchall()
        cols = [{"name": d[0]} for d in (cur.description or [])]
    except sqlite3.Error as e:
        return JSONResponse({"error": {"code": "SQLITE", "message": str(e)}}, status_code=400)
    return {"columns": cols, "rows": rows, "row_count": len(rows)}
