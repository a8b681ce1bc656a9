/* store.h: the storage layer, the only code that includes lmdb.h. It owns the process-wide LMDB
 * environment per file, the write gate (a bounded-wait writer lock across threads and processes), the
 * catalog, chunk I/O, dictionaries and reclaiming what killed loaders left behind. Layers above see
 * tables, chunks and snapshots, never LMDB itself. */
#ifndef FACTDB_STORE_H
#define FACTDB_STORE_H

#include "base/base.h"
#include "enc/enc.h"

typedef struct store_env store_env;
typedef struct store_txn store_txn;  /* wraps an LMDB transaction */
typedef struct store_dict store_dict;
typedef struct store_dict_index store_dict_index;

/* Column as stored in the catalog. */
typedef struct store_col {
    char name[FACTDB_NAME_MAX + 1];
    uint8_t type, precision, scale, flags;  /* flags: STORE_COL_NOT_NULL */
    uint32_t dict_count;                    /* TEXT: published dictionary entries (ids 0..count-1) */
} store_col;
#define STORE_COL_NOT_NULL 1u
/* TEXT, dictionary format 2: each dict_str entry carries the string's hash; no dict_hash entries. Set for
 * every TEXT column created since; a table with such a column has table record version 2. */
#define STORE_COL_DICT_INLINE_HASH 2u
/* TEXT, dictionary format 3: dict_str holds blocks of consecutive strings (compressed when that pays), each
 * with a checksum; no dict_hash entries. Set for every TEXT column created since; table record version 3. */
#define STORE_COL_DICT_BLOCKS 4u
/* The dictionary format (1, 2 or 3) of a TEXT column with these flags. */
static inline int store_dict_form(unsigned flags)
{
    return flags & STORE_COL_DICT_BLOCKS ? 3 : flags & STORE_COL_DICT_INLINE_HASH ? 2 : 1;
}

/* A PRIMARY KEY or UNIQUE constraint: no two live rows share the values of `cols` (rows with a NULL in
 * them never conflict). Enforced through the `unique` database (unique.c). */
#define STORE_UNIQUE_MAX FACTDB_MAX_KEYS          /* constraints per table (8: the table record's format) */
#define STORE_UNIQUE_COLS FACTDB_KEY_MAX_COLUMNS  /* columns per constraint (16) */
typedef struct store_unique {
    char name[FACTDB_NAME_MAX + 1];
    uint8_t primary;          /* 1: PRIMARY KEY (its columns are NOT NULL) */
    uint8_t ncols;
    uint16_t cols[STORE_UNIQUE_COLS];
} store_unique;

typedef struct store_table {
    uint32_t id;
    char name[FACTDB_NAME_MAX + 1];
    uint16_t ncols;
    store_col *cols;
    uint64_t next_chunk;  /* chunk ids below it are taken; those in a load's marked range are unpublished */
    uint64_t rows, chunks, bytes;
    uint8_t nuniq;        /* unique constraints (table record version 4 when any) */
    store_unique uniq[STORE_UNIQUE_MAX];
} store_table;

/* Per-column zone map and location inside a chunk header. */
typedef struct store_colmeta {
    uint8_t present, flags, encoding;
    uint32_t nulls, bytes;
    int64_t min, max;
} store_colmeta;

typedef struct store_chunk_header {
    uint32_t rows, deleted;
    uint16_t ncols;
    store_colmeta *cols;
} store_chunk_header;

struct factdb {
    store_env *env;
    int busy_timeout_ms;
    bool read_only;
    const char *ro_why;  /* why read_only: "opened read-only" or the environment's reason */
};

/* Fills err with PERMISSION for a write on a read-only handle, saying why; returns PERMISSION. */
int store_read_only_err(const factdb *db, factdb_error *err);

/* ---- environment ---- */
/* Opens (or shares) the process's environment of `path`. flags: FACTDB_OPEN_*. *ro_why receives NULL, or
 * why the file can only be read (no write permission on it or on its lock file). */
int store_env_open(const char *path, unsigned flags, int busy_timeout_ms, store_env **out, const char **ro_why,
                   factdb_error *err);
void store_env_release(store_env *env);
uint64_t store_env_data_version(store_env *env);
int store_env_info(store_env *env, factdb_db_info *out, factdb_error *err);

