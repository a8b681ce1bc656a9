/* metrics.c: GET /metrics in the Prometheus text format: requests by route and status, latency
 * histograms by route, rows inserted, commits and rows per commit, data_version and live readers. */
#include "backend.h"
#include <stdio.h>
#include <string.h>

static const char *const ROUTE[R_COUNT] = {"/v1/health", "/v1/tables", "/v1/sql", "/v1/tables/{name}/rows",
                                           "/v1/events", "/metrics", "other"};
static const double LAT[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
static const double PER_COMMIT[] = {1, 2, 5, 10, 20, 50, 100, 1000, 10000, 100000};

void metrics_request(http_server *s, http_route r, int status, double seconds)
{
    pthread_mutex_lock(&s->mu);
    if (status >= 100 && status < 600)
        s->req_by_status[r][status]++;
    for (size_t i = 0; i < ARRAY_LEN(LAT); i++)
        if (seconds <= LAT[i])
            s->lat_bucket[r][i]++;
    s->lat_sum[r] += seconds;
    s->lat_count[r]++;
    pthread_mutex_unlock(&s->mu);
}

void metrics_commit(http_server *s, uint64_t rows)
{
    pthread_mutex_lock(&s->mu);
    s->rows_inserted += rows;
    s->commits++;
    for (size_t i = 0; i < ARRAY_LEN(PER_COMMIT); i++)
        if ((double)rows <= PER_COMMIT[i])
            s->commit_rows_bucket[i]++;
    pthread_mutex_unlock(&s->mu);
}

static void add(base_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(base_buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        base_buf_append(b, line, (size_t)MIN((size_t)n, sizeof line - 1));
}

size_t metrics_render(http_server *s, base_buf *b)
{
    pthread_mutex_lock(&s->mu);
    add(b, "# HELP factdb_http_requests_total HTTP requests by route and status.\n");
    add(b, "# TYPE factdb_http_requests_total counter\n");
    for (int r = 0; r < R_COUNT; r++)
        for (int st = 100; st < 600; st++)
            if (s->req_by_status[r][st])
                add(b, "factdb_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", ROUTE[r], st,
                    (unsigned long long)s->req_by_status[r][st]);
    add(b, "# HELP factdb_http_request_duration_seconds Time from the request's first byte to the response's last.\n");
    add(b, "# TYPE factdb_http_request_duration_seconds histogram\n");
    for (int r = 0; r < R_COUNT; r++) {
        if (!s->lat_count[r])
            continue;
        for (size_t i = 0; i < ARRAY_LEN(LAT); i++)
            add(b, "factdb_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", ROUTE[r], LAT[i],
                (unsigned long long)s->lat_bucket[r][i]);
        add(b, "factdb_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", ROUTE[r],
            (unsigned long long)s->lat_count[r]);
        add(b, "factdb_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", ROUTE[r], s->lat_sum[r]);
        add(b, "factdb_http_request_duration_seconds_count{route=\"%s\"} %llu\n", ROUTE[r],
            (unsigned long long)s->lat_count[r]);
    }
    add(b, "# HELP factdb_rows_inserted_total Rows stored through POST /v1/tables/{name}/rows.\n");
    add(b, "# TYPE factdb_rows_inserted_total counter\n");
    add(b, "factdb_rows_inserted_total %llu\n", (unsigned long long)s->rows_inserted);
    add(b, "# HELP factdb_commits_total Group commits (each durable, holding every request that arrived meanwhile).\n");
    add(b, "# TYPE factdb_commits_total counter\n");
    add(b, "factdb_commits_total %llu\n", (unsigned long long)s->commits);
    add(b, "# HELP factdb_rows_per_commit Rows written by one group commit.\n");
    add(b, "# TYPE factdb_rows_per_commit histogram\n");
    for (size_t i = 0; i < ARRAY_LEN(PER_COMMIT); i++)
        add(b, "factdb_rows_per_commit_bucket{le=\"%g\"} %llu\n", PER_COMMIT[i],
            (unsigned long long)s->commit_rows_bucket[i]);
    add(b, "factdb_rows_per_commit_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)s->commits);
    add(b, "factdb_rows_per_commit_sum %llu\n", (unsigned long long)s->rows_inserted);
    add(b, "factdb_rows_per_commit_count %llu\n", (unsigned long long)s->commits);
    add(b, "# HELP factdb_http_slow_connections_closed_total Connections closed for sending a request head or "
           "body too slowly (--header-timeout, --min-body-rate).\n");
    add(b, "# TYPE factdb_http_slow_connections_closed_total counter\n");
    add(b, "factdb_http_slow_connections_closed_total %llu\n", (unsigned long long)s->slow_closed);
    pthread_mutex_unlock(&s->mu);
    http_metric_gauge(b, "factdb_http_query_memory_bytes", "Query memory (--max-result-memory) held by requests "
                      "in flight, results waiting to be sent included.", atomic_load(&s->result_bytes));
    s->be->metrics(s->bs, b);
    return b->len;
}
