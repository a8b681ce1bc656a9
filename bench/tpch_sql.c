/* tpch_sql.c: factdb side of the lineitem benchmark (bench/tpch.py), through the public C API
 * (factdb_session_exec). Runs SQL once to warm up, then RUNS times with THREADS threads; prints
 * "best_ms" on the first line and then the last run's result, one row a line, values separated by tabs
 * (NULL as \N), for bench/tpch.py to compare with DuckDB's and SQLite's.
 * Usage: bench-tpch-sql DB THREADS RUNS SQL */
#include "factdb.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 5 || atoi(argv[2]) < 1 || atoi(argv[3]) < 1) {
        fprintf(stderr, "usage: bench-tpch-sql DB THREADS RUNS SQL  (THREADS and RUNS at least 1)\n");
        return 2;
    }
    int threads = atoi(argv[2]), runs = atoi(argv[3]);
    const char *sql = argv[4];
    factdb *db;
    factdb_session *s;
    factdb_error err;
    factdb_options opts = {.busy_timeout_ms = -1, .flags = FACTDB_OPEN_EXISTING}; /* never create a typo */
    if (factdb_open(argv[1], &opts, &db, &err)) {
        fprintf(stderr, "bench-tpch-sql: %s: %s\n", argv[1], err.message);
        return 1;
    }
    if (factdb_session_new(db, &s, &err)) {
        fprintf(stderr, "bench-tpch-sql: %s: %s\n", argv[1], err.message);
        factdb_close(db);
        return 1;
    }
    factdb_session_set_threads(s, threads);
    double best = 0;
    factdb_result *last = NULL;
    for (int i = -1; i < runs; i++) {
        size_t used;
        factdb_result *r;
        double t0 = now_ms();
        if (factdb_session_exec(s, sql, strlen(sql), NULL, 0, &used, &r, &err)) {
            fprintf(stderr, "bench-tpch-sql: %s\n  in: %s\n", err.message, sql);
            if (last)
                factdb_result_free(last);
            factdb_session_free(s);
            factdb_close(db);
            return 1;
        }
        double t = now_ms() - t0;
        if (i >= 0 && (i == 0 || t < best))
            best = t;
        if (last)
            factdb_result_free(last);
        last = r;
    }
    printf("%.3f\n", best);
    size_t nrows = factdb_result_nrows(last), ncols = factdb_result_ncols(last);
    for (size_t row = 0; row < nrows; row++) {
        for (size_t col = 0; col < ncols; col++) {
            char buf[256];
            size_t len;
            const char *v = factdb_result_text(last, row, col, buf, sizeof buf, &len);
            printf("%s%.*s", col ? "\t" : "", v ? (int)len : 2, v ? v : "\\N");
        }
        putchar('\n');
    }
    factdb_result_free(last);
    factdb_session_free(s);
    factdb_close(db);
    return 0;
}
