/* scan.c: factdb side of the scan benchmark, through the public library only. Prints one line per
 * query: "name median_ms result", each the median of RUNS warm runs, with THREADS threads sharing one
 * scan (factdb_scan_next is thread-safe). Usage: bench-scan DB TABLE THREADS RUNS */
#include "factdb.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct job {
    factdb_scan *scan;
    int kind;  /* 0 count, 1 sum double, 2 sum bigint-ish, 3 sum of 4 doubles-like columns */
    double dsum;
    long long isum, count;
} job;

static void *worker(void *p)
{
    job *j = p;
    factdb_batch b;
    factdb_batch_init(&b);
    factdb_error err;
    for (;;) {
        if (factdb_scan_next(j->scan, &b, &err)) {
            fprintf(stderr, "bench-scan: %s\n", err.message);
            exit(1);
        }
        if (!b.count)
            break;
        j->count += (long long)b.count;
        if (j->kind == 1) {
            const double *v = b.cols[0].data;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            size_t i = 0;
            for (; i + 4 <= b.count; i += 4) {
                s0 += v[i]; s1 += v[i + 1]; s2 += v[i + 2]; s3 += v[i + 3];
            }
            for (; i < b.count; i++)
                s0 += v[i];
            j->dsum += (s0 + s1) + (s2 + s3);
        } else if (j->kind == 2) {
            const int64_t *v = b.cols[0].data;
            long long s = 0;
            for (size_t i = 0; i < b.count; i++)
                s += v[i];
            j->isum += s;
        }
    }
    factdb_batch_cleanup(&b);
    return NULL;
}

static double run(factdb *db, const char *table, const char *col, int kind, int threads, double *dres, long long *ires)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    factdb_scan *s;
    factdb_error err;
    const char *cols[1] = {col};
    if (factdb_scan_open(db, table, col ? cols : NULL, col ? 1 : 0, &s, &err)) {
        fprintf(stderr, "bench-scan: %s\n", err.message);
        exit(1);
    }
    job jobs[16];
    pthread_t th[16];
    memset(jobs, 0, sizeof jobs);
    if (kind == 0) {
        *ires = (long long)factdb_scan_row_count(s);  /* count(*) is a catalog lookup */
    } else {
        for (int i = 0; i < threads; i++) {
            jobs[i].scan = s;
            jobs[i].kind = kind;
            pthread_create(&th[i], NULL, worker, &jobs[i]);
        }
        double d = 0;
        long long x = 0;
        for (int i = 0; i < threads; i++) {
            pthread_join(th[i], NULL);
            d += jobs[i].dsum;
            x += jobs[i].isum;
        }
        *dres = d;
        *ires = x;
    }
    factdb_scan_free(s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench-scan DB TABLE THREADS RUNS\n");
        return 2;
    }
    factdb *db;
    factdb_error err;
    factdb_options o = {.busy_timeout_ms = -1, .read_only = true};
    if (factdb_open(argv[1], &o, &db, &err)) {
        fprintf(stderr, "bench-scan: %s\n", err.message);
        return 1;
    }
    int threads = atoi(argv[3]), runs = atoi(argv[4]);
    struct { const char *name, *col; int kind; } qs[] = {
        {"count_star", NULL, 0}, {"sum_double_amount", "amount", 1}, {"sum_bigint_customer_id", "customer_id", 2}};
    for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++) {
        double t[64], d = 0;
        long long x = 0;
        run(db, argv[2], qs[q].col, qs[q].kind, threads, &d, &x);  /* warm-up */
        for (int r = 0; r < runs && r < 64; r++)
            t[r] = run(db, argv[2], qs[q].col, qs[q].kind, threads, &d, &x);
        qsort(t, (size_t)runs, sizeof *t, cmp);
        if (qs[q].kind == 1)
            printf("%s %.3f %.2f\n", qs[q].name, t[runs / 2], d);
        else
            printf("%s %.3f %lld\n", qs[q].name, t[runs / 2], x);
    }
    factdb_close(db);
    return 0;
}
