/* notify.c: change events on PostgreSQL. `factdb pg-setup URL` installs a statement-level AFTER trigger on
 * every table of the current schema that calls pg_notify('factdb_change', table name); a server that finds
 * the trigger function listens on its own connection (outside the pool) and, on each notification,
 * forgets its cached data_version, so that event streams see a write by any client of the database at
 * once. Without the triggers the cache lives 50 ms: streams then poll. Invariant: the cached version only
 * grows. */
#include "pg_int.h"
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How long a cached data_version is answered: short while polling, long while notifications come. */
#define POLL_TTL 0.05
#define LISTEN_TTL 1.0

int pg_cached_version(pg_backend *b, uint64_t *out, factdb_error *err)
{
    double t = now_s();
    pthread_mutex_lock(&b->vmu);
    double ttl = atomic_load(&b->listening) ? LISTEN_TTL : POLL_TTL;
    bool fresh = b->vtime > 0 && t - b->vtime < ttl;
    *out = b->vcache;
    pthread_mutex_unlock(&b->vmu);
    if (fresh)
        return 0;
    pg_conn *c;
    int rc = pg_pool_get(b, &c, err);
    if (rc)
        return rc;
    uint64_t v;
    rc = pg_version(c, &v, err);
    pg_pool_put(b, c);
    if (rc)
        return rc;
    pthread_mutex_lock(&b->vmu);
    if (v > b->vcache)
        b->vcache = v;
    b->vtime = t;
    *out = b->vcache;
    pthread_mutex_unlock(&b->vmu);
    return 0;
}

static void *listener(void *arg)
{
    pg_backend *b = arg;
    while (!atomic_load(&b->stop)) {
        int fd = PQsocket(b->listen_conn);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (fd < 0)
            break;
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (!PQconsumeInput(b->listen_conn))
            break;  /* the connection broke: back to polling (the short cache) */
        bool any = false;
        for (PGnotify *n; (n = PQnotifies(b->listen_conn));) {
            any = true;
            PQfreemem(n);
        }
        if (any) {
            pthread_mutex_lock(&b->vmu);
            b->vtime = 0;  /* the next reader asks PostgreSQL */
            pthread_mutex_unlock(&b->vmu);
        }
    }
    atomic_store(&b->listening, false);
    return NULL;
}

void pg_listen_start(pg_backend *b)
{
    PGresult *r = PQexec(b->slots[0].conn, "SELECT to_regprocedure('factdb_notify()') IS NOT NULL");
    bool installed = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!installed)
        return;
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {b->target, "factdb serve (events)", NULL};
    b->listen_conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(b->listen_conn) != CONNECTION_OK)
        goto fail;
    r = PQexec(b->listen_conn, "LISTEN factdb_change");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        goto fail;
    atomic_store(&b->listening, true);
    if (pthread_create(&b->listen_thread, NULL, listener, b) == 0) {
        b->listen_running = true;
        return;
    }
    atomic_store(&b->listening, false);
fail:
    fprintf(stderr, "factdb serve: cannot listen for PostgreSQL notifications (%s); change events poll instead\n",
            PQerrorMessage(b->listen_conn));
    PQfinish(b->listen_conn);
    b->listen_conn = NULL;
}

void pg_listen_stop(pg_backend *b)
{
    atomic_store(&b->stop, true);
    if (b->listen_running)
        pthread_join(b->listen_thread, NULL);
    b->listen_running = false;
    if (b->listen_conn)
        PQfinish(b->listen_conn);
    b->listen_conn = NULL;
}

/* The trigger function and one trigger per table; CREATE OR REPLACE, so running it again after new tables
 * were created adds theirs. */
static const char SETUP_SQL[] =
    "CREATE OR REPLACE FUNCTION factdb_notify() RETURNS trigger LANGUAGE plpgsql AS $f$ "
    "BEGIN PERFORM pg_notify('factdb_change', TG_TABLE_NAME); RETURN NULL; END $f$;\n"
    "DO $d$ DECLARE t record; BEGIN "
    "FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') LOOP "
    "EXECUTE format('CREATE OR REPLACE TRIGGER factdb_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I "
    "FOR EACH STATEMENT EXECUTE FUNCTION factdb_notify()', t.relname); "
    "END LOOP; END $d$";

int pg_setup(const char *target, size_t *ntables, factdb_error *err)
{
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {target, "factdb pg-setup", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    int rc = 0;
    if (PQstatus(c) != CONNECTION_OK) {
        rc = pg_conn_error(c, "cannot connect to PostgreSQL", err);
        PQfinish(c);
        return rc;
    }
    PGresult *r = PQexec(c, "BEGIN");
    PQclear(r);
    r = PQexec(c, SETUP_SQL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_result_error(r, FACTDB_IO, SETUP_SQL, sizeof SETUP_SQL - 1, err);
    PQclear(r);
    if (!rc) {
        r = PQexec(c, "SELECT count(*) FROM pg_trigger WHERE tgname = 'factdb_notify'");
        *ntables = PQresultStatus(r) == PGRES_TUPLES_OK ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
        PQclear(r);
    }
    r = PQexec(c, rc ? "ROLLBACK" : "COMMIT");
    if (!rc && PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_result_error(r, FACTDB_IO, NULL, 0, err);
    PQclear(r);
    PQfinish(c);
    return rc;
}
