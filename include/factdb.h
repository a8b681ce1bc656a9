/* factdb.h: the public C API of factdb, an embedded columnar database for fact tables whose single
 * file any number of processes may read and write at once. The CLI, the server and bindings use only
 * this header. Every function that can fail returns a factdb error code (0 = FACTDB_OK) and, when the
 * caller passes a non-NULL factdb_error, fills it with an English message a user can act on. */
#ifndef FACTDB_H
#define FACTDB_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FACTDB_VERSION "0.1.0"
/* The highest on-disk format version this factdb reads. A file records the lowest version that describes
 * what it holds (1, or 2 once it has a text column of dictionary format 2); see docs/format.md. */
#define FACTDB_FILE_FORMAT 4u

/* Error codes: stable number, stable name (used as "code" in JSON), default message. */
#define FACTDB_ERRORS(X)                                                                  \
    X(0, OK, "success")                                                                   \
    X(1, NOMEM, "out of memory")                                                          \
    X(2, IO, "input/output error")                                                        \
    X(3, NOT_A_DATABASE, "the file is not a factdb database")                             \
    X(4, CORRUPT, "the database file is corrupted")                                       \
    X(5, NEWER_FORMAT, "the database was written by a newer factdb")                    \
    X(6, BUSY, "another process holds the write lock")                                    \
    X(7, TABLE_EXISTS, "the table already exists")                                        \
    X(8, NO_TABLE, "no such table")                                                       \
    X(9, NO_COLUMN, "no such column")                                                     \
    X(10, INVALID_VALUE, "a value does not fit its column")                               \
    X(11, INVALID_UTF8, "the input is not valid UTF-8")                                   \
    X(12, BAD_CSV, "the CSV input is malformed")                                          \
    X(13, LIMIT, "a size limit was exceeded")                                             \
    X(14, INVALID_ARGUMENT, "invalid argument")                                           \
    X(15, READERS_FULL, "too many concurrent readers")                                    \
    X(16, FULL, "the database file reached its maximum size")                             \
    X(17, ENCODING, "the input cannot be converted from the given encoding")              \
    X(18, NOT_NULL, "a NOT NULL column received NULL")                                    \
    X(19, PERMISSION, "permission denied")                                                \
    X(20, INTERNAL, "internal error (a bug in factdb)")                                   \
    X(21, UNIQUE_VIOLATION, "a row duplicates the key of a PRIMARY KEY or UNIQUE constraint")

enum {
#define FACTDB_X_ENUM(num, name, msg) FACTDB_##name = num,
    FACTDB_ERRORS(FACTDB_X_ENUM)
#undef FACTDB_X_ENUM
};

/* Filled by failing calls. line/column/offset/position are 0 (offset -1) when they do not apply. */
typedef struct factdb_error {
    int code;            /* one of the FACTDB_ error codes */
    char message[1024];  /* English, valid UTF-8, independent of the locale */
    int64_t line;        /* 1-based input line, 0 if none */
    int64_t column;      /* 1-based column (field) number, 0 if none */
    int64_t offset;      /* 0-based byte offset in the input, -1 if none */
    int64_t position;    /* 1-based position in SQL text, 0 if none */
} factdb_error;

/* The stable name of an error code ("NO_TABLE"), or "UNKNOWN". Never NULL; static storage. */
const char *factdb_error_name(int code);

/* Column types. Values in vectors use these C representations:
 * BOOLEAN uint8_t (0/1); INTEGER int32_t; BIGINT int64_t; DOUBLE double; DECIMAL int64_t scaled by
 * 10^scale; TEXT uint32_t dictionary code (see factdb_scan_text); DATE int32_t days since 1970-01-01;
 * TIMESTAMP int64_t microseconds since 1970-01-01 00:00:00 (no time zone); TIMESTAMPTZ int64_t microseconds
 * since 1970-01-01 00:00:00 UTC (PostgreSQL's timestamp with time zone; factdb's time zone is UTC). */
