/* fuzz_common.h: helpers shared by the libFuzzer harnesses in tests/fuzz/: a private scratch directory
 * (under /dev/shm when present: LMDB's fsyncs on tmpfs cost nothing), removing a database and its lock
 * file, and the invariants every error must keep whatever the input (valid UTF-8 message, position inside
 * the input). Each harness is one .c file that includes this header once. */
#ifndef FACTDB_FUZZ_COMMON_H
#define FACTDB_FUZZ_COMMON_H

#include "base/base.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A directory that lives as long as the process; made once. */
static inline const char *fuzz_dir(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof dir, "%s/factdb-fuzz-XXXXXX", base);
        if (!mkdtemp(dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
    }
    return dir;
}

/* The input in a heap buffer of exactly its size (not NUL-terminated, so ASan catches a read one byte past
 * the end), or NULL when out of memory. */
static inline char *fuzz_copy(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    if (p)
        memcpy(p, data, size);
    return p;
}

/* Removes database `path` and `path`-lock (missing files are fine). */
static inline void fuzz_remove_db(const char *path)
{
    char lock[512];
    snprintf(lock, sizeof lock, "%s-lock", path);
    unlink(path);
    unlink(lock);
}

/* Set FUZZ_NO_INVARIANTS=1 to skip the checks below (e.g. while a known message bug is being fixed). */
static inline int fuzz_invariants_on(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("FUZZ_NO_INVARIANTS") == NULL;
    return on;
}

/* The contract of factdb_error (include/factdb.h, docs/errors.md): a known code and a valid UTF-8 message;
 * `len` bounds err->position (a 1-based position may point one past the end of the text, at "end of
 * input"). Aborts, so the fuzzer keeps the input, when a failing call breaks it. */
static inline void fuzz_check_error(const factdb_error *err, int rc, size_t len)
{
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("FUZZ_VERBOSE") != NULL;  /* FUZZ_VERBOSE=1: print every error (replaying one input) */
    if (verbose && rc)
        fprintf(stderr, "fuzz: %s: %.300s\n", factdb_error_name(rc), err->message);
    if (!fuzz_invariants_on() || rc == 0)
        return;
    size_t n = strnlen(err->message, sizeof err->message);
    if (n == sizeof err->message) {
        fprintf(stderr, "fuzz invariant: error message not NUL-terminated\n");
        abort();
    }
    if (base_utf8_valid_prefix((const unsigned char *)err->message, n) != n) {
        fprintf(stderr, "fuzz invariant: error message is not valid UTF-8: %s\n", err->message);
        abort();
    }
    if (!strcmp(factdb_error_name(rc), "UNKNOWN")) {
        fprintf(stderr, "fuzz invariant: unknown error code %d: %s\n", rc, err->message);
        abort();
    }
    if (err->position < 0 || (uint64_t)err->position > (uint64_t)len + 1) {
        fprintf(stderr, "fuzz invariant: position %lld outside the %zu-byte input: %s\n", (long long)err->position,
                len, err->message);
        abort();
    }
}

/* Runs `sql` (a NUL-terminated script) on `db`, aborting on failure: setting up the fuzz database. */
static inline void fuzz_exec_script(factdb *db, const char *sql)
{
    factdb_session *s;
    factdb_error err;
    if (factdb_session_new(db, &s, &err)) {
        fprintf(stderr, "fuzz setup: %s\n", err.message);
        abort();
    }
    size_t at = 0, len = strlen(sql);
    while (at < len) {
        size_t used = 0;
        factdb_result *r = NULL;
        if (factdb_session_exec(s, sql + at, len - at, NULL, 0, &used, &r, &err)) {
            fprintf(stderr, "fuzz setup: %s\n  in: %.200s\n", err.message, sql + at);
            abort();
        }
        factdb_result_free(r);
        if (!used)
            break;
        at += used;
    }
    factdb_session_free(s);
}

/* The schema and rows the SQL, ingest and HTTP harnesses share: the tables of the tests/sql files (so the
 * seed statements taken from there bind), covering every column type, NULLs and NOT NULL. */
static const char FUZZ_SCHEMA[] =
    "CREATE TABLE sales (id integer NOT NULL, region text, product text, qty integer, price numeric(10,2), "
    "sold date, at timestamp);"
    "INSERT INTO sales VALUES (1, 'North', 'Apple', 3, 1.20, '2024-01-05', '2024-01-05 10:00:00'), "
    "(2, 'South', 'Pear', 1, 2.50, '2024-01-20', '2024-01-20 11:30:00'), "
    "(3, 'North', 'Pear', 5, 2.40, '2024-02-02', '2024-02-02 09:15:00'), "
    "(4, 'East', 'Apple', 2, 1.10, '2024-02-14', '2024-02-14 18:00:00'), "
    "(5, 'North', 'Plum', 10, 0.99, '2024-03-01', '2024-03-01 00:00:01'), "
    "(6, 'West', NULL, 4, 3.00, '2024-03-15', NULL);"
    "CREATE TABLE t (a integer NOT NULL, b text, c numeric(6,2), d double precision, e bigint, f boolean, "
    "g date, h timestamp);"
    "INSERT INTO t VALUES (1, 'uno', 1.50, 0.5, 9000000000, true, '2024-02-29', '2024-02-29 12:00:00'), "
    "(2, NULL, -3.25, '-1e300', -9223372036854775807, false, '1970-01-01', '1969-12-31 23:59:59.999999'), "
    "(3, 'tre', NULL, NULL, NULL, NULL, NULL, NULL), (4, 'Città', 9999.99, 'NaN', 0, true, '2099-12-31', "
    "'2000-01-01 00:00:00');"
    "CREATE TABLE f (s text, n numeric(10,3), d double precision, i integer, day date, ts timestamp);"
    "INSERT INTO f VALUES ('  Città di Forlì  ', -12.345, 2.5, -7, '2024-02-29', '2024-12-31 23:59:59.5'), "
    "('xxabcxx', 0.5, -0.0, 0, '2023-01-01', '2023-01-01 00:00:00'), (NULL, NULL, NULL, NULL, NULL, NULL);"
    "CREATE TABLE g (s text, i integer);"
    "INSERT INTO g VALUES ('a', 1), ('b', 2), ('a', 3), (NULL, 4), ('', NULL);";

/* Creates database `path` afresh (removing what was there) and runs `schema` in it; aborts, naming the
 * target `who`, when that fails (the harness cannot run without it). */
static inline factdb *fuzz_open_fresh(const char *path, const char *schema, const char *who)
{
    factdb *db;
    factdb_error err;
    fuzz_remove_db(path);
    if (factdb_open(path, NULL, &db, &err)) {
        fprintf(stderr, "%s: %s\n", who, err.message);
        abort();
    }
    fuzz_exec_script(db, schema);
    return db;
}

#endif