/* ---- write gate: held by at most one thread of one process at a time ---- */
int store_gate_acquire(store_env *env, int timeout_ms, factdb_error *err);
void store_gate_release(store_env *env);

/* ---- transactions ---- */
int store_txn_read(store_env *env, store_txn **out, factdb_error *err);
/* Begins a write transaction. The caller must hold the gate. Unless the caller continues its own
 * multi-transaction load, it first reclaims what an interrupted load left behind. */
int store_txn_write(store_env *env, bool continuing_load, store_txn **out, factdb_error *err);
int store_txn_commit(store_txn *t, factdb_error *err);
void store_txn_abort(store_txn *t);
uint64_t store_txn_id(store_txn *t);

/* ---- explicit transactions (SQL BEGIN ... COMMIT) ----
 * A transaction holds the write gate and one LMDB write transaction until it ends. While a thread has
 * it bound (store_xact_bind), every write of that thread on that handle goes into it (nothing is
 * committed on its own) and every read sees it, own writes included. Other threads and processes see
 * nothing of it until store_xact_commit, and wait for the gate meanwhile. */
int store_xact_begin(factdb *db, store_txn **out, factdb_error *err);
int store_xact_commit(factdb *db, store_txn *t, factdb_error *err);
void store_xact_rollback(factdb *db, store_txn *t);
void store_xact_bind(factdb *db, store_txn *t);
store_txn *store_xact_current(factdb *db);
/* The one write protocol: runs apply(t, ctx, err) in a write transaction. Inside the thread's BEGIN ...
 * COMMIT (store_xact_current) that is the transaction itself, and its COMMIT or ROLLBACK decides. Otherwise
 * it takes the write gate (bounded by the busy timeout), opens a write transaction, binds it to the thread
 * while apply runs (so whatever apply calls, the appender included, writes into it and reads its own
 * writes), commits durably when apply returns 0 and aborts otherwise, and releases the gate. A read-only
 * handle fails with PERMISSION. Errors: apply's, BUSY, IO, FULL, PERMISSION. */
/* ---- views (views.c) ---- */
typedef struct store_view {
    char *sql;              /* the query's text */
    size_t len;
    char **cols;            /* CREATE VIEW v (a, b): the names given, else none */
    int ncols;
} store_view;
/* FACTDB_NO_TABLE when there is no such view. */
int store_view_get(store_txn *t, const char *name, store_view *out, factdb_error *err);
void store_view_free(store_view *v);
/* Whether a view of that name exists (in the thread's transaction, else a snapshot of its own). */
bool store_view_exists(factdb *db, const char *name);
int store_view_put(store_txn *t, const char *name, const char *const *cols, int ncols, const char *sql, size_t len,
                   factdb_error *err);
/* FACTDB_NO_TABLE when there is no such view. */
int store_view_drop(store_txn *t, const char *name, factdb_error *err);
/* fn(ctx, name) for every view in name order; stops at fn's first non-zero result, which it returns. */
int store_view_each(store_txn *t, int (*fn)(void *ctx, const char *name), void *ctx, factdb_error *err);

int store_write(factdb *db, int (*apply)(store_txn *t, void *ctx, factdb_error *err), void *ctx, factdb_error *err);
/* A transaction to read from: the thread's bound transaction (*borrowed = true: do not end it) or a new
 * read-only snapshot. */
int store_txn_read_db(factdb *db, store_txn **out, bool *borrowed, factdb_error *err);
void store_txn_end(store_txn *t, bool borrowed);

/* ---- catalog ---- */
int store_table_get(store_txn *t, const char *name, store_table *out, factdb_error *err);
int store_table_get_id(store_txn *t, uint32_t id, store_table *out, factdb_error *err);
int store_table_put(store_txn *t, const store_table *tab, factdb_error *err);
void store_table_cleanup(store_table *tab);
int store_table_copy(store_table *dst, const store_table *src);
int store_table_create(store_txn *t, const char *name, const factdb_column_def *cols, size_t ncols,
                       factdb_error *err);
/* Validates a definition into *out (id 0; the caller cleans it up). Errors: INVALID_ARGUMENT, NOMEM. */
int store_table_build(const char *name, const factdb_column_def *cols, size_t ncols, store_table *out,
                      factdb_error *err);
/* Writes table record `tab` under a new id (set in tab->id); named=false leaves it out of the name index,
 * invisible until store_table_name publishes it. Errors: TABLE_EXISTS, IO, FULL. */