typedef enum factdb_type {
    FACTDB_BOOLEAN = 1,
    FACTDB_INTEGER = 2,
    FACTDB_BIGINT = 3,
    FACTDB_DOUBLE = 4,
    FACTDB_DECIMAL = 5,
    FACTDB_TEXT = 6,
    FACTDB_DATE = 7,
    FACTDB_TIMESTAMP = 8,
    FACTDB_TIMESTAMPTZ = 9
} factdb_type;

/* Limits. */
#define FACTDB_NAME_MAX 63          /* bytes in a table or column name */
#define FACTDB_MAX_COLUMNS 1000     /* columns per table */
#define FACTDB_TEXT_MAX (1u << 20)  /* bytes in one TEXT value */
#define FACTDB_CHUNK_ROWS 65536     /* rows per full chunk (row group) */

typedef struct factdb_column_def {
    const char *name;  /* 1..63 bytes of UTF-8; compared case-sensitively */
    factdb_type type;
    int precision;     /* DECIMAL only: 1..18 */
    int scale;         /* DECIMAL only: 0..precision */
    bool not_null;
} factdb_column_def;

typedef struct factdb_column_info {
    char name[FACTDB_NAME_MAX + 1];
    factdb_type type;
    int precision, scale;
    bool not_null;
} factdb_column_info;

/* A PRIMARY KEY or UNIQUE constraint of a table (docs/sql.md, "PRIMARY KEY, UNIQUE and ON CONFLICT"): no
 * two live rows share the values of its columns; a row with a NULL in them never conflicts. */
#define FACTDB_MAX_KEYS 8          /* PRIMARY KEY and UNIQUE constraints per table */
#define FACTDB_KEY_MAX_COLUMNS 16  /* columns per constraint */
typedef struct factdb_key_info {
    char name[FACTDB_NAME_MAX + 1];          /* the constraint's name ("t_pkey", "t_a_b_key" by default) */
    bool primary;                            /* PRIMARY KEY (its columns are NOT NULL), else UNIQUE */
    size_t ncols;                            /* 1..FACTDB_KEY_MAX_COLUMNS */
    uint16_t cols[FACTDB_KEY_MAX_COLUMNS];   /* the key's columns in key order, as indexes into the table's */
} factdb_key_info;

typedef struct factdb_table_info {
    char name[FACTDB_NAME_MAX + 1];
    uint32_t id;
    size_t ncols;
    factdb_column_info *cols;  /* ncols entries, owned by the info */
    uint64_t row_count;        /* live rows */
    uint64_t chunk_count;
    uint64_t bytes;            /* encoded column bytes in LMDB values */
    size_t nkeys;              /* PRIMARY KEY and UNIQUE constraints, in declaration order (0..FACTDB_MAX_KEYS) */
    factdb_key_info keys[FACTDB_MAX_KEYS];
} factdb_table_info;

typedef struct factdb factdb;
typedef struct factdb_appender factdb_appender;
typedef struct factdb_scan factdb_scan;

/* factdb_options.flags. With neither flag (and with opts == NULL) factdb_open creates a missing file, as
 * it always did; tools that only read, or that must not create a file from a mistyped path, pass
 * FACTDB_OPEN_EXISTING. */
#define FACTDB_OPEN_EXISTING 1u   /* never create: a missing (or empty) file is an error, nothing is created */
#define FACTDB_OPEN_READ_ONLY 2u  /* refuse writes (PERMISSION); implies FACTDB_OPEN_EXISTING */

typedef struct factdb_options {
    int busy_timeout_ms;  /* how long a writer waits for the write lock; <0 means the default 10000 */
    bool read_only;       /* the same as flags |= FACTDB_OPEN_READ_ONLY */
    unsigned flags;       /* FACTDB_OPEN_* */
} factdb_options;

