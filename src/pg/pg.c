/* pg.c: the table of operations of the PostgreSQL backend and its start: the pool's first connection
 * tells the database's name and whether it takes writes (a standby, or default_transaction_read_only). */
#include "pg_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void pg_close(http_backend *b)
{
    pg_listen_stop(b);
    pg_table_cache_clear(b);
    pthread_mutex_destroy(&b->vmu);
    pthread_mutex_destroy(&b->tmu);
    pg_pool_cleanup(b);
    free(b->target);
    free(b);
}

static const char *pg_name(http_backend *b) { return b->dbname; }

static const char *pg_read_only_reason(http_backend *b) { return b->read_only[0] ? b->read_only : NULL; }

static int pg_data_version(http_backend *b, uint64_t *out, factdb_error *err)
{
    return pg_cached_version(b, out, err);
}

/* Which statements write is decided by factdb's parser (our SQL is a PostgreSQL subset); text it cannot
 * parse (PostgreSQL-only SQL) is refused to a read token with the parser's error and runs for the write
 * token (server.c). */
static int pg_sql_writes(http_backend *b, const char *text, size_t len, bool *writes, factdb_error *err)
{
    (void)b;
    return factdb_sql_writes(text, len, writes, err);
}

static void pg_metrics(http_backend *b, base_buf *out)
{
    pg_conn *c;
    factdb_error err;
    if (pg_pool_get(b, &c, &err))
        return;
    uint64_t v;
    if (!pg_version(c, &v, &err))
        http_metric_gauge(out, "factdb_data_version", "The PostgreSQL WAL position (grows with every commit).", v);
    PGresult *r = PQexec(c->conn, "SELECT numbackends, pg_database_size(datname) FROM pg_stat_database "
                                  "WHERE datname = current_database()");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        http_metric_gauge(out, "factdb_pg_backends", "Connections to this PostgreSQL database (all clients).",
                          strtoull(PQgetvalue(r, 0, 0), NULL, 10));
        http_metric_gauge(out, "factdb_pg_database_bytes", "Size of the PostgreSQL database.",
                          strtoull(PQgetvalue(r, 0, 1), NULL, 10));
    }
    PQclear(r);
    pg_pool_put(b, c);
    unsigned busy = 0;
    pthread_mutex_lock(&b->mu);
    for (unsigned i = 0; i < b->nslots; i++)
        busy += b->slots[i].busy;
    pthread_mutex_unlock(&b->mu);
    http_metric_gauge(out, "factdb_pg_pool_size", "Connections this server may open (--pg-pool).", b->nslots);
    http_metric_gauge(out, "factdb_pg_pool_busy", "Connections of this server in use.", busy);
    http_metric_gauge(out, "factdb_pg_listening", "1 while notifications reach this server (events at once), 0 "
                      "while it polls PostgreSQL (no triggers, a standby, or the listening connection is down).",
                      atomic_load(&b->listening));
}

static const http_backend_ops POSTGRESQL = {
    .kind = "postgresql",
    .pure_reads = false,
    .close = pg_close,
    .name = pg_name,
    .read_only_reason = pg_read_only_reason,
    .data_version = pg_data_version,
    .tables = pg_tables,
    .table = pg_table_cached,
    .tables_free = pg_tables_free,
    .sql_writes = pg_sql_writes,
    .sql = pg_sql,
    .result_open = pg_result_open,
    .result_read = pg_result_read,
    .result_free = pg_result_free,
    .commit_batch = pg_commit_batch,
    .metrics = pg_metrics,
};

int pg_backend_open(const http_opts *o, const http_backend_ops **ops, http_backend **out, factdb_error *err)
{
    pg_backend *b = calloc(1, sizeof *b);
    if (!b || !(b->target = strdup(o->db_path))) {
        free(b);
        return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    b->wait_ms = o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 10000;
    pthread_mutex_init(&b->vmu, NULL);
    pthread_mutex_init(&b->tmu, NULL);
    int rc = pg_pool_init(b, o->pg_pool, err);
    if (rc) {
        pg_close(b);
        return rc;
    }
    PGconn *conn = b->slots[0].conn;
    snprintf(b->dbname, sizeof b->dbname, "%s", PQdb(conn));
    PGresult *r = PQexec(conn, "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        if (PQgetvalue(r, 0, 0)[0] == 't')
            snprintf(b->read_only, sizeof b->read_only, "the PostgreSQL server is a standby (in recovery): it "
                     "takes no writes; point a server at the primary to write");
        else if (!strcmp(PQgetvalue(r, 0, 1), "on"))
            snprintf(b->read_only, sizeof b->read_only, "the PostgreSQL database defaults to read-only "
                     "transactions (default_transaction_read_only = on)");
    }
    PQclear(r);
    pg_listen_start(b);
    *ops = &POSTGRESQL;
    *out = b;
    return 0;
}
