/* http.h: `factdb serve`, the JSON-over-HTTP API on libmicrohttpd (the only code that includes
 * microhttpd.h). One thread per connection: handlers may block (queries, waiting for a group commit,
 * event streams); the connection limit bounds the threads. */
#ifndef FACTDB_HTTP_H
#define FACTDB_HTTP_H

#include "base/base.h"
#include <stdatomic.h>
#include <pthread.h>

struct http_backend;
struct http_backend_ops;
typedef struct http_opts {
    const char *db_path;      /* a database file, or a PostgreSQL URL / conninfo (backend.h) */
    const char *host;         /* default 127.0.0.1 */
    int port;                 /* default 8080; 0 = any free port (printed) */
    const char *token;        /* writes need it (and reads, when read_token is set) */
    const char *read_token;
    size_t max_body;          /* bytes of one request body */
    size_t max_rows;          /* rows in one insert request */
    size_t max_result;        /* rows of a result */
    int query_timeout_ms;
    int threads;              /* worker threads per query */
    int busy_timeout_ms;
    unsigned max_connections;
    unsigned max_per_address;   /* connections from one client address (0: max_connections / 4) */
    int header_timeout_s;       /* a request's head must arrive within this (from the connection's start or
                                 * its previous answer); a body gets as long again plus 1 s per min_body_rate
                                 * bytes received */
    size_t min_body_rate;       /* bytes per second; also the least rate at which a client must take an answer */
    size_t max_result_memory;   /* query memory (results waiting to be sent included) of all requests together */
    unsigned max_event_streams; /* open /v1/events streams (0: max_connections / 16, at least 1) */
    bool allow_file_access;     /* COPY ... 'file' over HTTP */
    bool create;                /* create db_path if missing (else FACTDB_OPEN_EXISTING) */
    unsigned pg_pool;           /* PostgreSQL: connections in the pool (0: 8) */
    bool read_only;             /* refuse every write (a server on a replica, a dashboard-only server) */
    const char *const *allow_hosts;   /* extra names accepted in Host ("*": any) */
    size_t n_allow_hosts;
    const char *const *cors_origins;  /* origins (scheme://host[:port]) whose pages may call the API */
    size_t n_cors_origins;
    /* Opens the backend of a db_path that is a PostgreSQL URL or conninfo (src/pg's pg_backend_open, set by
     * the command above both layers: src/pg implements this layer's backend.h, so this layer cannot call it
     * by name). NULL: such a target is refused. */
    int (*open_pg)(const struct http_opts *o, const struct http_backend_ops **ops, struct http_backend **out,
                   factdb_error *err);
} http_opts;

/* Runs the server until SIGINT or SIGTERM; returns 0 after a clean shutdown. Prints the URL on stdout
 * once it accepts connections and one line per request on stderr. */
int http_serve(const http_opts *o, factdb_error *err);

/* ---- shared between the server files ---- */
typedef struct http_server http_server;

/* Metrics (metrics.c). */
typedef enum http_route {
    R_HEALTH, R_TABLES, R_SQL, R_ROWS, R_EVENTS, R_METRICS, R_OTHER, R_COUNT
} http_route;
void metrics_request(http_server *s, http_route r, int status, double seconds);
void metrics_commit(http_server *s, uint64_t rows);
size_t metrics_render(http_server *s, base_buf *out);

/* Group commit (ingest.c). */
typedef struct ins_req ins_req;
int ingest_start(http_server *s, factdb_error *err);
void ingest_stop(http_server *s);
typedef enum rows_format { ROWS_JSON, ROWS_NDJSON, ROWS_CSV } rows_format;
/* Parses and validates a request body of rows for `table`; on success queues it for
 * the next group commit and waits until it is durable. Fills *inserted and *version, or err (with
 * err->line = row, err->column = column number; *colname the column's name when known). */
int ingest_rows(http_server *s, const char *table, rows_format format, const char *body, size_t len,
                uint64_t *inserted, uint64_t *version, char *colname, size_t colcap, factdb_error *err);

/* Seconds on the monotonic clock (server.c). */
double http_now(void);

/* Whether JSON text nests no deeper than max (counted outside strings); *at receives the offending byte. */
bool http_json_depth_ok(const char *s, size_t len, int max, size_t *at);
/* The same check, which also counts, without decoding, an upper bound of the values (`values`: what
 * decoding would allocate) and the items of the top-level array or object (`items`). */
bool http_json_scan(const char *s, size_t len, int max, size_t *at, size_t *values, size_t *items);

/* Request bodies of all connections together may hold at most this much memory. */
#define HTTP_BODY_BUDGET ((size_t)512 << 20)

struct http_backend_ops;
struct http_backend;
struct http_watch;

struct http_server {
    http_opts o;
    const struct http_backend_ops *be;  /* storage: the embedded engine or PostgreSQL (backend.h) */
    struct http_backend *bs;            /* the backend's state */
    atomic_bool stopping;    /* shutting down: event streams end */
    atomic_bool closed;      /* no connection is left: the committer may exit once its queue is empty */
    atomic_int active;       /* requests being answered */
    _Atomic size_t body_bytes;  /* buffered request bodies, against HTTP_BODY_BUDGET */
    _Atomic size_t result_bytes;  /* query memory granted to requests in flight, against o.max_result_memory */
    pthread_mutex_t rmu;     /* requests waiting for query memory sleep on rcv; a release wakes them */
    pthread_cond_t rcv;
    atomic_uint event_streams;  /* open /v1/events streams, against o.max_event_streams */
    atomic_bool daemon_stopped; /* MHD_stop_daemon returned: the watchdog (connection deadlines) may exit */
    /* metrics */
    pthread_mutex_t mu;
    uint64_t req_count[R_COUNT][6];          /* by status class index */
    uint64_t req_by_status[R_COUNT][600];
    uint64_t lat_bucket[R_COUNT][12];
    double lat_sum[R_COUNT];
    uint64_t lat_count[R_COUNT];
    uint64_t rows_inserted, commits, commit_rows_bucket[10];
    /* group commit */
    pthread_mutex_t qmu;
    pthread_cond_t qcv, donecv;
    ins_req *queue, *queue_tail;
    pthread_t committer;
    bool committer_running;
    /* connections, for the header and body deadlines (server.c) */
    pthread_mutex_t cmu;
    struct conn_track *conns;
    uint64_t slow_closed;                    /* connections closed for missing a deadline (under mu) */
    /* query watchdog */
    pthread_mutex_t wmu;
    struct http_watch *watches;
    pthread_t watchdog;
    bool watchdog_running;
};

#endif
