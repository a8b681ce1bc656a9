/* fuzz_csv.c: libFuzzer target for the CSV loader (src/ingest: iconv conversion, the RFC 4180 reader, type
 * inference for --create, value parsing, the appender). The first input byte chooses the options, the rest
 * is the file:
 *   bits 0-1  encoding: 0 utf-8, 1 latin-1, 2 cp1252, 3 utf-8
 *   bit  2    no header row
 *   bits 3-4  delimiter: ',' ';' '\t' '|'
 *   bit  5    create the table from the file (--create), else load into the existing table t (every type)
 *   bit  6    European forms: --decimal-comma, --date-format %d/%m/%Y, --timestamp-format %d.%m.%y %H:%M:%S.%f
 *   bit  7    detect the delimiter (bits 3-4 ignored)
 * Invariant: each load runs inside a factdb_txn that is rolled back, so every input meets the same database;
 * if anything committed anyway the database is recreated. */
#include "fuzz_common.h"
#include "ingest/ingest.h"
#include <fcntl.h>

static char db_path[512], csv_path[512];
static factdb *db;
static uint64_t db_version;

static void db_create(void)
{
    if (db)
        factdb_close(db);
    db = fuzz_open_fresh(db_path, "CREATE TABLE t (a integer NOT NULL, b text, c numeric(6,2), d double precision, "
                         "e bigint, f boolean, g date, h timestamp)", "fuzz_csv");
    db_version = factdb_data_version(db);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(db_path, sizeof db_path, "%s/csv.factdb", fuzz_dir());
    snprintf(csv_path, sizeof csv_path, "%s/input.csv", fuzz_dir());
    db_create();
    return 0;
}

static int write_file(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t at = 0;
    while (at < size) {
        ssize_t n = write(fd, data + at, size - at);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        at += (size_t)n;
    }
    return close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return -1;
    static const char *const encodings[] = {"utf-8", "latin-1", "cp1252", "utf-8"};
    static const char delims[] = {',', ';', '\t', '|'};
    uint8_t opt = data[0];
    ingest_load_opts o = {
        .create = (opt >> 5) & 1,
        .header = !((opt >> 2) & 1),
        .delim = delims[(opt >> 3) & 3],
        .encoding = encodings[opt & 3],
        .decimal_comma = (opt >> 6) & 1,
        .date_format = (opt >> 6) & 1 ? "%d/%m/%Y" : NULL,
        .timestamp_format = (opt >> 6) & 1 ? "%d.%m.%y %H:%M:%S.%f" : NULL,
    };
    if ((opt >> 7) & 1)
        o.delim = 0;
    if (write_file(csv_path, data + 1, size - 1)) {
        perror("fuzz_csv: writing the input");
        abort();
    }
    factdb_error err;
    factdb_txn *txn;
    if (factdb_txn_begin(db, &txn, &err)) {
        fprintf(stderr, "fuzz_csv: %s\n", err.message);
        abort();
    }
    uint64_t rows = 0;
    int rc = ingest_load_csv(db, o.create ? "loaded" : "t", csv_path, &o, &rows, &err);
    fuzz_check_error(&err, rc, size);
    if (rc == 0) {
        /* read back what the load stored (inside the transaction) */
        factdb_session *s;
        if (factdb_session_new(db, &s, NULL) == 0) {
            factdb_session_set_threads(s, 1);
            static const char q[] = "SELECT * FROM loaded ORDER BY 1 LIMIT 100";
            const char *sql = o.create ? q : "SELECT count(*), min(b), max(h) FROM t";
            size_t used;
            factdb_result *r = NULL;
            if (factdb_session_exec(s, sql, strlen(sql), NULL, 0, &used, &r, &err) == 0)
                factdb_result_free(r);
            factdb_session_free(s);
        }
    }
    factdb_txn_rollback(txn);
    if (factdb_data_version(db) != db_version)
        db_create();
    return 0;
}