/* Opens the database file `path` (plus `path-lock`), creating it when it does not exist unless
 * FACTDB_OPEN_EXISTING or FACTDB_OPEN_READ_ONLY is given. `opts` may be NULL. On success *out owns a
 * handle to close with factdb_close; one handle may be shared by any number of threads. Any number of
 * processes may open the same file.
 * A file this process may not write (permissions, a read-only file system), or whose lock file
 * `path-lock` is absent and cannot be created, is opened read-only even without FACTDB_OPEN_READ_ONLY:
 * reads work, writes fail with PERMISSION saying why (factdb_read_only_reason). Without a lock file, reads
 * are correct only while no other process writes the file (see docs/design.md). A lock file that exists
 * but that this process may not write is refused (PERMISSION): writers may be using it.
 * Errors: IO (including a missing file with FACTDB_OPEN_EXISTING), PERMISSION, NOT_A_DATABASE, CORRUPT
 * (e.g. truncated), NEWER_FORMAT, READERS_FULL, BUSY (creating a new file while another process holds
 * the write lock), NOMEM. */
int factdb_open(const char *path, const factdb_options *opts, factdb **out, factdb_error *err);

/* NULL when the handle may write; else why it may not ("opened read-only", "no write permission on
 * the file ..."). Static or handle-owned storage, valid until factdb_close. */
const char *factdb_read_only_reason(factdb *db);

/* Closes the handle. Scans and appenders of the handle must be freed first. NULL is ignored. */
void factdb_close(factdb *db);

/* The database's data_version: the id of the last commit by any process. Grows with every commit. */
uint64_t factdb_data_version(factdb *db);

/* Creates table `name` with `ncols` columns. Durable on return.
 * Errors: INVALID_ARGUMENT (bad name, type, precision, duplicate column), TABLE_EXISTS, BUSY, IO,
 * FULL, NOMEM. */
int factdb_create_table(factdb *db, const char *name, const factdb_column_def *cols, size_t ncols,
                        factdb_error *err);

/* Drops table `name` and all its rows. Errors: NO_TABLE, BUSY, IO, NOMEM. */
int factdb_drop_table(factdb *db, const char *name, factdb_error *err);

/* Removes every row of `name`, keeping its definition. Errors: NO_TABLE, BUSY, IO, NOMEM. */
int factdb_truncate_table(factdb *db, const char *name, factdb_error *err);

/* Adds column `def` at the end of `table`; rows already stored read NULL in it. NOT NULL is refused when
 * the table has rows. Errors: NO_TABLE, INVALID_ARGUMENT (duplicate name, bad type), NOT_NULL, BUSY, IO. */
int factdb_add_column(factdb *db, const char *table, const factdb_column_def *def, factdb_error *err);

/* Fills *out with the table's schema and statistics in one snapshot. The caller frees it with
 * factdb_table_info_free. Errors: NO_TABLE, NOMEM, IO. */
int factdb_table_info_get(factdb *db, const char *name, factdb_table_info *out, factdb_error *err);
void factdb_table_info_free(factdb_table_info *info);

/* Lists all tables (sorted by name) in one snapshot; *out is an array of *n infos that the caller
 * frees with factdb_table_list_free. Errors: NOMEM, IO. */
int factdb_table_list(factdb *db, factdb_table_info **out, size_t *n, factdb_error *err);
void factdb_table_list_free(factdb_table_info *list, size_t n);

/* ---- Appending rows: everything appended between two commits becomes visible atomically. ----
 * An appender buffers rows in memory (encoding full chunks as it goes); factdb_appender_commit writes
 * them in bounded LMDB transactions while holding the write lock, then publishes them in one final
 * durable transaction. Not thread-safe: use one appender per thread. */

