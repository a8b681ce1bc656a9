/* pg_int.h: what the files of src/pg share (libpq's types included). */
#ifndef FACTDB_PG_INT_H
#define FACTDB_PG_INT_H

#include "pg.h"
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>

typedef struct pg_conn {
    PGconn *conn;       /* NULL: not connected (yet, or since it broke) */
    PGcancel *cancel;   /* for the query timeout (PQcancel is safe from the watchdog's thread) */
    bool busy;          /* taken by a request (under pg_backend.mu) */
    bool dirty;         /* ran a client's SQL: its session state (SET, temporary tables, PREPARE, LISTEN)
                           is discarded before the connection serves another request */
} pg_conn;

/* A table's columns as inserts check them, kept for a second (tcache.c). */
#define PG_TABLE_CACHE 32
typedef struct pg_cached_table {
    http_table *table;  /* a list of one, or NULL */
    double at;          /* when it was read (monotonic s) */
} pg_cached_table;

struct http_backend {
    char *target;            /* the URL or conninfo, as given */
    char dbname[256];        /* what /v1/health names */
    char read_only[200];     /* why writes fail (a standby, a read-only default), or "" */
    unsigned nslots;
    pg_conn *slots;
    int wait_ms;             /* how long a request waits for a free connection */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* data_version cache and the LISTEN connection (notify.c) */
    pthread_mutex_t vmu;
    uint64_t vcache;
    double vtime;            /* when vcache was read (monotonic s); 0: stale */
    uint64_t vgen;           /* counts invalidations: a version read across one is not cached */
    PGconn *listen_conn;     /* the listener thread's own while it runs; NULL while broken */
    pthread_t listen_thread;
    bool listen_running;
    atomic_bool listening;   /* notifications arrive: the cache may live longer */
    atomic_bool stop;
    pthread_mutex_t tmu;     /* the table cache (tcache.c) */
    pg_cached_table tcache[PG_TABLE_CACHE];
    uint64_t tgen;           /* counts the cache's clears */
};
typedef struct http_backend pg_backend;

/* pool.c */
int pg_pool_init(pg_backend *b, unsigned size, factdb_error *err);
void pg_pool_cleanup(pg_backend *b);
/* Takes a connected connection (waiting up to wait_ms for a free one: BUSY). */
int pg_pool_get(pg_backend *b, pg_conn **out, factdb_error *err);
/* Gives it back (rolling back a transaction it was left in). */
void pg_pool_put(pg_backend *b, pg_conn *c);
/* A notice processor that drops PostgreSQL's notices (PQsetNoticeProcessor), for every connection. */
void pg_ignore_notice(void *arg, const char *message);
/* The watchdog's cancel: asks the server to cancel what the connection `arg` (a pg_conn) runs. */
void pg_conn_cancel(void *arg);

/* errors.c */
/* Fills err from a failed result: our error code for its SQLSTATE, PostgreSQL's message (and hint), and the
 * statement position converted from characters to a 1-based byte offset of sql[0..len) (sql may be NULL).
 * `table`: the table of an insert, for messages. Returns the code. */
int pg_result_error(const PGresult *r, int fallback, const char *sql, size_t len, factdb_error *err);
/* Appends value v (len bytes; NULL for SQL NULL) in COPY's text format (backslash escapes). */
int pg_copy_text(base_buf *b, const char *v, size_t len);
/* The same for a connection that failed (no result): IO with libpq's message after `what`. */
int pg_conn_error(const PGconn *c, const char *what, factdb_error *err);

/* types.c */
/* factdb's name of a type, or PostgreSQL's own for types factdb does not have; and how its values go into
 * JSON (0 string, 1 number, 2 boolean). factdb names a table's columns ("numeric(12,2)", "timestamp", as
 * /v1/tables answers) and result columns ("numeric", "timestamp without time zone", as /v1/sql answers)
 * differently; `result` chooses. */
void pg_type_name(pg_conn *c, Oid type, int typmod, bool result, char *buf, size_t cap);
int pg_json_kind(Oid type);
/* Appends `name` as a quoted SQL identifier ("a""b"). */
int pg_quote_ident(base_buf *b, const char *name);

/* script.c */
typedef struct pg_stmt {
    size_t start, len;  /* bytes of the script */
} pg_stmt;
/* Splits the script s[0..len) into its statements (ranges holding at least one token, without the `;`),
 * as PostgreSQL's lexer reads them (backslash_quotes: standard_conforming_strings is off, so '...' takes
 * backslash escapes). *out is malloc'd (NULL when there is no statement). Errors: NOMEM. */
int pg_split(const char *s, size_t len, bool backslash_quotes, pg_stmt **out, size_t *n);
/* The first word of statement s[0..len) (or its first character when it does not start with a word),
 * past white space and comments, NUL-terminated into buf (cut to cap - 1 bytes); returns its offset. */
size_t pg_first_word(const char *s, size_t len, char *buf, size_t cap);

/* query.c: the ops for /v1/sql and its results */
int pg_sql(http_backend *b, const http_sql *q, http_sql_out *out, factdb_error *err);
int pg_result_open(http_result *r, bool csv, const char *extra, factdb_error *err);
size_t pg_result_read(http_result *r, char *buf, size_t cap);
void pg_result_free(http_result *r);
/* The data_version on connection c: the WAL position (grows with every commit anywhere in the cluster). */
int pg_version(pg_conn *c, uint64_t *out, factdb_error *err);

/* catalog.c: /v1/tables and the columns inserts are checked against */
int pg_tables(http_backend *b, http_table **out, size_t *n, factdb_error *err);
/* Reads the tables (all, or the one named `only`) on c into *out (exact row counts when `counts`). */
int pg_read_tables(pg_conn *c, const char *only, bool counts, http_table **out, size_t *n, factdb_error *err);
int pg_table(http_backend *b, const char *name, http_table **out, factdb_error *err);
void pg_tables_free(http_backend *b, http_table *list, size_t n);

/* tcache.c */
/* pg_table, answered from a copy kept for a second when there is one. */
int pg_table_cached(http_backend *b, const char *name, http_table **out, factdb_error *err);
/* Forgets every kept table (after DDL, or a refused batch). */
void pg_table_cache_clear(http_backend *b);

/* notify.c */
/* data_version for events, health and metrics, from a cache refreshed on notification or after 50 ms. */
int pg_cached_version(pg_backend *b, uint64_t *out, factdb_error *err);
/* Listens for the triggers' notifications when `factdb pg-setup` installed them and the server is not a
 * standby (else does nothing), on a connection a thread reopens when it breaks. */
void pg_listen_start(pg_backend *b);
void pg_listen_stop(pg_backend *b);

/* copy.c: the group commit */
uint64_t pg_commit_batch(http_backend *b, ins_req *batch);

#endif
