/* sql.c: factdb side of the SQL benchmark, through the public C API (factdb_session_exec). For each
 * "name<TAB>sql" line of QUERIES it runs the query once to warm up, then RUNS times, and prints
 * "name median_ms first-value-of-the-first-row". Usage: bench-sql DB QUERIES THREADS RUNS */
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

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench-sql DB QUERIES THREADS RUNS\n");
        return 2;
    }
    int threads = atoi(argv[3]), runs = atoi(argv[4]);
    factdb *db;
    factdb_session *s;
    factdb_error err;
    if (factdb_open(argv[1], NULL, &db, &err) || factdb_session_new(db, &s, &err)) {
        fprintf(stderr, "bench-sql: %s\n", err.message);
        return 1;
    }
    factdb_session_set_threads(s, threads);
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    char line[8192];
    double *ts = calloc((size_t)runs, sizeof *ts);
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = 0;
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        const char *sql = tab + 1;
        char first[128] = "";
        for (int i = -1; i < runs; i++) {
            size_t used;
            factdb_result *r;
            double t0 = now_ms();
            if (factdb_session_exec(s, sql, strlen(sql), NULL, 0, &used, &r, &err)) {
                fprintf(stderr, "bench-sql: %s: %s\n", line, err.message);
                return 1;
            }
            double t = now_ms() - t0;
            if (i >= 0)
                ts[i] = t;
            if (factdb_result_nrows(r)) {
                char buf[128];
                size_t len;
                const char *v = factdb_result_text(r, 0, factdb_result_ncols(r) - 1, buf, sizeof buf, &len);
                snprintf(first, sizeof first, "%.*s", v ? (int)len : 4, v ? v : "NULL");
            }
            factdb_result_free(r);
        }
        qsort(ts, (size_t)runs, sizeof *ts, cmp);
        printf("%s %.3f %s\n", line, ts[runs / 2], first);
    }
    fclose(f);
    free(ts);
    factdb_session_free(s);
    factdb_close(db);
    return 0;
}