/* Errors: NO_TABLE, NOMEM. *out is freed with factdb_appender_free. */
int factdb_appender_new(factdb *db, const char *table, factdb_appender **out, factdb_error *err);
/* Like factdb_appender_new, for a table `table` that does not exist yet, with columns cols[0..ncols): the
 * table is created by the appender's first commit, atomically with its rows. If that commit fails, or the
 * process dies during it, no table is left behind (a big load writes the table unnamed, invisible to
 * everyone, and names it in its final transaction; a killed load's table is reclaimed with its chunks).
 * Errors: TABLE_EXISTS (now; or at commit, if another process created it meanwhile), INVALID_ARGUMENT
 * (bad definition, as factdb_create_table), PERMISSION (read-only), NOMEM. */
int factdb_appender_create(factdb *db, const char *table, const factdb_column_def *cols, size_t ncols,
                           factdb_appender **out, factdb_error *err);
/* For an appender made by factdb_appender_create, before its first commit: the table will have a PRIMARY
 * KEY (`primary`) or UNIQUE constraint over columns cols[0..ncols) (indexes into the appender's columns), named
 * `name` (NULL: PostgreSQL's default name, t_pkey or t_a_b_key), enforced on the rows appended from then on as
 * on any keyed table (a duplicate fails the commit with UNIQUE_VIOLATION, nothing stored). A PRIMARY KEY makes
 * its columns NOT NULL. Errors: INVALID_ARGUMENT (not a creating appender, rows already appended, a second
 * PRIMARY KEY, more than FACTDB_MAX_KEYS constraints or FACTDB_KEY_MAX_COLUMNS columns, a column out of range
 * or twice, a name taken by another constraint of the table). */
int factdb_appender_add_key(factdb_appender *app, const char *name, bool primary, const uint16_t *cols,
                            size_t ncols, factdb_error *err);
/* Discards uncommitted rows (releasing the write lock if a load was in progress). NULL is ignored. */
void factdb_appender_free(factdb_appender *app);
/* Number of columns of the appender's table and their infos (owned by the appender). */
size_t factdb_appender_ncols(factdb_appender *app);
const factdb_column_info *factdb_appender_column(factdb_appender *app, size_t col);

/* Set column `col` (0-based) of the current row. Setting a column twice keeps the last value; columns
 * not set are NULL. Errors: INVALID_ARGUMENT (col out of range, wrong C type for the column),
 * INVALID_VALUE (out of range for INTEGER/DECIMAL, text too long), INVALID_UTF8, NOMEM. */
int factdb_append_null(factdb_appender *app, size_t col, factdb_error *err);
int factdb_append_bool(factdb_appender *app, size_t col, bool v, factdb_error *err);
/* For INTEGER, BIGINT, DECIMAL (v is already scaled), DATE (days), TIMESTAMP and TIMESTAMPTZ (microseconds). */
int factdb_append_int64(factdb_appender *app, size_t col, int64_t v, factdb_error *err);
int factdb_append_double(factdb_appender *app, size_t col, double v, factdb_error *err);
/* TEXT only; copies `len` bytes of `s`. */
int factdb_append_text(factdb_appender *app, size_t col, const char *s, size_t len, factdb_error *err);
/* Any type: parses the text form ("42", "3.14", "2024-01-31", "2024-01-31 12:00:00", "2024-01-31T12:00:00Z",
 * "true"); a timestamp may carry an offset (ignored for TIMESTAMP, applied for TIMESTAMPTZ).
 * Errors: INVALID_VALUE naming the column and the reason. */
int factdb_append_parse(factdb_appender *app, size_t col, const char *s, size_t len, factdb_error *err);
/* Any type but TEXT: a value as factdb_parse_value gave it for the column's type, precision and scale (so a
 * loader may parse on another thread). Errors: INVALID_ARGUMENT (col out of range, a TEXT column). */
int factdb_append_value(factdb_appender *app, size_t col, int64_t v, factdb_error *err);
/* Ends the current row. Errors: NOT_NULL (names the column), NOMEM, and, once a full chunk has been
 * encoded and must be written, BUSY/IO/FULL. */
