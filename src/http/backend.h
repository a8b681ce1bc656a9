/* backend.h: the one table of operations through which the handlers of `factdb serve` reach storage. The
 * embedded engine (backend_embedded.c) and PostgreSQL (src/pg) implement it; handlers never ask which one
 * they talk to. Invariant: a backend op that fails fills `err` (code, message, SQL position) and changes
 * nothing; the shapes of answers (JSON, CSV, type names, error codes) are the handlers' and the same for
 * every backend. */
#ifndef FACTDB_HTTP_BACKEND_H
#define FACTDB_HTTP_BACKEND_H

#include "http.h"

typedef struct http_backend http_backend;  /* one backend's state (opaque to the handlers) */
typedef struct http_result http_result;    /* a result being streamed (opaque to the handlers) */

/* A table as /v1/tables lists it and inserts validate against: `info` holds factdb's types (what the rows
 * of a request are parsed as), `types[k]` the name of column k's type as answered ("numeric(12,2)"). */
typedef struct http_table {
    factdb_table_info info;
    char (*types)[48];
    uint8_t *has_default;  /* info.ncols flags: the column has a DEFAULT (NULL: no column has one) */
    bool row_count_known;  /* false: info.row_count is not cheap to know (not listed) */
    bool row_count_estimated;  /* info.row_count is an estimate (PostgreSQL's statistics for a large table) */
} http_table;

/* A query's cancellation: the handler arms a deadline, the backend says how to cancel what runs, and the
 * server's watchdog calls that once the deadline passes (under the server's wmu). */
typedef struct http_watch {
    struct http_watch *next;
    http_server *s;
    double deadline;
    void (*cancel)(void *arg);  /* set by the backend through http_watch_set, NULL before */
    void *arg;
    atomic_bool fired;          /* set by the watchdog, read by the request's thread between statements */
} http_watch;
/* Tells the watchdog what to call to cancel the query of `w` (cancel NULL: nothing runs any more). */
void http_watch_set(http_watch *w, void (*cancel)(void *arg), void *arg);
static inline bool http_watch_fired(http_watch *w) { return atomic_load(&w->fired); }

/* One /v1/sql request: the statements, their parameters and the limits that apply. */
typedef struct http_sql {
    const char *text;
    size_t len;
    const factdb_param *params;
    size_t nparams;
    size_t memory;       /* query memory granted (bytes) */
    int threads;         /* worker threads (0: default) */
    bool file_access;    /* COPY ... 'file' allowed */
    bool read_only;      /* the client may not write (a read token): a backend that can enforce it does,
                            besides the handler's check of which statements write */
    http_watch *watch;   /* the query timeout's watch (always given; armed only with --query-timeout) */
} http_sql;

/* What /v1/sql answers with: the last statement that returned rows, else the last one. */
typedef struct http_sql_out {
    http_result *result;    /* NULL: the text held no statement */
    uint64_t nrows;
    bool has_rows;          /* SELECT-like: rows are answered; else the command tag */
    char tag[64];           /* "INSERT 0 5" */
    uint64_t data_version;  /* after the statement */
} http_sql_out;

/* A value of a checked insert request (ingest.c parses, backends write). */
/* HTTP_CELL_ABSENT: the row did not name the column (a missing JSON key, a column not in the CSV header);
 * NULL where the column has no default, its default where it has one (PostgreSQL's DEFAULT). */
enum { HTTP_CELL_NULL, HTTP_CELL_INT, HTTP_CELL_DOUBLE, HTTP_CELL_TEXT, HTTP_CELL_BOOL, HTTP_CELL_ABSENT };
typedef struct http_cell {
    uint8_t kind;
    int64_t i;       /* HTTP_CELL_INT (as factdb_parse_value gives it: scaled numeric, days, microseconds), BOOL */
    double d;
    uint32_t off, len;  /* HTTP_CELL_TEXT: bytes of the request's text buffer */
} http_cell;

/* An insert request checked against its table, waiting for (or in) a group commit. */
struct ins_req {
    ins_req *next;
    char table[FACTDB_NAME_MAX + 1];
    factdb_table_info ti;   /* the columns the cells were checked against (names, types, scales) */
    uint8_t *has_default;   /* ti.ncols flags, or NULL (http_table.has_default, owned) */
    size_t ncols, nrows, cap;
    http_cell *cells;       /* nrows x ncols */
    base_buf text;
    int rc;                 /* set by commit_batch: 0 stored, else the request's error in err */
    factdb_error err;
    bool done;
    uint64_t version;       /* data_version of the commit that stored it */
};

typedef struct http_backend_ops {
    const char *kind;  /* "embedded", "postgresql": for logs and /metrics */
    /* Statements that sql_writes calls reads have no side effects, so running one again changes nothing
     * (true on a file; not on PostgreSQL, where a SELECT can call nextval() or a function that writes). */
    bool pure_reads;
    void (*close)(http_backend *b);
    /* What /v1/health names as "database" (a file's base name; PostgreSQL's database name). */
    const char *(*name)(http_backend *b);
    /* Why writes fail (served read-only), or NULL. */
    const char *(*read_only_reason)(http_backend *b);
    /* A counter that grows with every commit by anyone: answers and change events carry it. */
    int (*data_version)(http_backend *b, uint64_t *out, factdb_error *err);
    /* Every table with its columns (freed with tables_free). Errors: IO, NOMEM. */
    int (*tables)(http_backend *b, http_table **out, size_t *n, factdb_error *err);
    /* One table, as a list of one (freed with tables_free). Errors: NO_TABLE, IO, NOMEM. */
    int (*table)(http_backend *b, const char *name, http_table **out, factdb_error *err);
    void (*tables_free)(http_backend *b, http_table *list, size_t n);
    /* Whether the statements would write (for the read token); INVALID_ARGUMENT with position on bad SQL. */
    int (*sql_writes)(http_backend *b, const char *text, size_t len, bool *writes, factdb_error *err);
    /* Runs the statements of q (all of them, in order); an error's position is a 1-based byte offset in
     * q->text. A statement's failure leaves nothing of it; statements before it stay (as in psql). */
    int (*sql)(http_backend *b, const http_sql *q, http_sql_out *out, factdb_error *err);
    /* Streams a result as JSON (`extra` inserted before the closing brace) or CSV, as factdb_writer does. */
    int (*result_open)(http_result *r, bool csv, const char *extra, factdb_error *err);
    size_t (*result_read)(http_result *r, char *buf, size_t cap);  /* 0 at the end */
    void (*result_free)(http_result *r);
    /* Writes the requests of `batch` (all or nothing per request, every request that succeeds durable on
     * return, in as few transactions as it can: the group commit). Sets each request's rc/err and version;
     * returns the rows stored. */
    uint64_t (*commit_batch)(http_backend *b, ins_req *batch);
    /* Appends the backend's own Prometheus gauges (data_version, readers, size ...) to `out`. */
    void (*metrics)(http_backend *b, base_buf *out);
} http_backend_ops;

/* The embedded engine on the file o->db_path (backend_embedded.c). */
int http_backend_embedded_open(const http_opts *o, const http_backend_ops **ops, http_backend **out,
                               factdb_error *err);
/* Whether `target` names a PostgreSQL database (a postgres:// or postgresql:// URL, or a libpq conninfo
 * string "key=value ..."), not a database file. */
bool http_target_is_pg(const char *target);

/* Appends one Prometheus gauge with its HELP and TYPE lines. */
void http_metric_gauge(base_buf *out, const char *name, const char *help, uint64_t value);

#endif
