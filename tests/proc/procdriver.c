/* procdriver.c: a helper process for the multi-process and crash tests (tests/proc/ scripts start many of
 * them and kill some). It uses only the public API. Every batch it writes is self-checking: each row
 * carries the batch's row count and the sum of the batch's values, so a reader that sees part of a
 * batch notices. Modes:
 *   create DB TABLE                       create the batch table
 *   write DB TABLE WRITER NBATCHES SEED [BUSY_MS]   write batches; print "ack WRITER BATCH ROWS" after each commit
 *   latency DB TABLE WRITER N PAUSE_MS [BUSY_MS]   N one-row commits, PAUSE_MS apart; print "lat MS" for each
 *   scan DB TABLE SECONDS                 scan repeatedly, verifying batches and that counts never go down
 *   verify DB TABLE                       verify once and print "batch WRITER BATCH ROWS" for each batch
 *   truncate DB TABLE                     remove every row
 *   hold DB TABLE MS                      take the write lock (a transaction with a chunk) for MS ms, then commit
 *   readhold DB TABLE MS                  keep a snapshot open for MS ms
 *   threads DB TABLE NTHREADS NBATCHES    writers and scanners as threads sharing one handle
 *   forkhold DB TABLE MS                  hold the write lock, fork a child that tries a write through the
 *                                         parent's handle (prints "child err CODE message") and lives MS ms
 *   commits DB TABLE WRITER NCOMMITS [NTHREADS [BUSY_MS]]   single-row durable commits from NTHREADS
 *                                         threads (writer ids WRITER*64+thread); print "lat WRITER BATCH US END"
 *                                         after each: the commit's time in us, waiting for the write lock
 *                                         included, and when it ended (CLOCK_MONOTONIC us) */
#include "factdb.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DIE(...)                                  \
    do {                                          \
        fprintf(stderr, "procdriver: " __VA_ARGS__); \
        fputc('\n', stderr);                      \
        exit(1);                                  \
    } while (0)

/* Opens a write transaction (which holds the write lock until it ends; a load no longer does, it takes
 * the lock per chunk) and appends one full chunk of rows tagged WRITER/BATCH into TABLE through it. */
static factdb_appender *hold_write_lock(factdb *db, const char *table, int writer, int batch, factdb_txn **x)
{
    factdb_error err;
    factdb_appender *a;
    if (factdb_txn_begin(db, x, &err))
        DIE("hold: %s", err.message);
    if (factdb_appender_new(db, table, &a, &err))
        DIE("appender: %s", err.message);
    char tag[64];
    snprintf(tag, sizeof tag, "w%d-b%d-ü", writer, batch);
    for (int i = 0; i < 65536; i++) {
        factdb_append_int64(a, 0, writer, &err);
        factdb_append_int64(a, 1, batch, &err);
        factdb_append_int64(a, 2, 65536, &err);
        factdb_append_int64(a, 3, 1, &err);
        factdb_append_int64(a, 4, 65536, &err);
        factdb_append_text(a, 5, tag, strlen(tag), &err);
        if (factdb_append_row_end(a, &err))
            DIE("hold: %s", err.message);
    }
    return a;
}