int factdb_append_row_end(factdb_appender *app, factdb_error *err);
/* Rows appended since the last commit. */
uint64_t factdb_appender_pending(factdb_appender *app);
/* Makes all rows appended since the last commit visible and durable, atomically. On failure none of
 * them is stored and the appender is empty again. Errors: BUSY, IO, FULL, NO_TABLE (dropped meanwhile),
 * NOMEM. */
int factdb_appender_commit(factdb_appender *app, factdb_error *err);
/* Discards the rows appended since the last commit. */
void factdb_appender_rollback(factdb_appender *app);

/* ---- Snapshot scans ----
 * A scan reads one consistent snapshot of a table: it sees exactly the commits that precede
 * factdb_scan_open. While it is open it pins that snapshot (keep scans short-lived). Batches are
 * claimed with factdb_scan_next, which is thread-safe: several threads may call it on one scan, each
 * with its own factdb_batch, and each batch (one chunk) goes to exactly one thread. */

typedef struct factdb_vector {
    factdb_type type;
    int scale;             /* DECIMAL scale */
    const void *data;      /* count values in the type's C representation (see factdb_type) */
    const uint8_t *valid;  /* count bytes, 1 = value, 0 = NULL; NULL pointer when no NULLs */
} factdb_vector;

typedef struct factdb_batch {
    size_t count;            /* rows in this batch; 0 at the end of the scan */
    size_t ncols;
    factdb_vector *cols;     /* ncols vectors, valid until the next factdb_scan_next on this batch */
    void *internal;          /* decoding buffers, owned by the batch */
} factdb_batch;

/* Opens a scan of `columns` (ncols names; NULL/0 = all columns in table order) of `table`.
 * Errors: NO_TABLE, NO_COLUMN, READERS_FULL, NOMEM, IO. */
int factdb_scan_open(factdb *db, const char *table, const char *const *columns, size_t ncols,
                     factdb_scan **out, factdb_error *err);
/* Fills `batch` (initialise it with factdb_batch_init) with the next unclaimed chunk's live rows.
 * Returns 0 with batch->count == 0 when no chunk is left. Errors: CORRUPT (checksum mismatch), NOMEM. */
int factdb_scan_next(factdb_scan *scan, factdb_batch *batch, factdb_error *err);
void factdb_batch_init(factdb_batch *batch);
void factdb_batch_cleanup(factdb_batch *batch);
/* Rows in the snapshot, and the snapshot's data_version. */
uint64_t factdb_scan_row_count(factdb_scan *scan);
uint64_t factdb_scan_data_version(factdb_scan *scan);
/* The UTF-8 string of TEXT code `code` of column `col` (index in the scan's columns); *len receives its
 * length. Valid until the scan is freed. NULL for an unknown code. Thread-safe. */
const char *factdb_scan_text(factdb_scan *scan, size_t col, uint32_t code, size_t *len);
void factdb_scan_free(factdb_scan *scan);

/* ---- Maintenance ---- */

/* Verifies every chunk, dictionary and zone map. Returns FACTDB_OK when sound, else CORRUPT with the
 * first problem in err and every problem (one per line) passed to `report` if non-NULL. */
int factdb_check(factdb *db, void (*report)(void *ctx, const char *problem), void *ctx,
                 factdb_error *err);

typedef struct factdb_reader_info {
    int pid;
    uint64_t txn_id;  /* snapshot it pins; 0 if idle */
} factdb_reader_info;

typedef struct factdb_db_info {
    uint64_t file_bytes;
    uint64_t data_version;
    uint64_t used_pages, page_size;
    int max_readers;
    size_t nreaders;
    factdb_reader_info readers[64];  /* the first 64 live reader slots */
} factdb_db_info;

/* Fills *out with the file's statistics, after clearing slots of dead reader processes. */
int factdb_db_info_get(factdb *db, factdb_db_info *out, factdb_error *err);

