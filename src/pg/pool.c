/* pool.c: the connections of the PostgreSQL backend. A fixed number of slots, each connected on first use
 * and reconnected when found broken; a request takes one for the length of its statements and gives it
 * back. Every connection is set up the same way (UTC, ISO dates, UTF-8), so answers do not depend on which
 * one served them. Invariant: a slot is used by one thread at a time (taken under mu). */
#include "pg_int.h"
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Session settings every connection gets: the text forms factdb answers with (ISO dates, UTC, shortest
 * exact floats) and UTF-8. */
static const char SETUP[] = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
                            "SET extra_float_digits = 1; SET client_encoding = 'UTF8'";

/* Sets up a session as every request expects it (SETUP); 0 or the error. */
static int setup(pg_conn *c, factdb_error *err)
{
    PGresult *r = PQexec(c->conn, SETUP);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg_result_error(r, 0, NULL, 0, err);
    PQclear(r);
    return rc;
}

/* libpq prints the server's notices and warnings on stderr by default: a client's RAISE NOTICE, "table does
 * not exist, skipping", "terminating connection due to immediate shutdown command". The server's log is
 * its request lines and its own messages (a lost connection shows as the error of the request that meets
 * it), so they are dropped. */
void pg_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int connect_slot(pg_backend *b, pg_conn *c, factdb_error *err)
{
    if (c->conn)
        PQfinish(c->conn);
    if (c->cancel)
        PQfreeCancel(c->cancel);
    c->cancel = NULL;
    /* A host that does not answer would hold the request (and its slot) for the kernel's TCP timeout,
       minutes: give up after 10 s unless the target or PGCONNECT_TIMEOUT says otherwise (an entry before
       "dbname" is overridden by the connection string's own) */
    const char *timeout = getenv("PGCONNECT_TIMEOUT") ? NULL : "10";
    const char *keys[] = {"connect_timeout", "dbname", "application_name", "fallback_application_name", NULL};
    const char *vals[] = {timeout, b->target, "factdb serve", "factdb", NULL};
    c->conn = PQconnectdbParams(keys, vals, 1);  /* expand_dbname: the URL or conninfo in "dbname" */
    if (!c->conn)
        return base_err(err, FACTDB_NOMEM, "out of memory connecting to PostgreSQL");
    if (PQstatus(c->conn) != CONNECTION_OK) {
        int rc = pg_conn_error(c->conn, "cannot connect to PostgreSQL", err);
        PQfinish(c->conn);
        c->conn = NULL;
        return rc;
    }
    PQsetNoticeProcessor(c->conn, pg_ignore_notice, NULL);
    int rc = setup(c, err);
    if (rc) {
        PQfinish(c->conn);
        c->conn = NULL;
        return rc;
    }
    c->cancel = PQgetCancel(c->conn);
    return 0;
}

int pg_pool_init(pg_backend *b, unsigned size, factdb_error *err)
{
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->slots = calloc(size ? size : 8, sizeof *b->slots);
    if (!b->slots)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    b->nslots = size ? size : 8;
    /* the first connection now, so that a wrong URL or password fails at start, not at the first request */
    return connect_slot(b, &b->slots[0], err);
}

void pg_pool_cleanup(pg_backend *b)
{
    for (unsigned i = 0; i < b->nslots; i++) {
        if (b->slots[i].cancel)
            PQfreeCancel(b->slots[i].cancel);
        if (b->slots[i].conn)
            PQfinish(b->slots[i].conn);
    }
    free(b->slots);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
}

/* Whether the server has closed idle connection `conn`. Reading once is not enough: a server that ends a
 * connection first sends a message (FATAL 57P01 for pg_terminate_backend or a fast shutdown, a WARNING for
 * an immediate one) and one read may take that message but not the end of the stream behind it (found on
 * a standby stopped with -m immediate: the next query failed with "server closed the connection
 * unexpectedly"). So: read while the socket has more to give (an idle connection has nothing to read). */
static bool closed(PGconn *conn)
{
    for (int reads = 0; reads < 8; reads++) {
        if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
            return true;
        struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN};
        if (p.fd < 0)
            return true;
        if (poll(&p, 1, 0) <= 0)
            return false;
    }
    return false;
}

int pg_pool_get(pg_backend *b, pg_conn **out, factdb_error *err)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += b->wait_ms / 1000;
    until.tv_nsec += (long)(b->wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pg_conn *c = NULL;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        for (unsigned i = 0; i < b->nslots && !c; i++)
            if (!b->slots[i].busy)
                c = &b->slots[i];
        if (c || pthread_cond_timedwait(&b->cv, &b->mu, &until))
            break;
    }
    if (c)
        c->busy = true;
    pthread_mutex_unlock(&b->mu);
    if (!c)
        return base_err(err, FACTDB_BUSY, "all %u PostgreSQL connections of this server are in use (--pg-pool); "
                        "retry shortly", b->nslots);
    /* a server that ended the connection while it sat in the pool (a restart, pg_terminate_backend) has
       sent its goodbye: reading it now finds the connection closed, and it is reopened before use rather
       than failing the request */
    bool gone = c->conn && closed(c->conn);
    if (!c->conn || gone) {
        int rc = connect_slot(b, c, err);
        if (rc) {
            pg_pool_put(b, c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

void pg_pool_put(pg_backend *b, pg_conn *c)
{
    /* a connection left inside a transaction (an error between BEGIN and COMMIT) must not carry it over */
    if (c->conn && PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c->conn, "ROLLBACK");
        PQclear(r);
        if (PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
            PQfinish(c->conn);  /* reconnected at its next use */
            c->conn = NULL;
        }
    }
    /* nor a client's session state: each request starts as in a new session, as on a file (two round trips
       after each /v1/sql request; DISCARD ALL cannot share a query string with SET) */
    if (c->conn && c->dirty) {
        factdb_error err;
        PGresult *r = PQexec(c->conn, "DISCARD ALL");
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK && !setup(c, &err);
        PQclear(r);
        if (!ok) {
            PQfinish(c->conn);
            c->conn = NULL;
        }
    }
    c->dirty = false;
    pthread_mutex_lock(&b->mu);
    c->busy = false;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

void pg_conn_cancel(void *arg)
{
    pg_conn *c = arg;
    char buf[256];
    if (c->cancel)
        PQcancel(c->cancel, buf, sizeof buf);
}