int store_table_insert(store_txn *t, store_table *tab, bool named, factdb_error *err);
int store_table_name(store_txn *t, const store_table *tab, factdb_error *err);
int store_table_drop(store_txn *t, const char *name, factdb_error *err);
int store_table_truncate(store_txn *t, const char *name, factdb_error *err);
/* Calls fn for every table in name order. */
int store_table_each(store_txn *t, int (*fn)(void *ctx, const store_table *tab), void *ctx, factdb_error *err);
void store_table_to_info(const store_table *tab, factdb_table_info *info, factdb_column_info *cols);

/* ---- chunks ---- */
/* A chunk being written: column values widened to 64 bits. TEXT values are global dictionary ids. */
typedef struct store_chunk_in {
    uint32_t rows;
    uint16_t ncols;
    const int64_t *const *vals;
    const uint8_t *const *valid;  /* entries may be NULL: no NULLs */
} store_chunk_in;
/* Encodes and writes chunk `chunk_id` of `tab`; adds its encoded bytes to *bytes. */
int store_chunk_put(store_txn *t, const store_table *tab, uint64_t chunk_id, const store_chunk_in *in,
                    base_buf *scratch, uint64_t *bytes, factdb_error *err);
/* Merges the trailing small chunks of `tab` when there are enough of them; updates tab's counters. */
int store_chunk_merge_tail(store_txn *t, store_table *tab, factdb_error *err);

/* ---- unique constraints (unique.c) ---- */
/* Adds a constraint to a table being built (store_table_build): `cols` are column indexes. name NULL: the
 * PostgreSQL default (t_pkey, t_a_b_key; a number appended when taken). Errors: INVALID_ARGUMENT (a second
 * PRIMARY KEY, too many constraints or columns, a column twice, a duplicate name). */
int store_table_add_unique(store_table *tab, const char *name, bool primary, const uint16_t *cols, int ncols,
                           factdb_error *err);
/* The key of constraint u for row `row` of vals/valid (as in store_chunk_in: TEXT as dictionary ids), written
 * to key (room for STORE_UNIQUE_KEY_MAX bytes); returns its length, 0 when a key column is NULL. */
#define STORE_UNIQUE_KEY_MAX (5 + 8 * STORE_UNIQUE_COLS)
size_t store_unique_key(const store_table *tab, int u, const int64_t *const *vals, const uint8_t *const *valid,
                        uint32_t row, unsigned char *key);
/* What a row that duplicates a live row's key does. */
typedef enum store_conflict_mode {
    STORE_CONFLICT_ERROR,   /* fail with UNIQUE_VIOLATION */
    STORE_CONFLICT_SKIP     /* leave the row out (ON CONFLICT DO NOTHING / DO UPDATE) */
} store_conflict_mode;
/* One row left out, and the live row it collided with. */
typedef struct store_conflict {
    uint32_t row;           /* in the chunk being written, before rows were left out */
    int u;                  /* the constraint */
    uint64_t with_chunk;
    uint32_t with_row;
    uint32_t key_len;
    unsigned char key[STORE_UNIQUE_KEY_MAX];  /* the key of constraint u they share */
} store_conflict;
/* Claims the keys of rows 0..in->rows of chunk `chunk_id` (about to be written in t) for every constraint
 * of tab. A key held by a live row is a conflict: in STORE_CONFLICT_ERROR mode the call fails with
 * UNIQUE_VIOLATION and *c describes it; in SKIP mode (for constraint `only`, or every one when only < 0;
 * the others still fail) the row is marked in skip[] (rows entries) and described in conflicts[] (*nconf
 * of them, room for in->rows) and its keys are not claimed. A key held by a dead row (deleted, or in a chunk
 * that no longer exists) is taken over. The rows kept must then be written with their final row numbers:
 * when rows were skipped, call store_unique_place for the compacted chunk. */
int store_unique_claim(store_txn *t, const store_table *tab, uint64_t chunk_id, const store_chunk_in *in,
                       store_conflict_mode mode, int only, uint8_t *skip, store_conflict *conflicts, size_t *nconf,
                       factdb_error *err);
/* Points the keys of every row of chunk `chunk_id` (as written) at their rows, overwriting: after rows were
 * left out, and after a merge moved rows to a new chunk. */
int store_unique_place(store_txn *t, const store_table *tab, uint64_t chunk_id, const store_chunk_in *in,
                       factdb_error *err);