/* For a SIGSEGV/SIGBUS handler: true when `addr` lies inside the memory map of a database this process has
 * open (a damaged or truncated file made a read fault there). Then *offset (if non-NULL) receives the byte
 * offset of addr in the file and *file_bytes (if non-NULL) the file's current size, or -1 if unknown.
 * Async-signal-safe: reads a fixed table of atomics and calls only fstat. */
bool factdb_addr_in_map(const void *addr, uint64_t *offset, int64_t *file_bytes);

/* Parses the text form of a value of `type` (scale for DECIMAL) into *out (int64 for integer-like types,
 * double bits for DOUBLE via memcpy). Used by loaders. Errors: INVALID_VALUE with a reason. */
int factdb_parse_value(factdb_type type, int precision, int scale, const char *s, size_t len,
                       int64_t *out, factdb_error *err);
/* Writes the text form of a value into buf (at least 64 bytes); returns its length. */
size_t factdb_format_value(factdb_type type, int scale, int64_t v, char *buf, size_t cap);
/* The type's name as PostgreSQL spells it ("bigint", "numeric(12,2)"). */
const char *factdb_type_name(factdb_type type, int precision, int scale, char *buf, size_t cap);

/* ---- Write transactions spanning several calls ----
 * factdb_txn_begin waits for the write lock (the busy timeout) and starts one write transaction owned by
 * the calling thread. Until factdb_txn_commit or factdb_txn_rollback, every write of that thread on db
 * (appender commits, create/drop/truncate, SQL) goes into it and its reads see it; other threads and
 * processes see all of it at commit (durable on return) or nothing. The same thread must end it. */
typedef struct factdb_txn factdb_txn;
int factdb_txn_begin(factdb *db, factdb_txn **out, factdb_error *err);
int factdb_txn_commit(factdb_txn *t, factdb_error *err);
void factdb_txn_rollback(factdb_txn *t);

/* ---- SQL ----
 * A session runs SQL statements (PostgreSQL's dialect; see docs/sql.md) one at a time. Each statement
 * reads one snapshot; each writing statement is atomic and durable on return. A session is used by one
 * thread at a time; factdb_session_cancel may be called from any thread or a signal handler. */
typedef struct factdb_session factdb_session;
typedef struct factdb_result factdb_result;

typedef enum factdb_param_kind {
    FACTDB_PARAM_NULL = 0,
    FACTDB_PARAM_BOOL,
    FACTDB_PARAM_INT,     /* i */
    FACTDB_PARAM_DOUBLE,  /* d */
    FACTDB_PARAM_TEXT,    /* s, len: typed by its context, like a quoted literal ('2024-01-31' can be a date) */
    FACTDB_PARAM_DECIMAL, /* i scaled by 10^scale (scale 0..18): a numeric, exact (Python's Decimal) */
    FACTDB_PARAM_DATE,    /* i: days since 1970-01-01 */
    FACTDB_PARAM_TIMESTAMP,  /* i: microseconds since 1970-01-01 00:00:00, no time zone */
    FACTDB_PARAM_TIMESTAMPTZ /* i: microseconds since 1970-01-01 00:00:00 UTC */
} factdb_param_kind;

/* A parameter value for $1..$n: bound as a value, never spliced into the SQL text. */
typedef struct factdb_param {
    factdb_param_kind kind;
    bool b;
    int64_t i;
    double d;
    const char *s;
    size_t len;
    int scale;  /* FACTDB_PARAM_DECIMAL */
} factdb_param;

/* Errors: NOMEM. *out is freed with factdb_session_free. */
int factdb_session_new(factdb *db, factdb_session **out, factdb_error *err);
void factdb_session_free(factdb_session *s);
/* Worker threads per query (default: the number of cores). */
void factdb_session_set_threads(factdb_session *s, int threads);
/* Memory a query may use for groups, sorting and results (default 4 GiB); beyond it the query fails
 * with LIMIT. */
