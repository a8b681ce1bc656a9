/* notify.c: change events on PostgreSQL. `factdb pg-setup URL` installs a statement-level AFTER trigger on
 * every table of the current schema that calls pg_notify('factdb_change', table name); a server that finds
 * the trigger function listens on its own connection (outside the pool, application_name "factdb serve
 * listen") and, on each notification, forgets its cached data_version, so that event streams see a write
 * by any client of the database at once. Without notifications (no triggers, a standby where LISTEN cannot
 * run, or while the listening connection is broken) the cache lives 50 ms: streams then poll. A broken
 * listening connection is reopened by its thread (100 ms, doubling to 5 s). Invariant: the cached version
 * only grows. */
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
/* Reconnecting the listener: the first retry after 100 ms, then twice as long each time, at most 5 s; a
 * connection attempt gives up after 10 s (libpq's connect_timeout does not apply to PQconnectStart). */
#define RETRY_FIRST 0.1
#define RETRY_MAX 5.0
#define CONNECT_LIMIT 10.0

/* Forgets the cached version: the next reader asks PostgreSQL. Under vmu. */
static void invalidate(pg_backend *b)
{
    b->vtime = 0;
    b->vgen++;
}

int pg_cached_version(pg_backend *b, uint64_t *out, factdb_error *err)
{
    double t = now_s();
    pthread_mutex_lock(&b->vmu);
    double ttl = atomic_load(&b->listening) ? LISTEN_TTL : POLL_TTL;
    bool fresh = b->vtime > 0 && t - b->vtime < ttl;
    uint64_t gen = b->vgen;
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
    /* a notification that came while we asked may be about a commit our answer does not include: then the
       answer is not cached (else it would stand for LISTEN_TTL) */
    if (gen == b->vgen)
        b->vtime = t;
    *out = b->vcache;
    pthread_mutex_unlock(&b->vmu);
    return 0;
}

/* Sleeps `s` seconds in 100 ms steps; false when the server stops meanwhile. */
static bool nap(pg_backend *b, double s)
{
    for (double slept = 0; slept < s; slept += 0.1) {
        if (atomic_load(&b->stop))
            return false;
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    return !atomic_load(&b->stop);
}

/* Opens the listening connection and runs LISTEN on it, without blocking longer than 100 ms at a time (so
 * that a stopping server is not held by an unreachable host). 0 and *out, or the error (*out NULL). */
static int listen_connect(pg_backend *b, PGconn **out, factdb_error *err)
{
    *out = NULL;
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {b->target, "factdb serve listen", NULL};
    PGconn *c = PQconnectStartParams(keys, vals, 1);
    if (!c)
        return base_err(err, FACTDB_NOMEM, "out of memory connecting to PostgreSQL");
    double until = now_s() + CONNECT_LIMIT;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;  /* as libpq asks for the first wait */
    while (PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        struct pollfd p = {.fd = PQsocket(c), .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int n = p.fd < 0 ? -1 : poll(&p, 1, 100);
        if (n < 0 || atomic_load(&b->stop) || now_s() > until) {
            int rc = n < 0 ? pg_conn_error(c, "cannot connect to PostgreSQL", err)
                           : base_err(err, FACTDB_IO, "cannot connect to PostgreSQL: no answer within %.0f s",
                                      CONNECT_LIMIT);
            PQfinish(c);
            return rc;
        }
        if (n > 0)
            st = PQconnectPoll(c);
    }
    if (PQstatus(c) != CONNECTION_OK) {
        int rc = pg_conn_error(c, "cannot connect to PostgreSQL", err);
        PQfinish(c);
        return rc;
    }
    PQsetNoticeProcessor(c, pg_ignore_notice, NULL);
    PGresult *r = PQexec(c, "LISTEN factdb_change");
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg_result_error(r, FACTDB_IO, NULL, 0, err);
    PQclear(r);
    if (rc) {
        PQfinish(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Waits for notifications on b->listen_conn until it breaks or the server stops: true when it broke (the
 * connection is then closed and b->listen_conn NULL). */
static bool listen_until_broken(pg_backend *b, factdb_error *err)
{
    while (!atomic_load(&b->stop)) {
        struct pollfd p = {.fd = PQsocket(b->listen_conn), .events = POLLIN};
        if (p.fd >= 0 && poll(&p, 1, 100) == 0)
            continue;
        bool broken = p.fd < 0 || !PQconsumeInput(b->listen_conn) || PQstatus(b->listen_conn) != CONNECTION_OK;
        bool any = false;
        for (PGnotify *n; (n = PQnotifies(b->listen_conn));) {
            any = true;
            PQfreemem(n);
        }
        if (broken) {
            /* from now on, readers poll (the short cache) until the connection is back */
            atomic_store(&b->listening, false);
            pg_conn_error(b->listen_conn, "the connection that listens for PostgreSQL notifications broke", err);
            PQfinish(b->listen_conn);
            b->listen_conn = NULL;
            any = true;
        }
        if (any) {
            pthread_mutex_lock(&b->vmu);
            invalidate(b);
            pthread_mutex_unlock(&b->vmu);
        }
        if (broken)
            return true;
    }
    return false;
}

/* The listener's thread: listens; when the connection breaks (a restart of PostgreSQL, pg_terminate_backend),
 * reconnects with a growing pause and listens again, saying so once on stderr each way. */
static void *listener(void *arg)
{
    pg_backend *b = arg;
    while (!atomic_load(&b->stop)) {
        factdb_error err;
        if (b->listen_conn) {  /* else the first connection failed, as pg_listen_start said */
            if (!listen_until_broken(b, &err))
                break;
            fprintf(stderr, "factdb serve: %s; change events poll PostgreSQL until it is back\n", err.message);
        }
        double pause = RETRY_FIRST;
        while (!b->listen_conn && nap(b, pause)) {
            if (listen_connect(b, &b->listen_conn, &err)) {
                pause = pause * 2 < RETRY_MAX ? pause * 2 : RETRY_MAX;
                continue;
            }
            pthread_mutex_lock(&b->vmu);
            invalidate(b);  /* what was written while nobody listened shows at the next read */
            pthread_mutex_unlock(&b->vmu);
            atomic_store(&b->listening, true);
            fprintf(stderr, "factdb serve: listening for PostgreSQL notifications again\n");
        }
    }
    atomic_store(&b->listening, false);
    return NULL;
}

void pg_listen_start(pg_backend *b)
{
    /* a standby cannot LISTEN (and NOTIFY is not replicated): its streams poll the replay position */
    PGresult *r = PQexec(b->slots[0].conn, "SELECT to_regprocedure('factdb_notify()') IS NOT NULL "
                                           "AND NOT pg_is_in_recovery()");
    bool installed = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!installed)
        return;
    factdb_error err;
    if (listen_connect(b, &b->listen_conn, &err))
        fprintf(stderr, "factdb serve: cannot listen for PostgreSQL notifications (%s); change events poll "
                "PostgreSQL until it can\n", err.message);
    else
        atomic_store(&b->listening, true);
    /* the thread also retries a first connection that failed */
    if (pthread_create(&b->listen_thread, NULL, listener, b) == 0) {
        b->listen_running = true;
        return;
    }
    atomic_store(&b->listening, false);
    fprintf(stderr, "factdb serve: cannot start the thread that listens for PostgreSQL notifications; change "
            "events poll instead\n");
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
