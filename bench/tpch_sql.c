/* tpch_sql.c: factdb side of the lineitem benchmark (bench/tpch.py), through the public C API
 * (factdb_session_exec). THREADS is a comma-separated list of thread counts ("1,2"): SQL runs once per
 * count to warm up, then RUNS rounds, each running it once per count in turn, so a burst of load on a
 * shared machine hits every count alike. Prints the best ms of each count on the first line (separated
 * by spaces), then for each count its last result, one row a line, values separated by tabs (NULL as
 * \N), each result ended by a line "--", for bench/tpch.py to compare with DuckDB's and SQLite's.
 * Usage: bench-tpch-sql DB THREADS RUNS SQL */
#include "factdb.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void print_result(factdb_result *r)
{
    size_t nrows = factdb_result_nrows(r), ncols = factdb_result_ncols(r);
    for (size_t row = 0; row < nrows; row++) {
        for (size_t col = 0; col < ncols; col++) {
            char buf[256];
            size_t len;
            const char *v = factdb_result_text(r, row, col, buf, sizeof buf, &len);
            printf("%s%.*s", col ? "\t" : "", v ? (int)len : 2, v ? v : "\\N");
        }
        putchar('\n');
    }
    puts("--");
}

int main(int argc, char **argv)
{
    enum { MAXT = 8 };
    int threads[MAXT], nt = 0;
    bool bad = argc != 5;
    for (char *p = bad ? "" : argv[2]; !bad;) {
        char *end;
        long v = strtol(p, &end, 10);
        bad = end == p || v < 1 || v > 256 || (*end && *end != ',') || nt == MAXT;
        if (bad)
            break;
        threads[nt++] = (int)v;
        if (!*end)
            break;
        p = end + 1;
    }
    if (bad || atoi(argv[3]) < 1) {
        fprintf(stderr, "usage: bench-tpch-sql DB THREADS RUNS SQL  (THREADS: counts like 1,2; RUNS at least 1)\n");
        return 2;
    }
    int runs = atoi(argv[3]);
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
    /* DuckDB's default memory limit is 80% of RAM; factdb's per-query default of 4 GiB is too small for
     * 18M groups at scale factor 3, so the benchmark allows half of RAM */
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psize > 0)
        factdb_session_set_memory_limit(s, (size_t)pages * (size_t)psize / 2);
    double best[MAXT] = {0};
    factdb_result *last[MAXT] = {0};
    int rc = 0;
    for (int i = -1; i < runs && !rc; i++)
        for (int k = 0; k < nt && !rc; k++) {
            size_t used;
            factdb_result *r;
            factdb_session_set_threads(s, threads[k]);
            double t0 = now_ms();
            if (factdb_session_exec(s, sql, strlen(sql), NULL, 0, &used, &r, &err)) {
                fprintf(stderr, "bench-tpch-sql: %s\n  in: %s\n", err.message, sql);
                rc = 1;
                break;
            }
            double t = now_ms() - t0;
            if (i >= 0 && (i == 0 || t < best[k]))
                best[k] = t;
            if (last[k])
                factdb_result_free(last[k]);
            last[k] = r;
        }
    if (!rc) {
        for (int k = 0; k < nt; k++)
            printf("%s%.3f", k ? " " : "", best[k]);
        putchar('\n');
        for (int k = 0; k < nt; k++)
            print_result(last[k]);
    }
    for (int k = 0; k < nt; k++)
        if (last[k])
            factdb_result_free(last[k]);
    factdb_session_free(s);
    factdb_close(db);
    return rc;
}