void factdb_session_set_memory_limit(factdb_session *s, size_t bytes);
/* Whether COPY ... FROM/TO 'file' may read and write files of the machine (as the process's user); default
 * true. A server that runs SQL for clients turns it off: such a COPY then fails with PERMISSION and changes
 * nothing (in a BEGIN block the block fails, as any error does). */
void factdb_session_set_file_access(factdb_session *s, bool allow);
/* Makes the running statement fail at once with "canceling statement due to user request". */
void factdb_session_cancel(factdb_session *s);
/* BEGIN ... COMMIT: true between BEGIN and COMMIT/ROLLBACK. The block's first write takes the write
 * lock (waiting up to the busy timeout) and holds it, with one write transaction, until the block ends;
 * statements in the block see its own writes; other processes see all of it at COMMIT or none of it.
 * After a failed statement the block only accepts ROLLBACK (COMMIT then rolls back), as in PostgreSQL.
 * The session must be used by one thread for the whole block. */
bool factdb_session_in_transaction(const factdb_session *s);
/* True once the block has written (and so holds the write lock). */
bool factdb_session_holds_write_lock(const factdb_session *s);
/* Ends the block, discarding its writes (also done by factdb_session_free). */
void factdb_session_rollback(factdb_session *s);
/* Writes made outside SQL within a BEGIN block (a binding's appender): factdb_session_attach binds the
 * block's write transaction to the calling thread, first taking the write lock for the block (waiting up
 * to the busy timeout) if it has not written yet, so that the appenders of that thread on the session's
 * database write into the block and factdb_appender_commit publishes into it (COMMIT makes it durable,
 * ROLLBACK discards it). factdb_session_detach unbinds it; `failed` marks the block failed, as a failed
 * statement does (only ROLLBACK is then accepted). Outside a block both do nothing.
 * Errors: BUSY, IO, INVALID_ARGUMENT (the block already failed). */
int factdb_session_attach(factdb_session *s, factdb_error *err);
void factdb_session_detach(factdb_session *s, bool failed);

/* Runs the first statement of sql[0..len) with parameters params[0..nparams). *consumed receives the bytes
 * used (through the statement's ';'), so a caller runs a script by calling again on the rest. *out receives
 * the result (NULL when the text held only white space, comments or ';'), freed with factdb_result_free.
 * Errors: INVALID_ARGUMENT (syntax, unknown names, types; err->position is the 1-based byte offset in
 * `sql`), INVALID_VALUE (bad values, overflow, division by zero), NO_TABLE, TABLE_EXISTS, NOT_NULL, BUSY,
 * LIMIT, IO, FULL, NOMEM, PERMISSION (COPY with a file when factdb_session_set_file_access turned it off). A failed statement changes nothing. */
int factdb_session_exec(factdb_session *s, const char *sql, size_t len, const factdb_param *params, size_t nparams,
                        size_t *consumed, factdb_result **out, factdb_error *err);

/* Whether the statements of sql[0..len) would write (INSERT, DELETE, DDL, COPY FROM, and COPY TO, which
 * writes a file); for access control before running them. Errors: INVALID_ARGUMENT (syntax, with position). */
int factdb_sql_writes(const char *sql, size_t len, bool *writes, factdb_error *err);

/* Result columns (0 for statements that return no rows, such as INSERT), names and PostgreSQL type names. */
size_t factdb_result_ncols(const factdb_result *r);
const char *factdb_result_column_name(const factdb_result *r, size_t col);
const char *factdb_result_column_type(const factdb_result *r, size_t col);
uint64_t factdb_result_nrows(const factdb_result *r);
bool factdb_result_is_null(const factdb_result *r, uint64_t row, size_t col);
/* The value's text form (PostgreSQL's output format); *len receives its length. The pointer is valid
 * until the next call on the result (it may point into buf[cap >= 128]). NULL for SQL NULL. */
const char *factdb_result_text(const factdb_result *r, uint64_t row, size_t col, char *buf, size_t cap,
                               size_t *len);