static factdb *open_db(const char *path, int busy)
{
    factdb_error err;
    factdb *db;
    factdb_options o = {.busy_timeout_ms = busy};
    if (factdb_open(path, &o, &db, &err))
        DIE("open: %s", err.message);
    return db;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int do_create(factdb *db, const char *table)
{
    factdb_column_def cols[] = {{"writer", FACTDB_BIGINT, 0, 0, true}, {"batch", FACTDB_BIGINT, 0, 0, true},
                                {"nrows", FACTDB_INTEGER, 0, 0, true}, {"val", FACTDB_BIGINT, 0, 0, false},
                                {"total", FACTDB_BIGINT, 0, 0, true},  {"tag", FACTDB_TEXT, 0, 0, true},
                                {"price", FACTDB_DECIMAL, 12, 2, false}, {"x", FACTDB_DOUBLE, 0, 0, false}};
    factdb_error err;
    if (factdb_create_table(db, table, cols, 8, &err) && err.code != FACTDB_TABLE_EXISTS)
        DIE("create: %s", err.message);
    return 0;
}

/* Writes one batch of n rows; returns the factdb code of the commit. */
static int write_batch(factdb *db, const char *table, int64_t writer, int64_t batch, int n, uint64_t *seed,
                       factdb_error *err)
{
    factdb_appender *a;
    int rc = factdb_appender_new(db, table, &a, err);
    if (rc)
        return rc;
    int64_t *vals = malloc(sizeof *vals * (size_t)n);
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        vals[i] = (int64_t)(xorshift(seed) % 1000000);
        total += vals[i];
    }
    char tag[64];
    snprintf(tag, sizeof tag, "w%lld-b%lld-ü", (long long)writer, (long long)batch);
    for (int i = 0; i < n && !rc; i++) {
        rc = factdb_append_int64(a, 0, writer, err);
        if (!rc) rc = factdb_append_int64(a, 1, batch, err);
        if (!rc) rc = factdb_append_int64(a, 2, n, err);
        if (!rc) rc = factdb_append_int64(a, 3, vals[i], err);
        if (!rc) rc = factdb_append_int64(a, 4, total, err);
        if (!rc) rc = factdb_append_text(a, 5, tag, strlen(tag), err);
        if (!rc) rc = i % 7 ? factdb_append_int64(a, 6, vals[i] * 3, err) : factdb_append_null(a, 6, err);
        if (!rc) rc = factdb_append_double(a, 7, vals[i] / 8.0, err);
        if (!rc) rc = factdb_append_row_end(a, err);
    }
    if (!rc)
        rc = factdb_appender_commit(a, err);
    factdb_appender_free(a);
    free(vals);
    return rc;
}

static int batch_size(uint64_t *seed)
{
    uint64_t r = xorshift(seed) % 100;
    if (r < 5)
        return 65536 + 1000 + (int)(xorshift(seed) % 70000);  /* a multi-chunk load */
    if (r < 40)
        return 1 + (int)(xorshift(seed) % 10);  /* API-sized inserts: exercise merging */
    return 1 + (int)(xorshift(seed) % 5000);
}

typedef struct seen {
    int64_t writer, batch, nrows, count, sum, total;
} seen;

