/* store_int.h: definitions shared only by the files of src/store/. */
#ifndef FACTDB_STORE_INT_H
#define FACTDB_STORE_INT_H

#include "store.h"
#include <lmdb.h>
#include <pthread.h>
#include <sys/types.h>

/* The same constants in every process (LMDB sizes the lock file from the first opener). */
#define STORE_MAP_SIZE (1ull << 40)      /* 1 TiB of address space; the file grows only as written */
#define STORE_MAX_READERS 1024
#define STORE_GATE_OFFSET (1ll << 40)    /* byte of NAME-lock locked by the writer (LMDB uses < 2^22) */
#define STORE_SMALL_CHUNK (FACTDB_CHUNK_ROWS / 16)
#define STORE_MERGE_COUNT 16
#define STORE_COL_HEADER 0
#define STORE_COL_DELETED 0xFFFF

struct store_env {
    struct store_env *next;
    dev_t dev;
    ino_t ino;
    int refs;
    MDB_env *env;
    MDB_dbi meta, tables, names, chunks, dstr, dhash;
    int lock_fd;
    /* The write gate (env.c): gate_mu guards the flag, the holder's ticket and the pool of lock-file
     * descriptors that carry the tickets (one per waiting thread, closed only with the environment). */
    pthread_mutex_t gate_mu;
    pthread_cond_t gate_cv;
    int gate_held;
    int gate_fd;            /* the holder's descriptor, -1 when the gate is free */
    int64_t gate_ticket;    /* the holder's ticket byte */
    int *gate_pool;         /* idle descriptors: gate_pool_n of them, room for gate_pool_cap */
    size_t gate_pool_n, gate_pool_cap, gate_fds_open;
    unsigned gate_forks;    /* fork() count of the process when opened: a child may not write through it */
    pthread_mutex_t dict_mu;
    store_dict *dicts;
    /* Writers' string indexes of format-2 dictionaries (committed entries only; dict.c) */
    pthread_mutex_t dict_ix_mu;
    store_dict_index *dict_ixs;
    /* Read-only environments: the file (or its lock file) is not writable by this process. */
    bool read_only, nolock;
    char ro_why[600];
    int map_slot;        /* index in the signal-safe map table, -1 if none */
    /* Column values whose checksum this process verified (see verify.c). */
    pthread_mutex_t verified_mu;
    uint64_t *verified;  /* open-addressing set of key hashes; 0 = empty */
    size_t verified_cap, verified_n;
    /* the `unique` database when it existed at open (opened with the others, usable by read transactions:
     * factdb check); writers open it in their transactions whether or not (unique.c) */
    MDB_dbi uniq;
    bool uniq_at_open;
    char path[];
};

/* The bytes of the file that hold pages (from LMDB's last page number), as addresses in this process's
 * map: a value LMDB hands out whose bytes reach past `hi` comes from a damaged node (LMDB has no page
 * checksums) and would fault when read. lo == hi == 0 when the map's address is unknown. */
typedef struct store_map_bounds {
    uintptr_t lo, hi;
} store_map_bounds;
void store_map_bounds_get(store_env *env, store_map_bounds *b);
/* The address of env's memory map, or NULL when unknown. */
const void *store_map_base(store_env *env);
/* Checks every B-tree page of the newest snapshot (pages.c) before LMDB walks them: CORRUPT naming the
 * first damaged page, or OK. `path` names the file in messages. */
int store_pages_check(store_env *env, const char *path, factdb_error *err);
/* False when `v` points into the map but runs past the pages of the file (a damaged size). Values in
 * memory outside the map (a write transaction's dirty pages) are always accepted. */
static inline bool store_val_ok(const store_map_bounds *b, const MDB_val *v)
{
    uintptr_t a = (uintptr_t)v->mv_data;
    if (!b->hi || a < b->lo || a - b->lo >= STORE_MAP_SIZE)
        return true;
    return a <= b->hi && v->mv_size <= b->hi - a;
}

struct store_txn {
    store_env *env;
    MDB_txn *txn;
    int write;
    /* store_write began it for one statement and no dictionary string was added in it yet: every string it
     * sees is committed, so the process's shared dictionary cache and string index serve it (dict.c clears
     * the flag when it adds strings) */
    bool fresh;
};

/* key builders */
static inline void store_chunk_key(unsigned char k[14], uint32_t table, uint64_t chunk, uint16_t col)
{
    base_put_be32(k, table);
    base_put_be64(k + 4, chunk);
    base_put_be16(k + 12, col);
}

int store_reclaim(store_txn *t, factdb_error *err);
int store_reclaim_load(store_txn *t, factdb_error *err);

/* ---- loads spanning several transactions (loadmark.c) ----
 * A running load owns chunk ids [first, end) of its table, recorded in a mark that readers honour (those
 * chunks are not published) and that its publishing transaction deletes. It holds an fcntl lock on byte
 * STORE_LOAD_LOCK_BASE + (id mod STORE_LOAD_LOCK_SPAN) of NAME-lock from before its mark commits until
 * the mark is gone or the load gives up. */