/* Typed access, for bindings that build native values without parsing text.
 * factdb_result_column_ctype: the C representation of column `col`'s values, as for vectors (see
 * factdb_type): BOOLEAN, INTEGER and BIGINT, DOUBLE, DECIMAL (int64 scaled by 10^*scale), TEXT, DATE,
 * TIMESTAMP, TIMESTAMPTZ; or 0 when the values have none (interval; a numeric whose scale differs from
 * value to value, as division gives): read those with factdb_result_text. `scale` may be NULL. */
factdb_type factdb_result_column_ctype(const factdb_result *r, size_t col, int *scale);
/* Copies rows [first, first + n) of column `col` into out[0..n): int64 for every ctype but DOUBLE and
 * TEXT (BOOLEAN 0/1, DATE days, TIMESTAMP/TIMESTAMPTZ microseconds, DECIMAL scaled); double for DOUBLE.
 * valid[i] (valid may be NULL) receives 0 for NULL, whose out[i] is 0. Errors: INVALID_ARGUMENT (a column
 * of another ctype, rows out of range). */
int factdb_result_read_int64(const factdb_result *r, size_t col, uint64_t first, size_t n, int64_t *out,
                             uint8_t *valid);
int factdb_result_read_double(const factdb_result *r, size_t col, uint64_t first, size_t n, double *out,
                              uint8_t *valid);
/* How the column is written in JSON: 0 string, 1 number, 2 boolean. */
int factdb_result_json_kind(const factdb_result *r, size_t col);
/* The command tag ("SELECT 3", "INSERT 0 5", "CREATE TABLE", "DELETE 2"). */
const char *factdb_result_tag(const factdb_result *r);
/* True for statements that return rows (SELECT, SHOW, DESCRIBE, EXPLAIN, and INSERT / UPDATE / DELETE with
 * RETURNING, whose tag is then the write's: "INSERT 0 2"). */
bool factdb_result_has_rows(const factdb_result *r);
/* data_version after the statement (for writes, the version of its commit). */
uint64_t factdb_result_data_version(const factdb_result *r);
void factdb_result_free(factdb_result *r);

/* Renders a result as text, piece by piece, so a large result is never one string in memory.
 * JSON: {"columns":[{"name":"x","type":"bigint"}],"rows":[[1],[2]],"row_count":2<extra>} with numbers
 * exact (numeric keeps its scale), NaN/Infinity as strings; NDJSON: one object per row; CSV: RFC 4180 with
 * a header row, NULL as an empty field. `extra` (may be NULL) is inserted into the JSON document before its
 * closing brace, e.g. ",\"elapsed_ms\":1.5". The result must outlive the writer. */
typedef enum factdb_format { FACTDB_FORMAT_JSON = 1, FACTDB_FORMAT_NDJSON, FACTDB_FORMAT_CSV } factdb_format;
typedef struct factdb_writer factdb_writer;
int factdb_writer_new(const factdb_result *r, factdb_format fmt, const char *extra, factdb_writer **out,
                      factdb_error *err);
/* Copies the next bytes of the output (at most cap) into buf; returns how many, 0 at the end. */
size_t factdb_writer_read(factdb_writer *w, char *buf, size_t cap);
void factdb_writer_free(factdb_writer *w);
/* Appends `s` as a JSON string literal (quotes and escapes) to buf (cap bytes, NUL-terminated); returns
 * the length it needs (call again with a larger buffer when >= cap). */
size_t factdb_json_quote(const char *s, size_t len, char *buf, size_t cap);
/* Writes `s` as one CSV field (RFC 4180) into buf (cap bytes, not NUL-terminated): as is, or in double
 * quotes with quotes doubled when it holds a comma, quote or line break, or when it is an empty text
 * (`is_text`: "" tells it from NULL, which is an empty field). Returns its length; cap >= 2 * len + 2 is
 * always enough (shorter output is cut). */
size_t factdb_csv_quote(const char *s, size_t len, bool is_text, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
