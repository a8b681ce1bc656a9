"""The seed scenario's API (tests/python/test_seed.py, docs/python.md): a FastAPI app that records facts on
POST. Every uvicorn worker process opens the one database file with factdb.connect; the handlers are
plain `def`, so FastAPI runs them in its thread pool and they share the worker's connection (factdb
releases the GIL while a statement runs or waits for the write lock)."""
import os
import time
from datetime import datetime, timezone
from decimal import Decimal

from fastapi import FastAPI
from pydantic import BaseModel

import factdb

DB = os.environ["FACTDB_SEED_DB"]
con = factdb.connect(DB, busy_timeout=30)
app = FastAPI()


class Fact(BaseModel):
    id: int
    kind: str
    amount: Decimal


@app.post("/facts", status_code=201)
def add_fact(fact: Fact, hold: float = 0):
    # hold > 0 (tests only): keep the write open that many seconds before committing, so that a kill -9
    # lands mid-write, with this worker holding the write lock
    if hold:
        with con.transaction():
            con.execute("INSERT INTO facts VALUES ($1, $2, $3, $4, $5)",
                        [fact.id, datetime.now(timezone.utc), fact.kind, fact.amount, os.getpid()])
            with open(DB + ".holding", "w") as f:
                f.write(str(os.getpid()))
            time.sleep(hold)
    else:
        con.execute("INSERT INTO facts VALUES ($1, $2, $3, $4, $5)",
                    [fact.id, datetime.now(timezone.utc), fact.kind, fact.amount, os.getpid()])
    return {"id": fact.id, "pid": os.getpid()}


@app.get("/stats")
def stats():
    rows = con.execute("SELECT kind, count(*) AS n, sum(amount) AS total FROM facts GROUP BY kind ORDER BY kind").fetchall()
    return {"data_version": con.data_version(), "kinds": [{"kind": k, "n": n, "total": str(t)} for k, n, t in rows]}