#define STORE_LOAD_LOCK_BASE (1ll << 41)   /* [2^41, 2^42) of NAME-lock: one byte per running load */
#define STORE_LOAD_LOCK_SPAN (1ull << 40)
#define STORE_LOAD_SPAN (1ull << 32)       /* chunk ids a load reserves: 2^48 rows */
typedef struct store_load_mark {
    uint32_t table, flags;  /* flags: 1 = the load creates the table (its record is not named yet) */
    uint64_t id, first, end;
} store_load_mark;
/* Starts a load into `tab` in t: a new load id, its lock byte, a mark, and tab->next_chunk moved past the
 * reserved range (the caller stores tab). On failure nothing stays locked. */
int store_load_start(store_txn *t, store_table *tab, bool creates, store_load_mark *out, factdb_error *err);
/* Unlocks the load's byte: call once its mark is committed away, or to give up (a writer reclaims it). */
void store_load_release(store_env *env, uint64_t id);
/* Deletes the mark in t (the load's chunks become visible when t commits). INTERNAL if it is gone. */
int store_load_publish(store_txn *t, const store_load_mark *m, factdb_error *err);
/* INTERNAL unless the mark is still there. */
int store_load_present(store_txn *t, const store_load_mark *m, factdb_error *err);
/* Removes the load's chunks (and the table it was creating) and its mark. */
int store_load_discard(store_txn *t, const store_load_mark *m, factdb_error *err);
/* Discards every load whose lock byte is free. The caller holds the gate. */
int store_reclaim_dead_loads(store_txn *t, factdb_error *err);
/* The marks of table `table` (0: of every table) in t; *out is malloc'ed (NULL when n is 0). */
int store_load_marks(store_txn *t, uint32_t table, store_load_mark **out, size_t *n, factdb_error *err);
/* True when chunk id `chunk` lies in a marked range; *end receives the range's end. */
bool store_load_hides(const store_load_mark *marks, size_t n, uint64_t chunk, uint64_t *end);
/* Deletes every key of chunks [first, end) of table `table`. */
int store_chunks_delete_range(store_txn *t, uint32_t table, uint64_t first, uint64_t end, factdb_error *err);
/* Columns of a chunk encoded before the write transaction (outside the write gate): meta[i].present says
 * bufs[i] holds column i. */
typedef struct store_chunk_pre {
    base_buf *bufs;
    store_colmeta *meta;
} store_chunk_pre;
/* Encodes column `col` of `in` (typed as in tab) into *out and its zone map into *meta. */
int store_chunk_encode(const store_table *tab, const store_chunk_in *in, uint16_t col, base_buf *out,
                       store_colmeta *meta, factdb_error *err);
/* store_chunk_put, taking the columns `pre` holds as they are and encoding the others. */
int store_chunk_put_pre(store_txn *t, const store_table *tab, uint64_t chunk_id, const store_chunk_in *in,
                        base_buf *scratch, const store_chunk_pre *pre, uint64_t *bytes, factdb_error *err);
/* Deletes table record `tab` with its chunks and dictionaries (not its name). */
int store_table_remove(store_txn *t, const store_table *tab, factdb_error *err);
/* Maps an mdb_txn_commit failure to a factdb error: LMDB reports a short write on a full disk as EIO. */
int store_commit_err(store_env *env, int rc, const char *what, factdb_error *err);
/* Verifies the checksum of column value `blob` (len bytes) of (table, chunk, col) unless this process
 * already did; CORRUPT naming them otherwise. */
int store_verify_blob(store_env *env, const char *table_name, uint32_t table, uint64_t chunk, const char *col_name,
                      uint16_t col, const void *blob, size_t len, factdb_error *err);
void store_verified_free(store_env *env);
/* Set bits among the first `rows` bits of a deletion bitmap. */
uint32_t store_bitmap_count(const unsigned char *bits, uint32_t rows);
int store_delete_prefix(store_txn *t, MDB_dbi dbi, const unsigned char *prefix, size_t plen,
                        factdb_error *err);

/* File format versions (the `meta` "format" record): a new file is written as STORE_FORMAT_BASE; the first
 * dictionary column of format 2 raises it to STORE_FORMAT_DICT2, the first of format 3 or the first chunk
 * with a delta-encoded column (ENC_DELTA) to STORE_FORMAT_3, so an older factdb refuses the file with
 * NEWER_FORMAT instead of calling what it cannot read damage. store_format_require raises the record's
 * version in t to at least `version`. */
#define STORE_FORMAT_BASE 1u
#define STORE_FORMAT_DICT2 2u
#define STORE_FORMAT_3 3u
int store_format_require(store_txn *t, uint32_t version, factdb_error *err);

#endif