/* The live row holding `key` in t: *found false when none. */
int store_unique_lookup(store_txn *t, const unsigned char *key, size_t key_len, bool *found, uint64_t *chunk_id,
                        uint32_t *row, factdb_error *err);
/* Whether row `row` of chunk `chunk_id` of table `table` is live in t. */
int store_unique_row_live(store_txn *t, uint32_t table, uint64_t chunk_id, uint32_t row, bool *live,
                          factdb_error *err);
/* Deletes every key of table `table` (DROP, TRUNCATE). */
int store_unique_drop(store_txn *t, uint32_t table, factdb_error *err);
/* What the appender's rows do on a key conflict (default: STORE_CONFLICT_ERROR). In SKIP mode (for
 * constraint `only`, or any when only < 0) fn(ctx, row, c, err) is called for each row left out, with its
 * 0-based number among the rows appended since the appender was made; a non-zero return fails the
 * write. */
void store_appender_on_conflict(factdb_appender *a, store_conflict_mode mode, int only,
                                int (*fn)(void *ctx, uint64_t row, const store_conflict *c, factdb_error *err),
                                void *ctx);
/* The appender's table as it was when the appender was made (columns and constraints). */
const store_table *store_appender_table(const factdb_appender *a);

/* Raw chunk access for scans and checks. */
typedef struct store_chunk_ref {
    uint64_t id;
    store_chunk_header hdr;
    const void *header_raw;
    size_t header_len;
    const unsigned char *deleted;  /* bitmap or NULL */
    size_t deleted_len;
    const void **blobs;            /* per requested column; NULL if absent (all NULL) */
    size_t *blob_len;
} store_chunk_ref;
/* Lists published chunks of `tab` (or all chunks when all=true), with blobs for columns `colidx`
 * (ncols entries; indexes into tab->cols). Pointers stay valid while `t` lives. *out is malloc'ed.
 * Unless all=true (factdb check, which reports each problem itself), the listing is cross-checked and
 * fails with CORRUPT when a value the chunk header lists is missing or has another length, a deletion
 * bitmap disagrees with the header's count, a TEXT zone map points past the published dictionary, or the
 * catalog's row and chunk counts differ from the chunks found (a damaged key or B-tree page that hides a
 * chunk or a column from the cursor). Column checksums are verified later, by the reader. */
int store_chunk_list(store_txn *t, const store_table *tab, const int *colidx, size_t ncols, bool all,
                     store_chunk_ref **out, size_t *n, factdb_error *err);
void store_chunk_list_free(store_chunk_ref *list, size_t n);
int store_chunk_header_parse(const void *raw, size_t len, store_chunk_header *out, const char **why);

/* factdb check: every live row of chunk ch (values vals/valid of every column, as in store_chunk_in) has
 * its keys in the index, pointing at it; each problem is reported through problem(ctx, msg). */
int store_unique_verify(store_txn *t, const store_table *tab, const store_chunk_ref *ch, const int64_t *const *vals,
                        const uint8_t *const *valid, void (*problem)(void *ctx, const char *msg), void *ctx);

/* ---- dictionaries ---- */
/* One string of a batch: its bytes, XXH3-64 hash (base_hash) and id. */
typedef struct store_dict_item {
    const char *s;
    uint32_t len;
    uint32_t id;
    uint64_t hash;
} store_dict_item;
/* Looks up each of the n strings in the dictionary of format-1 column `col` (through its hash index) as t
 * sees it: sets items[i].id to the string's id, or UINT32_MAX when the dictionary lacks it. */
int store_dict_find(store_txn *t, uint32_t table_id, uint16_t col, store_dict_item *items, size_t n,
                    factdb_error *err);
/* The same for a column of format 2 or 3 (`form`), whose entries 0..count-1 are what t sees, through an
 * in-memory index of them: the process's shared index when `priv` is NULL (then every one of those entries
 * must be committed: t is a transaction of its own, not BEGIN ... COMMIT), else *priv, an index private to
 * the caller (created when NULL; the caller frees it with store_dict_index_free, and must when its
 * transaction does not commit). Entries are verified (hash or block checksum) as they are indexed (CORRUPT). */
int store_dict_find_indexed(store_txn *t, uint32_t table_id, uint16_t col, int form, store_dict_index **priv,
                            uint32_t count, store_dict_item *items, size_t n, factdb_error *err);
