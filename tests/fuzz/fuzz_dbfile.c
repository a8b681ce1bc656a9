/* fuzz_dbfile.c: libFuzzer target for opening and reading a damaged database file. A small valid database
 * (tests/fuzz/fuzz_common.h's tables plus one of several chunks with deleted rows) is built once; each
 * input is a list of byte patches applied to a copy of it, which is then opened and read through the
 * public API only: factdb_check, factdb_table_list, scans of every column and a few SQL queries.
 * Input: byte 0 bit 0 opens read-only; then records of 5 bytes, offset (uint32, little-endian, taken
 * modulo the file size) and the byte to write there; at most MAX_PATCHES records, a trailing part ignored.
 * LMDB keeps no page checksums, so a patched branch page can send it outside the map (SIGSEGV/SIGBUS);
 * this harness does not catch signals: such a crash is a finding, to be recorded in
 * tests/fuzz/findings/fuzz_dbfile. */
#include "fuzz_common.h"
#include <fcntl.h>
#include <sys/stat.h>

#define MAX_PATCHES 64

static char db_path[512];
static unsigned char *tmpl;
static size_t tmpl_len;

static void build_template(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/template.factdb", fuzz_dir());
    fuzz_remove_db(path);
    factdb *db;
    factdb_error err;
    if (factdb_open(path, NULL, &db, &err)) {
        fprintf(stderr, "fuzz_dbfile: %s\n", err.message);
        abort();
    }
    fuzz_exec_script(db, FUZZ_SCHEMA);
    fuzz_exec_script(db, "CREATE TABLE big (k bigint NOT NULL, name text, v double precision, day date)");
    /* three commits: three chunks (k delta-encoded), a dictionary that grew twice (raw blocks, then a
     * compressed one), then deletes and a dropped table */
    for (int commit = 0; commit < 3; commit++) {
        factdb_appender *app;
        if (factdb_appender_new(db, "big", &app, &err))
            abort();
        for (int i = 0; i < 300; i++) {
            char name[64];
            /* the third commit's names are all new and long enough for a compressed dictionary block */
            int k = commit * 300 + i,
                n = commit == 2 ? snprintf(name, sizeof name, "name-%d-of-the-third-commit", k)
                                : snprintf(name, sizeof name, "name-%d", k % (17 + commit * 10));
            if (factdb_append_int64(app, 0, k, &err) || factdb_append_text(app, 1, name, (size_t)n, &err) ||
                (i % 7 ? factdb_append_double(app, 2, k / 3.0, &err) : factdb_append_null(app, 2, &err)) ||
                factdb_append_int64(app, 3, 19000 + k % 400, &err) || factdb_append_row_end(app, &err))
                abort();
        }
        if (factdb_appender_commit(app, &err))
            abort();
        factdb_appender_free(app);
    }
    fuzz_exec_script(db, "DELETE FROM big WHERE k % 10 = 3; CREATE TABLE gone (x integer); DROP TABLE gone");
    factdb_close(db);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !(tmpl = malloc((size_t)st.st_size)) ||
        read(fd, tmpl, (size_t)st.st_size) != st.st_size)
        abort();
    close(fd);
    tmpl_len = (size_t)st.st_size;
    fuzz_remove_db(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(db_path, sizeof db_path, "%s/damaged.factdb", fuzz_dir());
    build_template();
    /* FUZZ_DBFILE_SAVE=PATH writes the template there, to find offsets worth patching in seeds */
    const char *save = getenv("FUZZ_DBFILE_SAVE");
    if (save) {
        FILE *f = fopen(save, "wb");
        if (!f || fwrite(tmpl, 1, tmpl_len, f) != tmpl_len || fclose(f))
            abort();
    }
    return 0;
}

static void count_problem(void *ctx, const char *problem)
{
    (void)problem;
    ++*(int *)ctx;
}

