/* fuzz_sql.c: libFuzzer target for the SQL front end and executor: the input is SQL text (one or more
 * statements) run through factdb_sql_writes and factdb_session_exec on a small database, every result
 * rendered cell by cell and through the JSON and CSV writers.
 * Invariants: the SQL buffer is exactly the input (not NUL-terminated, so ASan sees any over-read); each
 * input starts from the same database: it runs inside BEGIN ... ROLLBACK, and when a statement committed
 * anyway (COMMIT in the input, or a DDL outside the block) the database is recreated before the next input.
 * COPY runs with server-file access refused (factdb_session_set_file_access), as in `factdb serve`: its
 * parsing and the refusal are fuzzed, and no input can read or write a file. */
#include "fuzz_common.h"

#define MAX_STATEMENTS 32
#define MAX_ROWS_RENDERED 2000

static char db_path[512];
static factdb *db;
static uint64_t db_version;

static void db_create(void)
{
    if (db)
        factdb_close(db);
    db = fuzz_open_fresh(db_path, FUZZ_SCHEMA, "fuzz_sql");
    db_version = factdb_data_version(db);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(db_path, sizeof db_path, "%s/sql.factdb", fuzz_dir());
    db_create();
    return 0;
}

static void render(const factdb_result *r)
{
    size_t nc = factdb_result_ncols(r);
    uint64_t nr = factdb_result_nrows(r);
    char buf[256];
    for (size_t c = 0; c < nc; c++) {
        (void)factdb_result_column_name(r, c);
        (void)factdb_result_column_type(r, c);
        (void)factdb_result_json_kind(r, c);
    }
    for (uint64_t row = 0; row < nr && row < MAX_ROWS_RENDERED; row++)
        for (size_t c = 0; c < nc; c++) {
            size_t len;
            const char *t = factdb_result_text(r, row, c, buf, sizeof buf, &len);
            if (t && len && (t[0] == 0x7f))  /* touch the bytes so ASan checks the range */
                buf[0] = t[len - 1];
        }
    (void)factdb_result_tag(r);
    if (nr > MAX_ROWS_RENDERED)
        return;
    static const factdb_format fmts[] = {FACTDB_FORMAT_JSON, FACTDB_FORMAT_CSV, FACTDB_FORMAT_NDJSON};
    for (size_t i = 0; i < ARRAY_LEN(fmts); i++) {
        factdb_writer *w;
        factdb_error err;
        if (factdb_writer_new(r, fmts[i], ",\"x\":1", &w, &err))
            continue;
        while (factdb_writer_read(w, buf, sizeof buf) > 0) {
        }
        factdb_writer_free(w);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sql = fuzz_copy(data, size);
    if (!sql)
        return 0;

    factdb_error err;
    bool writes;
    int rc = factdb_sql_writes(sql, size, &writes, &err);
    fuzz_check_error(&err, rc, size);

    static const factdb_param params[] = {
        {.kind = FACTDB_PARAM_INT, .i = 42},
        {.kind = FACTDB_PARAM_TEXT, .s = "2024-01-31", .len = 10},
        {.kind = FACTDB_PARAM_DOUBLE, .d = 2.5},
        {.kind = FACTDB_PARAM_NULL},
        {.kind = FACTDB_PARAM_BOOL, .b = true},
        {.kind = FACTDB_PARAM_TEXT, .s = "North", .len = 5},
    };
    factdb_session *s;
    if (factdb_session_new(db, &s, &err)) {
        free(sql);
        return 0;
    }
    factdb_session_set_threads(s, 1);
    factdb_session_set_memory_limit(s, (size_t)64 << 20);
    factdb_session_set_file_access(s, false);
    size_t used;
    factdb_result *r = NULL;
    if (factdb_session_exec(s, "BEGIN", 5, NULL, 0, &used, &r, &err) == 0)
        factdb_result_free(r);

    size_t at = 0;
    for (int n = 0; n < MAX_STATEMENTS && at < size; n++) {
        r = NULL;
        used = 0;
        rc = factdb_session_exec(s, sql + at, size - at, params, ARRAY_LEN(params), &used, &r, &err);
        fuzz_check_error(&err, rc, size - at);
        if (rc == 0 && r) {
            render(r);
            factdb_result_free(r);
        }
        if (used > size - at) {
            fprintf(stderr, "fuzz invariant: consumed %zu of %zu bytes\n", used, size - at);
            abort();
        }
        if (used == 0)
            break;
        at += used;
    }
    factdb_session_free(s);  /* rolls the block back */
    free(sql);
    if (factdb_data_version(db) != db_version)
        db_create();
    return 0;
}