/* Adds n new strings with their ids (ascending, assigned by the caller from the column's count, which the
 * caller advances and later publishes into tab->cols[col].dict_count) in dictionary format `form`. */
int store_dict_add(store_txn *t, uint32_t table_id, uint16_t col, int form, const store_dict_item *items, size_t n,
                   factdb_error *err);
/* Indexes strings just added with store_dict_add in a private index, when they continue its indexed range
 * (else its next lookup reads them). */
int store_dict_index_add(store_dict_index *ix, const store_dict_item *items, size_t n, factdb_error *err);
void store_dict_index_free(store_dict_index *ix);
/* Deletes entries with id >= from (an interrupted or failed load's strings). */
int store_dict_trim(store_txn *t, uint32_t table_id, uint16_t col, int form, uint32_t from, factdb_error *err);
/* Deletes the whole dictionary of a column. */
int store_dict_drop(store_txn *t, uint32_t table_id, uint16_t col, factdb_error *err);
/* The process cache of column (table, col), filled up to `count` entries from snapshot t. */
int store_dict_cached(store_txn *t, uint32_t table_id, uint16_t col, int form, uint32_t count, store_dict **out,
                      factdb_error *err);
const char *store_dict_str(store_dict *d, uint32_t id, size_t *len);
/* A dictionary loaded from t for this caller only (inside a transaction whose new entries must not reach
 * the shared cache). Free with store_dict_private_free. */
int store_dict_private(store_txn *t, uint32_t table_id, uint16_t col, int form, uint32_t count, store_dict **out,
                       factdb_error *err);
void store_dict_private_free(store_dict *d);
/* Calls fn for every dictionary entry of a column (for check); `hashed` is 0 when the entry does not match
 * its hash (format 1: is missing from the hash index; format 3: its block does not match its checksum). */
int store_dict_each(store_txn *t, uint32_t table_id, uint16_t col, int form,
                    int (*fn)(void *ctx, uint32_t id, const char *s, size_t len, int hashed), void *ctx,
                    factdb_error *err);
void store_env_dicts_free(store_env *env);

/* Marks rows of chunk `chunk_id` deleted: `bitmap` (rows bits, 1 = deleted) holds the old and the new
 * deletions, ndel counts the new ones. Updates tab's counters (the caller stores tab). */
int store_chunk_delete(store_txn *t, store_table *tab, uint64_t chunk_id, const unsigned char *bitmap, uint32_t ndel,
                       factdb_error *err);

/* ---- scan internals for the executor ---- */
/* The chunk the batch came from: id, physical rows and the deletion bitmap it had (NULL: none). */
void store_batch_chunk(const factdb_batch *b, uint64_t *id, uint32_t *rows, const unsigned char **deleted);
/* Drops from the scan the chunks for which keep(ctx, header) returns false; returns how many it dropped. */
size_t store_scan_prune(factdb_scan *s, bool (*keep)(void *ctx, const store_chunk_header *h), void *ctx);
size_t store_scan_chunk_count(factdb_scan *s);
/* The zone map of scan column col in live chunk i (integers, dates, times, text dictionary codes as
 * stored; doubles as their bits): 1 with *min and *max, 0 when the chunk holds no value of the column
 * (only NULLs), -1 when it has no zone map for it. */
int store_scan_chunk_range(factdb_scan *s, size_t i, size_t col, int64_t *min, int64_t *max);
/* Decodes chunk number i (0 <= i < store_scan_chunk_count) into b, whatever factdb_scan_next claimed:
 * for executors where every worker reads every chunk. i past the end gives count 0. */
int store_scan_read(factdb_scan *s, factdb_batch *b, size_t i, factdb_error *err);
/* Dictionary entries visible to the scan for its column `col` (TEXT columns), else 0. */
uint32_t store_scan_dict_count(factdb_scan *s, size_t col);

/* True when `addr` lies inside the memory map of a database this process has open. Async-signal-safe (for
 * a SIGSEGV/SIGBUS handler): reads only a fixed table of atomics. When true and `fd`/`offset` are
 * non-NULL, they receive the database file's descriptor and the byte offset of addr in the file. */
bool store_addr_in_map(const void *addr, int *fd, uint64_t *offset);

/* Converts an LMDB return code into a factdb error with `what` as context. */
int store_mdb_err(factdb_error *err, int rc, const char *what);

#endif