static void run_sql(factdb *db, const char *sql)
{
    factdb_session *s;
    factdb_error err;
    if (factdb_session_new(db, &s, &err))
        return;
    factdb_session_set_threads(s, 1);
    factdb_session_set_memory_limit(s, (size_t)64 << 20);
    size_t at = 0, len = strlen(sql);
    while (at < len) {
        size_t used = 0;
        factdb_result *r = NULL;
        int rc = factdb_session_exec(s, sql + at, len - at, NULL, 0, &used, &r, &err);
        fuzz_check_error(&err, rc, len - at);
        if (r) {
            char buf[128];
            size_t n;
            for (uint64_t row = 0; row < factdb_result_nrows(r) && row < 1000; row++)
                for (size_t c = 0; c < factdb_result_ncols(r); c++)
                    (void)factdb_result_text(r, row, c, buf, sizeof buf, &n);
            factdb_result_free(r);
        }
        if (!used)
            break;
        at += used;
    }
    factdb_session_free(s);
}

/* Reads every column of every table through the scan API, text through its dictionary. */
static void scan_all(factdb *db)
{
    factdb_table_info *list;
    size_t n;
    factdb_error err;
    int rc = factdb_table_list(db, &list, &n, &err);
    fuzz_check_error(&err, rc, 0);
    if (rc)
        return;
    for (size_t t = 0; t < n; t++) {
        factdb_scan *scan;
        rc = factdb_scan_open(db, list[t].name, NULL, 0, &scan, &err);
        fuzz_check_error(&err, rc, 0);
        if (rc)
            continue;
        factdb_batch b;
        factdb_batch_init(&b);
        while ((rc = factdb_scan_next(scan, &b, &err)) == 0 && b.count > 0)
            for (size_t c = 0; c < b.ncols; c++)
                if (b.cols[c].type == FACTDB_TEXT)
                    for (size_t i = 0; i < b.count; i++) {
                        size_t len;
                        if (!b.cols[c].valid || b.cols[c].valid[i])
                            (void)factdb_scan_text(scan, c, ((const uint32_t *)b.cols[c].data)[i], &len);
                    }
        fuzz_check_error(&err, rc, 0);
        factdb_batch_cleanup(&b);
        factdb_scan_free(scan);
    }
    factdb_table_list_free(list, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return -1;
    bool read_only = data[0] & 1;
    unsigned char *copy = malloc(tmpl_len);
    if (!copy)
        return 0;
    memcpy(copy, tmpl, tmpl_len);
    for (size_t at = 1, k = 0; at + 5 <= size && k < MAX_PATCHES; at += 5, k++) {
        uint32_t off = (uint32_t)data[at] | (uint32_t)data[at + 1] << 8 | (uint32_t)data[at + 2] << 16 |
                       (uint32_t)data[at + 3] << 24;
        copy[off % tmpl_len] = data[at + 4];
    }
    fuzz_remove_db(db_path);
    int fd = open(db_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, copy, tmpl_len) != (ssize_t)tmpl_len || close(fd)) {
        perror("fuzz_dbfile: writing the copy");
        abort();
    }
    free(copy);

    factdb *db;
    factdb_error err;
    factdb_options o = {.busy_timeout_ms = 100, .read_only = read_only};
    int rc = factdb_open(db_path, &o, &db, &err);
    fuzz_check_error(&err, rc, 0);
    if (rc)
        return 0;
    int problems = 0;
    rc = factdb_check(db, count_problem, &problems, &err);
    fuzz_check_error(&err, rc, 0);
    factdb_db_info info;
    (void)factdb_db_info_get(db, &info, &err);
    scan_all(db);
    run_sql(db, "SHOW TABLES; DESCRIBE big; SELECT count(*), sum(k), min(name), max(day), avg(v) FROM big;"
                "SELECT name, count(*) FROM big WHERE k > 100 GROUP BY name ORDER BY 2 DESC, 1 LIMIT 5;"
                "SELECT * FROM sales ORDER BY id; SELECT region, sum(price) FROM sales GROUP BY 1;"
                "SELECT * FROM t; SELECT s, count(*) FROM g GROUP BY s; SELECT * FROM f WHERE day > '2024-01-01'");
    if (!read_only)
        run_sql(db, "INSERT INTO g VALUES ('after', 1); DELETE FROM big WHERE k < 5");
    factdb_close(db);
    return 0;
}