/* Scans the table once, verifies every batch, returns the row count; prints batches if `print`. */
static uint64_t verify(factdb *db, const char *table, int print)
{
    factdb_error err;
    factdb_scan *s;
    if (factdb_scan_open(db, table, NULL, 0, &s, &err))
        DIE("scan open: %s", err.message);
    size_t cap = 1024, n = 0;
    seen *b = calloc(cap, sizeof *b);
    factdb_batch bt;
    factdb_batch_init(&bt);
    uint64_t rows = 0;
    for (;;) {
        if (factdb_scan_next(s, &bt, &err))
            DIE("scan: %s", err.message);
        if (!bt.count)
            break;
        const int64_t *w = bt.cols[0].data, *bn = bt.cols[1].data, *v = bt.cols[3].data, *tot = bt.cols[4].data;
        const int32_t *nr = bt.cols[2].data;
        const uint32_t *tag = bt.cols[5].data;
        for (size_t i = 0; i < bt.count; i++) {
            size_t j;
            for (j = n; j > 0; j--)
                if (b[j - 1].writer == w[i] && b[j - 1].batch == bn[i])
                    break;
            if (j == 0) {
                if (n == cap) {
                    cap *= 2;
                    b = realloc(b, cap * sizeof *b);
                }
                b[n] = (seen){w[i], bn[i], nr[i], 0, 0, tot[i]};
                j = ++n;
            }
            seen *e = &b[j - 1];
            e->count++;
            e->sum += v[i];
            size_t len;
            const char *t = factdb_scan_text(s, 5, tag[i], &len);
            char want[64];
            snprintf(want, sizeof want, "w%lld-b%lld-ü", (long long)w[i], (long long)bn[i]);
            if (!t || len != strlen(want) || memcmp(t, want, len))
                DIE("row of batch %lld/%lld has tag \"%.*s\"", (long long)w[i], (long long)bn[i], t ? (int)len : 6,
                    t ? t : "(null)");
        }
        rows += bt.count;
    }
    if (rows != factdb_scan_row_count(s))
        DIE("scan returned %llu rows but the snapshot says %llu", (unsigned long long)rows,
            (unsigned long long)factdb_scan_row_count(s));
    for (size_t i = 0; i < n; i++) {
        if (b[i].count != b[i].nrows || b[i].sum != b[i].total)
            DIE("partial batch %lld/%lld: %lld of %lld rows, sum %lld of %lld", (long long)b[i].writer,
                (long long)b[i].batch, (long long)b[i].count, (long long)b[i].nrows, (long long)b[i].sum,
                (long long)b[i].total);
        if (print)
            printf("batch %lld %lld %lld\n", (long long)b[i].writer, (long long)b[i].batch, (long long)b[i].nrows);
    }
    free(b);
    factdb_batch_cleanup(&bt);
    factdb_scan_free(s);
    return rows;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct thread_arg {
    factdb *db;
    const char *table;
    int id, nbatches, writer;
    _Atomic int *writers_left;
    _Atomic uint64_t *acked;
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *a = p;
    if (a->writer) {
        uint64_t seed = 0x1234567ull * (uint64_t)(a->id + 1);
        for (int b = 0; b < a->nbatches; b++) {
            factdb_error err;
            int n = batch_size(&seed);
            if (n > 20000)
                n = 20000;
            if (write_batch(a->db, a->table, 1000 + a->id, b, n, &seed, &err))
                DIE("thread writer %d: %s", a->id, err.message);
            atomic_fetch_add(a->acked, (uint64_t)n);
        }
        atomic_fetch_sub(a->writers_left, 1);
    } else {
        uint64_t last = 0;
        while (atomic_load(a->writers_left) > 0) {
            uint64_t rows = verify(a->db, a->table, 0);
            if (rows < last)
                DIE("thread reader: count went down from %llu to %llu", (unsigned long long)last,
                    (unsigned long long)rows);
            last = rows;
        }
    }
    return NULL;
}

typedef struct commit_arg {
    factdb *db;
    const char *table;
    int64_t writer;
    int n;
    pthread_barrier_t *start;
} commit_arg;

/* Each commit's row is appended before the clock starts: the time is then the commit's alone (the
 * appender asks for the write lock first thing), so the order of the clock readings is the order in
 * which the writers asked for the lock. */
static void *commit_main(void *p)
{
    commit_arg *a = p;
    uint64_t seed = (uint64_t)a->writer * 2654435761ull + 1;
    pthread_barrier_wait(a->start);
    for (int b = 0; b < a->n; b++) {
        factdb_error err;
        factdb_appender *ap;
        int64_t v = (int64_t)(xorshift(&seed) % 1000000);
        char tag[64];
        snprintf(tag, sizeof tag, "w%lld-b%d-ü", (long long)a->writer, b);
        int rc = factdb_appender_new(a->db, a->table, &ap, &err);
        if (!rc) rc = factdb_append_int64(ap, 0, a->writer, &err);
        if (!rc) rc = factdb_append_int64(ap, 1, b, &err);
        if (!rc) rc = factdb_append_int64(ap, 2, 1, &err);
        if (!rc) rc = factdb_append_int64(ap, 3, v, &err);
        if (!rc) rc = factdb_append_int64(ap, 4, v, &err);
        if (!rc) rc = factdb_append_text(ap, 5, tag, strlen(tag), &err);
        if (!rc) rc = factdb_append_row_end(ap, &err);
        double t0 = now_s();
        if (!rc) rc = factdb_appender_commit(ap, &err);
        double t1 = now_s();
        if (rc)
            DIE("writer %lld commit %d: %s", (long long)a->writer, b, err.message);
        factdb_appender_free(ap);
        printf("lat %lld %d %lld %lld\n", (long long)a->writer, b, (long long)((t1 - t0) * 1e6), (long long)(t1 * 1e6));
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        DIE("usage: see the comment at the top of procdriver.c");
    const char *mode = argv[1], *path = argv[2], *table = argv[3];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "sqlstep")) {
        /* One SQL statement per stdin line, run in one session; prints "ok TAG [first value]" or
         * "err CODE message" per line, so a test can step a transaction and kill the process anywhere. */
        factdb *db = open_db(path, atoi(table));
        factdb_session *s;
        factdb_error err;
        if (factdb_session_new(db, &s, &err))
            DIE("session: %s", err.message);
        size_t cap = 1 << 24;
        char *line = malloc(cap);
        if (!line)
            DIE("out of memory");
        while (fgets(line, (int)cap, stdin)) {
            line[strcspn(line, "\n")] = 0;
            size_t used;
            factdb_result *r;
            if (factdb_session_exec(s, line, strlen(line), NULL, 0, &used, &r, &err)) {
                printf("err %s %s\n", factdb_error_name(err.code), err.message);
                continue;
            }
            char buf[128] = "";
            size_t len = 0;
            const char *v = r && factdb_result_nrows(r) ? factdb_result_text(r, 0, 0, buf, sizeof buf, &len) : NULL;
            printf("ok %s %.*s\n", r ? factdb_result_tag(r) : "", (int)len, v ? v : "");
            factdb_result_free(r);
        }
        free(line);
        factdb_session_free(s);
        factdb_close(db);
        return 0;
    }
    if (!strcmp(mode, "create")) {
        factdb *db = open_db(path, 10000);
        do_create(db, table);
        factdb_close(db);
        return 0;
    }
    if (!strcmp(mode, "write") && argc >= 7) {
        factdb *db = open_db(path, argc > 7 ? atoi(argv[7]) : 10000);
        int64_t writer = atoll(argv[4]);
        int nb = atoi(argv[5]);
        uint64_t seed = strtoull(argv[6], NULL, 10) * 2654435761ull + 1;
        for (int b = 0; b < nb; b++) {
            factdb_error err;
            int n = batch_size(&seed);
            printf("begin %lld %d %d\n", (long long)writer, b, n);
            if (write_batch(db, table, writer, b, n, &seed, &err))
                DIE("writer %lld batch %d: %s", (long long)writer, b, err.message);
            printf("ack %lld %d %d\n", (long long)writer, b, n);
        }
        factdb_close(db);
        return 0;
    }
    if (!strcmp(mode, "latency") && argc >= 7) {
        /* one-row batches, one every PAUSE_MS, each commit's wall time printed (the wait for the lock) */
        factdb *db = open_db(path, argc > 7 ? atoi(argv[7]) : 10000);
        int64_t writer = atoll(argv[4]);
        int n = atoi(argv[5]), pause = atoi(argv[6]);
        uint64_t seed = (uint64_t)writer * 2654435761ull + 1;
        for (int b = 0; b < n; b++) {
            factdb_error err;
            double t0 = now_s();
            if (write_batch(db, table, writer, b, 1, &seed, &err))
                DIE("writer %lld batch %d: %s", (long long)writer, b, err.message);
            printf("lat %.3f\n", (now_s() - t0) * 1000);
            fflush(stdout);
            usleep((useconds_t)pause * 1000);
        }
        factdb_close(db);
        return 0;
    }
    if (!strcmp(mode, "scan") && argc >= 5) {
        factdb *db = open_db(path, 10000);
        double until = now_s() + atof(argv[4]);
        uint64_t last = 0, scans = 0;
        while (now_s() < until) {
            uint64_t rows = verify(db, table, 0);
            if (rows < last)
                DIE("count went down from %llu to %llu", (unsigned long long)last, (unsigned long long)rows);
            last = rows;
            scans++;
        }
        printf("scans %llu last %llu\n", (unsigned long long)scans, (unsigned long long)last);
        factdb_close(db);
        return 0;
    }
    if (!strcmp(mode, "truncate")) {
        factdb *db = open_db(path, 10000);
        factdb_error err;
        if (factdb_truncate_table(db, table, &err))
            DIE("truncate: %s", err.message);
        factdb_close(db);
        return 0;
    }
    if (!strcmp(mode, "verify")) {
        factdb *db = open_db(path, 10000);
        uint64_t rows = verify(db, table, 1);
        printf("rows %llu\n", (unsigned long long)rows);
        factdb_close(db);
        return 0;
    }
    if (!strcmp(mode, "forkhold") && argc >= 5) {
        factdb *db = open_db(path, 10000);
        int ms = atoi(argv[4]);
        factdb_error err;
        factdb_txn *x;
        factdb_appender *a = hold_write_lock(db, table, 999998, 0, &x);
        fflush(stdout);
        pid_t child = fork();
        if (child < 0)
            DIE("fork failed");
        if (child == 0) {
            factdb_column_def col = {"x", FACTDB_BIGINT, 0, 0, false};
            int rc = factdb_create_table(db, "forked", &col, 1, &err);
            printf("child %s %s\n", rc ? "err" : "ok", rc ? factdb_error_name(err.code) : "");
            if (rc)
                printf("child message %s\n", err.message);
            fflush(stdout);
            usleep((useconds_t)ms * 1000);
            _exit(0);  /* LMDB's handles may not be used (nor closed) after fork */
        }
        printf("holding %d %d\n", (int)getpid(), (int)child);
        usleep((useconds_t)ms * 1000);
        if (factdb_appender_commit(a, &err) || factdb_txn_commit(x, &err))
            DIE("forkhold commit: %s", err.message);
        factdb_appender_free(a);
        factdb_close(db);
        return 0;
    }
    if ((!strcmp(mode, "hold") || !strcmp(mode, "readhold")) && argc >= 5) {
        factdb *db = open_db(path, 10000);
        int ms = atoi(argv[4]);
        factdb_error err;
        if (!strcmp(mode, "readhold")) {
            factdb_scan *s;
            if (factdb_scan_open(db, table, NULL, 0, &s, &err))
                DIE("scan: %s", err.message);
            printf("holding\n");
            usleep((useconds_t)ms * 1000);
            factdb_scan_free(s);
        } else {
            /* A write transaction holds the write lock until it ends (a load no longer does: it takes
             * the lock per chunk). */
            factdb_txn *x;
            factdb_appender *a = hold_write_lock(db, table, 999999, getpid(), &x);
            printf("holding %d\n", (int)getpid());
            usleep((useconds_t)ms * 1000);
            if (factdb_appender_commit(a, &err) || factdb_txn_commit(x, &err))
                DIE("hold commit: %s", err.message);
            factdb_appender_free(a);
        }
        factdb_close(db);
        return 0;
    }
    if (!strcmp(mode, "threads") && argc >= 6) {
        factdb *db = open_db(path, 30000);
        int nt = atoi(argv[4]), nb = atoi(argv[5]);
        pthread_t th[64];
        thread_arg args[64];
        _Atomic int writers_left = nt / 2;
        _Atomic uint64_t acked = 0;
        uint64_t before = verify(db, table, 0);
        for (int i = 0; i < nt && i < 64; i++) {
            args[i] = (thread_arg){db, table, i, nb, i < nt / 2, &writers_left, &acked};
            pthread_create(&th[i], NULL, thread_main, &args[i]);
        }
        for (int i = 0; i < nt && i < 64; i++)
            pthread_join(th[i], NULL);
        uint64_t after = verify(db, table, 0);
        if (after != before + atomic_load(&acked))
            DIE("threads: %llu rows before, %llu acked, %llu after", (unsigned long long)before,
                (unsigned long long)atomic_load(&acked), (unsigned long long)after);
        printf("threads ok rows %llu\n", (unsigned long long)after);
        factdb_close(db);
        return 0;
    }
    if (!strcmp(mode, "commits") && argc >= 6) {
        int nt = argc > 6 ? atoi(argv[6]) : 1;
        if (nt < 1 || nt > 64)
            DIE("commits: 1 to 64 threads, not %d", nt);
        factdb *db = open_db(path, argc > 7 ? atoi(argv[7]) : 30000);
        pthread_t th[64];
        commit_arg args[64];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, (unsigned)nt);
        for (int i = 0; i < nt; i++) {
            args[i] = (commit_arg){db, table, atoll(argv[4]) * 64 + i, atoi(argv[5]), &start};
            pthread_create(&th[i], NULL, commit_main, &args[i]);
        }
        for (int i = 0; i < nt; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&start);
        factdb_close(db);
        return 0;
    }
    DIE("unknown mode or missing arguments: %s", mode);
}
