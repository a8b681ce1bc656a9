/* dict.c: TEXT dictionaries. Per column, append-only id -> string entries in dict_str, in one of three
 * formats (docs/format.md):
 *   1: one entry per string, plus a hash -> id index (dict_hash), in files of the first format;
 *   2: one entry per string carrying the string's XXH3 before its bytes, no hash index;
 *   3 (every column created since): blocks of consecutive strings, keyed by their first id, each with a
 *     checksum and compressed with zstd when that pays, no hash index.
 * Strings are never LMDB keys: they may be empty or longer than 511 bytes. Writers of formats 2 and 3 look
 * strings up in an in-memory index (store_dict_index) whose candidates are confirmed against the strings in
 * memory. Each process caches the published entries of a column in memory; published entries never change,
 * so the cache only ever grows and readers use it without locks. */
#include "store_int.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zstd.h>

#define PAGE_BITS 16
#define PAGE_SIZE (1u << PAGE_BITS)
#define TOP_SIZE (1u << (32 - PAGE_BITS))
#define ARENA_BLOCK (1u << 20)

/* Format 3 blocks. A block closes once its raw form (per string: LEB128 length, then the bytes) reaches
 * BLOCK_RAW_TARGET, so it holds at most that many strings; it is compressed when at least
 * BLOCK_COMPRESS_MIN bytes and smaller so. Header: codec (u8), strings (u32 BE), raw bytes (u32 BE),
 * XXH3-64 of the raw form (u64 BE), then the payload. */
#define BLOCK_RAW_TARGET (256u << 10)
#define BLOCK_COMPRESS_MIN 1024u
#define BLOCK_HEADER 17u
#define BLOCK_RAW_MAX (BLOCK_RAW_TARGET + FACTDB_TEXT_MAX + 16u)
#define BLOCK_ZSTD_LEVEL 3
enum { CODEC_RAW = 0, CODEC_ZSTD = 1 };

typedef struct dict_entry {
    const char *s;
    uint32_t len;
} dict_entry;

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
} arena_block;

struct store_dict {
    store_dict *next;
    uint32_t table;
    uint16_t col;
    int form;                /* the column's dictionary format: 1, 2 or 3 */
    _Atomic uint32_t count;  /* entries 0..count-1 are filled and immutable */
    dict_entry **pages;      /* TOP_SIZE page pointers */
    arena_block *arena;
};

static void str_key(unsigned char k[10], uint32_t table, uint16_t col, uint32_t id)
{
    base_put_be32(k, table);
    base_put_be16(k + 4, col);
    base_put_be32(k + 6, id);
}

static void hash_key(unsigned char k[18], uint32_t table, uint16_t col, uint64_t h, uint32_t id)
{
    base_put_be32(k, table);
    base_put_be16(k + 4, col);
    base_put_be64(k + 6, h);
    base_put_be32(k + 14, id);
}

/* Orders a batch by hash index key: a chunk's strings looked up or inserted in key order let one cursor
 * move forward through the hash index (LMDB starts a cursor's search on its current page when the key
 * falls there) instead of descending from the root for each random key. */
typedef struct hash_order {
    uint64_t h;
    uint32_t i;
} hash_order;

static int cmp_hash_order(const void *x, const void *y)
{
    const hash_order *a = x, *b = y;
    if (a->h != b->h)
        return a->h < b->h ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static hash_order *sorted_by_hash(const store_dict_item *items, size_t n)
{
    hash_order *o = malloc(MAX(n, (size_t)1) * sizeof *o);
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++)
        o[i] = (hash_order){items[i].hash, (uint32_t)i};
    qsort(o, n, sizeof *o, cmp_hash_order);
    return o;
}

#define DICT_DAMAGED "the database file \"%s\" is damaged: "
#define DICT_RESTORE "; run factdb check to list every problem, and restore the file from a backup"

static int entry_damaged(store_env *env, uint32_t table_id, uint16_t col, uint32_t id, factdb_error *err)
{
    return base_err(err, FACTDB_CORRUPT, DICT_DAMAGED "entry %u of the dictionary of column %u of table %u does "
                    "not match its hash" DICT_RESTORE, env->path, id, (unsigned)col, table_id);
}

static int entry_missing(store_env *env, uint32_t table_id, uint16_t col, uint32_t id, uint32_t count,
                         factdb_error *err)
{
    return base_err(err, FACTDB_CORRUPT, DICT_DAMAGED "entry %u of the dictionary of column %u of table %u is "
                    "missing (the catalog says %u entries)" DICT_RESTORE, env->path, id, (unsigned)col, table_id,
                    count);
}

/* A dictionary string whose stored size runs past the file's pages (a damaged LMDB node). */
static int damaged_string(store_env *env, uint32_t table_id, uint16_t col, uint32_t id, factdb_error *err)
{
    return base_err(err, FACTDB_CORRUPT, DICT_DAMAGED "entry %u of the dictionary of column %u of table %u has a "
                    "size that runs past the end of the file" DICT_RESTORE, env->path, id, (unsigned)col, table_id);
}

static int block_damaged(store_env *env, uint32_t table_id, uint16_t col, uint32_t first, const char *why,
                         factdb_error *err)
{
    return base_err(err, FACTDB_CORRUPT, DICT_DAMAGED "the block of entries from %u of the dictionary of column %u "
                    "of table %u %s" DICT_RESTORE, env->path, first, (unsigned)col, table_id, why);
}

int store_dict_find(store_txn *t, uint32_t table_id, uint16_t col, store_dict_item *items, size_t n,
                    factdb_error *err)
{
    hash_order *o = sorted_by_hash(items, n);
    if (!o)
        return base_err(err, FACTDB_NOMEM, "out of memory looking up dictionary strings");
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->dhash, &c);
    if (rc) {
        free(o);
        return store_mdb_err(err, rc, "cannot read a dictionary");
    }
    for (size_t j = 0; j < n && (!rc || rc == MDB_NOTFOUND); j++) {
        store_dict_item *it = &items[o[j].i];
        unsigned char hk[18];
        hash_key(hk, table_id, col, it->hash, 0);
        MDB_val k = {18, hk}, v;
        it->id = UINT32_MAX;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        while (rc == 0 && k.mv_size == 18 && memcmp(k.mv_data, hk, 14) == 0) {
            uint32_t cand = base_get_be32((const unsigned char *)k.mv_data + 14);
            unsigned char sk[10];
            str_key(sk, table_id, col, cand);
            MDB_val skv = {10, sk}, sv;
            int grc = mdb_get(t->txn, t->env->dstr, &skv, &sv);
            if (grc == 0 && sv.mv_size == it->len && (it->len == 0 || memcmp(sv.mv_data, it->s, it->len) == 0)) {
                it->id = cand;
                break;
            }
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
    }
    mdb_cursor_close(c);
    free(o);
    if (rc && rc != MDB_NOTFOUND)
        return store_mdb_err(err, rc, "cannot read a dictionary");
    return FACTDB_OK;
}

static int add_entries(store_txn *t, uint32_t table_id, uint16_t col, bool inline_hash, const store_dict_item *items,
                       size_t n, factdb_error *err)
{
    if (!n)
        return FACTDB_OK;
    MDB_cursor *c = NULL;
    int rc = mdb_cursor_open(t->txn, t->env->dstr, &c);
    /* Ids ascend, so the strings append at the end of the column's range; MDB_APPEND is valid only at the end
     * of the whole database (no later table or column), so it is tried until it is refused once. */
    unsigned append = MDB_APPEND;
    size_t hl = inline_hash ? 8 : 0;
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char sk[10];
        str_key(sk, table_id, col, items[i].id);
        MDB_val skv = {10, sk}, sv = {hl + items[i].len, NULL};
        if ((rc = mdb_cursor_put(c, &skv, &sv, append | MDB_RESERVE)) == MDB_KEYEXIST && append) {
            append = 0;
            sv.mv_size = hl + items[i].len;
            rc = mdb_cursor_put(c, &skv, &sv, MDB_RESERVE);
        }
        if (!rc) {
            if (hl)
                base_put_be64(sv.mv_data, items[i].hash);
            if (items[i].len)
                memcpy((char *)sv.mv_data + hl, items[i].s, items[i].len);
        }
    }
    if (c)
        mdb_cursor_close(c);
    if (rc || inline_hash)
        return rc ? store_mdb_err(err, rc, "cannot extend a dictionary") : FACTDB_OK;
    hash_order *o = sorted_by_hash(items, n);
    if (!o)
        return base_err(err, FACTDB_NOMEM, "out of memory extending a dictionary");
    c = NULL;
    if (!rc)
        rc = mdb_cursor_open(t->txn, t->env->dhash, &c);
    for (size_t j = 0; j < n && !rc; j++) {
        unsigned char hk[18];
        hash_key(hk, table_id, col, o[j].h, items[o[j].i].id);
        MDB_val hkv = {18, hk}, ev = {0, NULL};
        rc = mdb_cursor_put(c, &hkv, &ev, 0);
    }
    if (c)
        mdb_cursor_close(c);
    free(o);
    return rc ? store_mdb_err(err, rc, "cannot extend a dictionary") : FACTDB_OK;
}

/* ---- format 3: writing blocks ---- */

static size_t put_leb128(unsigned char *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* Reads a LEB128 length of at most FACTDB_TEXT_MAX from [*p, end); -1 when it is malformed. */
static int get_leb128(const unsigned char **p, const unsigned char *end, uint32_t *v)
{
    uint64_t x = 0;
    *v = 0;
    for (unsigned shift = 0; *p < end && shift < 35; shift += 7) {
        unsigned char b = *(*p)++;
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            if (x > FACTDB_TEXT_MAX)
                return -1;
            *v = (uint32_t)x;
            return 0;
        }
    }
    return -1;
}

/* Writes items (consecutive ids) as blocks: each closes at BLOCK_RAW_TARGET raw bytes or at a gap in the ids. */
static int add_blocks(store_txn *t, uint32_t table_id, uint16_t col, const store_dict_item *items, size_t n,
                      factdb_error *err)
{
    base_buf raw, z;
    base_buf_init(&raw, BLOCK_RAW_MAX);
    base_buf_init(&z, SIZE_MAX);
    ZSTD_CCtx *cc = NULL;
    int rc = FACTDB_OK;
    for (size_t i = 0; i < n && !rc;) {
        size_t j = i;
        raw.len = 0;
        do {
            if (base_buf_reserve(&raw, 5 + (size_t)items[j].len)) {
                rc = base_err(err, FACTDB_NOMEM, "out of memory extending a dictionary");
                break;
            }
            raw.len += put_leb128(raw.data + raw.len, items[j].len);
            if (items[j].len)
                memcpy(raw.data + raw.len, items[j].s, items[j].len);
            raw.len += items[j].len;
            j++;
        } while (j < n && raw.len < BLOCK_RAW_TARGET && items[j].id == items[j - 1].id + 1);
        if (rc)
            break;
        const void *payload = raw.data;
        size_t plen = raw.len;
        unsigned codec = CODEC_RAW;
        if (raw.len >= BLOCK_COMPRESS_MIN) {
            size_t bound = ZSTD_compressBound(raw.len);
            if (!cc && !(cc = ZSTD_createCCtx())) {
                rc = base_err(err, FACTDB_NOMEM, "out of memory compressing a dictionary");
                break;
            }
            if (bound > z.cap && base_buf_reserve(&z, bound)) {
                rc = base_err(err, FACTDB_NOMEM, "out of memory compressing a dictionary");
                break;
            }
            size_t zn = ZSTD_compressCCtx(cc, z.data, bound, raw.data, raw.len, BLOCK_ZSTD_LEVEL);
            if (!ZSTD_isError(zn) && zn < raw.len) {
                payload = z.data;
                plen = zn;
                codec = CODEC_ZSTD;
            }
        }
        unsigned char sk[10];
        str_key(sk, table_id, col, items[i].id);
        MDB_val k = {10, sk}, v = {BLOCK_HEADER + plen, NULL};
        int mrc = mdb_put(t->txn, t->env->dstr, &k, &v, MDB_RESERVE);
        if (mrc) {
            rc = store_mdb_err(err, mrc, "cannot extend a dictionary");
            break;
        }
        unsigned char *h = v.mv_data;
        h[0] = (unsigned char)codec;
        base_put_be32(h + 1, (uint32_t)(j - i));
        base_put_be32(h + 5, (uint32_t)raw.len);
        base_put_be64(h + 9, XXH3_64bits(raw.data, raw.len));
        memcpy(h + BLOCK_HEADER, payload, plen);
        i = j;
    }
    ZSTD_freeCCtx(cc);
    base_buf_cleanup(&raw);
    base_buf_cleanup(&z);
    return rc;
}

int store_dict_add(store_txn *t, uint32_t table_id, uint16_t col, int form, const store_dict_item *items, size_t n,
                   factdb_error *err)
{
    if (!n)
        return FACTDB_OK;
    t->fresh = false;  /* its strings are not committed: the shared cache and index must not see them */
    return form == 3 ? add_blocks(t, table_id, col, items, n, err)
                     : add_entries(t, table_id, col, form == 2, items, n, err);
}

/* ---- reading entries of every format in id order ---- */

typedef struct dict_iter {
    store_txn *t;
    uint32_t table;
    uint16_t col;
    int form;
    MDB_cursor *c;
    store_map_bounds mb;
    MDB_val k, v;
    int mrc;      /* the cursor's last result: 0 when k/v hold an entry or block not consumed yet */
    bool fresh;   /* k/v are positioned and not consumed */
    /* format 3: the block being read */
    uint32_t next_id, left, first, cur;  /* first: the block's first id; cur: the next entry's */
    bool block_ok;
    const unsigned char *p, *end;
    unsigned char *buf;
    size_t buf_cap;
} dict_iter;

static bool iter_in_column(const dict_iter *it)
{
    return it->mrc == 0 && it->k.mv_size == 10 && base_get_be32(it->k.mv_data) == it->table &&
           base_get_be16((const unsigned char *)it->k.mv_data + 4) == it->col;
}

static uint32_t iter_key_id(const dict_iter *it) { return base_get_be32((const unsigned char *)it->k.mv_data + 6); }

static int iter_seek(dict_iter *it, uint32_t id, MDB_cursor_op op)
{
    unsigned char sk[10];
    str_key(sk, it->table, it->col, id);
    it->k = (MDB_val){10, sk};
    it->mrc = mdb_cursor_get(it->c, &it->k, &it->v, op);
    return it->mrc;
}

static void iter_close(dict_iter *it)
{
    if (it->c)
        mdb_cursor_close(it->c);
    it->c = NULL;
    free(it->buf);
    it->buf = NULL;
}

/* Positions an iterator at entry `from` (or the first entry after it when it is missing). */
static int iter_open(dict_iter *it, store_txn *t, uint32_t table_id, uint16_t col, int form, uint32_t from,
                     factdb_error *err)
{
    memset(it, 0, sizeof *it);
    it->t = t;
    it->table = table_id;
    it->col = col;
    it->form = form;
    int rc = mdb_cursor_open(t->txn, t->env->dstr, &it->c);
    if (rc) {
        it->c = NULL;
        return store_mdb_err(err, rc, "cannot read a dictionary");
    }
    store_map_bounds_get(t->env, &it->mb);
    iter_seek(it, from, MDB_SET_RANGE);
    if (form == 3 && from > 0 && !(iter_in_column(it) && iter_key_id(it) == from)) {
        /* `from` may lie inside the block before: step back to it */
        it->mrc = it->mrc == MDB_NOTFOUND ? mdb_cursor_get(it->c, &it->k, &it->v, MDB_LAST)
                                          : it->mrc ? it->mrc : mdb_cursor_get(it->c, &it->k, &it->v, MDB_PREV);
        if (!(iter_in_column(it) && iter_key_id(it) < from))
            iter_seek(it, from, MDB_SET_RANGE);
    }
    if (it->mrc && it->mrc != MDB_NOTFOUND) {
        rc = store_mdb_err(err, it->mrc, "cannot read a dictionary");
        iter_close(it);
        return rc;
    }
    it->fresh = true;
    it->next_id = from;  /* format 3: entries before it are skipped */
    return FACTDB_OK;
}

/* Moves to the next LMDB entry of the column; 1 when there is one, 0 at the end, or an error. */
static int iter_step(dict_iter *it, factdb_error *err)
{
    if (!it->fresh)
        it->mrc = mdb_cursor_get(it->c, &it->k, &it->v, MDB_NEXT);
    it->fresh = false;
    if (it->mrc && it->mrc != MDB_NOTFOUND)
        return store_mdb_err(err, it->mrc, "cannot read a dictionary");
    return iter_in_column(it) ? 1 : 0;
}

/* Reads the block at the cursor: checks its header, decompresses it, checks the checksum (block_ok). */
static int iter_block(dict_iter *it, factdb_error *err)
{
    store_env *env = it->t->env;
    uint32_t first = iter_key_id(it);
    const unsigned char *h = it->v.mv_data;
    if (!store_val_ok(&it->mb, &it->v) || it->v.mv_size < BLOCK_HEADER || h[0] > CODEC_ZSTD)
        return block_damaged(env, it->table, it->col, first, "has a damaged header", err);
    uint32_t count = base_get_be32(h + 1), raw_len = base_get_be32(h + 5);
    size_t plen = it->v.mv_size - BLOCK_HEADER;
    if (count == 0 || raw_len < count || raw_len > BLOCK_RAW_MAX || (uint64_t)first + count > UINT32_MAX ||
        (h[0] == CODEC_RAW && plen != raw_len))
        return block_damaged(env, it->table, it->col, first, "has a damaged header", err);
    const unsigned char *raw = h + BLOCK_HEADER;
    if (h[0] == CODEC_ZSTD) {
        if (it->buf_cap < raw_len) {
            unsigned char *nb = realloc(it->buf, raw_len);
            if (!nb)
                return base_err(err, FACTDB_NOMEM, "out of memory reading a dictionary");
            it->buf = nb;
            it->buf_cap = raw_len;
        }
        size_t got = ZSTD_decompress(it->buf, raw_len, raw, plen);
        if (ZSTD_isError(got) || got != raw_len)
            return block_damaged(env, it->table, it->col, first, "cannot be decompressed", err);
        raw = it->buf;
    }
    it->block_ok = XXH3_64bits(raw, raw_len) == base_get_be64(h + 9);
    it->p = raw;
    it->end = raw + raw_len;
    it->first = it->cur = first;
    it->left = count;
    return FACTDB_OK;
}

/* The next entry: 1 with *id, *s, *len and *ok (0: it does not match its hash or its block its checksum; for
 * format 1 always 1, the hash index is checked apart), 0 at the end of the column, or an error. */
static int iter_next(dict_iter *it, uint32_t *id, const char **s, size_t *len, int *ok, factdb_error *err)
{
    store_env *env = it->t->env;
    int rc;
    if (it->form != 3) {
        if ((rc = iter_step(it, err)) != 1)
            return rc;
        *id = iter_key_id(it);
        if (it->form == 2) {
            if (!store_val_ok(&it->mb, &it->v) || it->v.mv_size < 8 || it->v.mv_size - 8 > FACTDB_TEXT_MAX)
                return damaged_string(env, it->table, it->col, *id, err);
            *s = (const char *)it->v.mv_data + 8;
            *len = it->v.mv_size - 8;
            *ok = base_hash(*s, *len) == base_get_be64(it->v.mv_data);
        } else {
            if (!store_val_ok(&it->mb, &it->v) || it->v.mv_size > FACTDB_TEXT_MAX)
                return damaged_string(env, it->table, it->col, *id, err);
            *s = it->v.mv_data;
            *len = it->v.mv_size;
            *ok = 1;
        }
        return 1;
    }
    for (;;) {
        while (!it->left) {
            if ((rc = iter_step(it, err)) != 1)
                return rc;
            if ((rc = iter_block(it, err)))
                return rc;
            if (it->first > it->next_id)
                it->next_id = it->first;  /* entries are missing: the caller sees the jump */
        }
        uint32_t l;
        if (get_leb128(&it->p, it->end, &l) || (size_t)(it->end - it->p) < l ||
            (it->left == 1 && (size_t)(it->end - it->p) != l))
            return block_damaged(env, it->table, it->col, it->first,
                                 it->block_ok ? "is damaged" : "does not match its checksum", err);
        *s = (const char *)it->p;
        *len = l;
        it->p += l;
        it->left--;
        *id = it->cur++;
        if (*id < it->next_id)
            continue;  /* before where the iterator was opened */
        it->next_id = *id + 1;
        *ok = it->block_ok;
        return 1;
    }
}

/* ---- the in-memory strings: the process cache, private copies, and the strings behind an index ---- */

static char *arena_copy(store_dict *d, const void *s, size_t len)
{
    arena_block *b = d->arena;
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = MAX((size_t)ARENA_BLOCK, len + 1);
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = d->arena;
        d->arena = b;
    }
    char *p = b->data + b->used;
    if (len)
        memcpy(p, s, len);
    p[len] = 0;
    b->used += len + 1;
    return p;
}

/* Copies string `id` into d (not yet counted: the caller publishes d->count). */
static int dict_set(store_dict *d, uint32_t id, const char *str, size_t len)
{
    dict_entry **pg = &d->pages[id >> PAGE_BITS];
    if (!*pg && !(*pg = calloc(PAGE_SIZE, sizeof **pg)))
        return FACTDB_NOMEM;
    char *s = arena_copy(d, str, len);
    if (!s)
        return FACTDB_NOMEM;
    (*pg)[id & (PAGE_SIZE - 1)] = (dict_entry){s, (uint32_t)len};
    return FACTDB_OK;
}

static store_dict *dict_new(uint32_t table_id, uint16_t col, int form)
{
    store_dict *d = calloc(1, sizeof *d);
    if (d && !(d->pages = calloc(TOP_SIZE, sizeof *d->pages))) {
        free(d);
        d = NULL;
    }
    if (d) {
        d->table = table_id;
        d->col = col;
        d->form = form;
    }
    return d;
}

static void dict_free(store_dict *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < TOP_SIZE; i++)
        free(d->pages[i]);
    free(d->pages);
    arena_block *b = d->arena;
    while (b) {
        arena_block *n = b->next;
        free(b);
        b = n;
    }
    free(d);
}

/* Strings carry no checksum of their own in format 1, but the hash index holds the XXH3-64 of each: entries
 * have..count-1 (hashes[i] computed from entry have+i) must each find their (hash, id) key. Few new
 * entries are looked up one by one; many are matched in one ordered walk of the column's hash index (a
 * B-tree lookup per entry cost 1.5 s for 1M strings, the walk a fraction of that). */
static int dict_verify(store_txn *t, uint32_t table_id, uint16_t col, uint32_t have, uint32_t count,
                       const uint64_t *hashes, factdb_error *err)
{
    store_env *env = t->env;
    uint32_t n = count - have, bad = UINT32_MAX;
    if (n < 1024 && (uint64_t)n * 16 < count) {
        for (uint32_t i = 0; i < n && bad == UINT32_MAX; i++) {
            unsigned char hk[18];
            hash_key(hk, table_id, col, hashes[i], have + i);
            MDB_val hkv = {18, hk}, hv;
            if (mdb_get(t->txn, env->dhash, &hkv, &hv) != 0)
                bad = have + i;
        }
    } else {
        unsigned char *seen = calloc(n, 1);
        MDB_cursor *c;
        if (!seen)
            return base_err(err, FACTDB_NOMEM, "out of memory verifying a dictionary");
        int rc = mdb_cursor_open(t->txn, env->dhash, &c);
        if (rc) {
            free(seen);
            return store_mdb_err(err, rc, "cannot read a dictionary");
        }
        unsigned char prefix[18];
        hash_key(prefix, table_id, col, 0, 0);
        MDB_val k = {6, prefix}, v;
        int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        while (mrc == 0 && k.mv_size == 18 && memcmp(k.mv_data, prefix, 6) == 0) {
            const unsigned char *kp = k.mv_data;
            uint32_t id = base_get_be32(kp + 14);
            if (id >= have && id < count && hashes[id - have] == base_get_be64(kp + 6))
                seen[id - have] = 1;
            mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(c);
        for (uint32_t i = 0; i < n && bad == UINT32_MAX; i++)
            if (!seen[i])
                bad = have + i;
        free(seen);
        if (mrc && mrc != MDB_NOTFOUND)
            return store_mdb_err(err, mrc, "cannot read a dictionary");
    }
    if (bad != UINT32_MAX)
        return entry_damaged(env, table_id, col, bad, err);
    return FACTDB_OK;
}

/* The damage an entry that fails its check is: format 3 names its block. */
static int not_matching(const dict_iter *it, uint32_t id, factdb_error *err)
{
    if (it->form == 3)
        return block_damaged(it->t->env, it->table, it->col, it->first, "does not match its checksum", err);
    return entry_damaged(it->t->env, it->table, it->col, id, err);
}

/* Calls fn for entries from..count-1 of a column as t sees them, in id order, each verified (its hash, or
 * its block's checksum; format 1 is matched with its hash index apart): CORRUPT when one does not match or
 * is missing. fn returns 0, or an error code it has set in err. */
static int read_entries(store_txn *t, uint32_t table_id, uint16_t col, int form, uint32_t from, uint32_t count,
                        int (*fn)(void *ctx, uint32_t id, const char *s, size_t len, factdb_error *err), void *ctx,
                        factdb_error *err)
{
    dict_iter it;
    int rc = iter_open(&it, t, table_id, col, form, from, err);
    uint32_t id = from;
    while (!rc && id < count) {
        uint32_t eid;
        const char *str;
        size_t len;
        int ok, got = iter_next(&it, &eid, &str, &len, &ok, err);
        if (got != 1 || eid != id) {
            rc = got < 0 ? got : FACTDB_OK;
            break;  /* an id is missing: reported below */
        }
        if (!ok)
            rc = not_matching(&it, id, err);
        else if (!(rc = fn(ctx, id, str, len, err)))
            id++;
    }
    iter_close(&it);
    if (!rc && id < count)
        rc = entry_missing(t->env, table_id, col, id, count, err);
    return rc;
}

typedef struct fill_ctx {
    store_dict *d;
    uint64_t *hashes;  /* format 1: entry have + i's hash at i */
    uint32_t have;
} fill_ctx;

static int fill_entry(void *ctx, uint32_t id, const char *s, size_t len, factdb_error *err)
{
    fill_ctx *f = ctx;
    if (f->hashes)
        f->hashes[id - f->have] = base_hash(s, len);
    return dict_set(f->d, id, s, len) ? base_err(err, FACTDB_NOMEM, "out of memory caching a dictionary") : 0;
}

/* Loads entries have..count-1 of d's column from snapshot t into d, verified. */
static int dict_fill(store_txn *t, store_dict *d, uint32_t count, factdb_error *err)
{
    store_env *env = t->env;
    uint32_t table_id = d->table;
    uint16_t col = d->col;
    uint32_t have = atomic_load_explicit(&d->count, memory_order_relaxed);
    if (have >= count)
        return FACTDB_OK;
    /* the count comes from the table's record, which has no checksum: bound it by what exists (a block holds
     * at most BLOCK_RAW_TARGET strings) */
    MDB_stat ms;
    uint64_t most = d->form == 3 ? (uint64_t)BLOCK_RAW_TARGET : 1;
    if (mdb_stat(t->txn, env->dstr, &ms) == 0 && count - have > ms.ms_entries * most)
        return base_err(err, FACTDB_CORRUPT, DICT_DAMAGED "the dictionary of column %u of table %u claims %u "
                        "entries but the file holds %zu strings in all" DICT_RESTORE, env->path, (unsigned)col,
                        table_id, count, ms.ms_entries);
    /* format 1 collects the hashes to match them with the hash index afterwards */
    uint64_t *hashes = d->form != 1 ? NULL : malloc((size_t)(count - have) * sizeof *hashes);
    if (d->form == 1 && !hashes)
        return base_err(err, FACTDB_NOMEM, "out of memory caching a dictionary");
    fill_ctx f = {d, hashes, have};
    int rc = read_entries(t, table_id, col, d->form, have, count, fill_entry, &f, err);
    if (!rc && hashes)
        rc = dict_verify(t, table_id, col, have, count, hashes, err);
    free(hashes);
    /* Entries past `have` may be filled, but only a verified count is published to readers. */
    if (!rc)
        atomic_store_explicit(&d->count, count, memory_order_release);
    return rc;
}

int store_dict_cached(store_txn *t, uint32_t table_id, uint16_t col, int form, uint32_t count, store_dict **out,
                      factdb_error *err)
{
    store_env *env = t->env;
    int rc = FACTDB_OK;
    pthread_mutex_lock(&env->dict_mu);
    store_dict *d;
    for (d = env->dicts; d; d = d->next)
        if (d->table == table_id && d->col == col)
            break;
    if (!d) {
        if (!(d = dict_new(table_id, col, form))) {
            rc = base_err(err, FACTDB_NOMEM, "out of memory caching a dictionary");
            goto out;
        }
        d->next = env->dicts;
        env->dicts = d;
    }
    rc = dict_fill(t, d, count, err);
out:
    pthread_mutex_unlock(&env->dict_mu);
    *out = rc ? NULL : d;
    return rc;
}

int store_dict_private(store_txn *t, uint32_t table_id, uint16_t col, int form, uint32_t count, store_dict **out,
                       factdb_error *err)
{
    *out = NULL;
    store_dict *d = dict_new(table_id, col, form);
    if (!d)
        return base_err(err, FACTDB_NOMEM, "out of memory reading a dictionary");
    int rc = dict_fill(t, d, count, err);
    if (rc) {
        dict_free(d);
        return rc;
    }
    *out = d;
    return FACTDB_OK;
}

void store_dict_private_free(store_dict *d) { dict_free(d); }

const char *store_dict_str(store_dict *d, uint32_t id, size_t *len)
{
    if (id >= atomic_load_explicit(&d->count, memory_order_acquire))
        return NULL;
    dict_entry *pg = d->pages[id >> PAGE_BITS];
    if (!pg || !pg[id & (PAGE_SIZE - 1)].s)
        return NULL;
    *len = pg[id & (PAGE_SIZE - 1)].len;
    return pg[id & (PAGE_SIZE - 1)].s;
}

/* ---- the in-memory index of a format-2 or format-3 column ----
 * Open addressing over 64-bit slots: the hash's high 32 bits, then id + 1 (0 = empty). The slot comes from
 * the high bits too, so growing rehashes without reading the strings again. Ids stay below UINT32_MAX - 1
 * (the appender's limit), so id + 1 never wraps. A candidate is confirmed against its string: in `strs`,
 * the process's cache of the column, for the shared index (which holds only committed entries); in the
 * index's own compact copy for an index private to a transaction (made for each statement inside BEGIN ...
 * COMMIT, so it must cost little for a small dictionary: a store_dict allocates megabytes up front). */
struct store_dict_index {
    store_dict_index *next;  /* the environment's list of shared indexes */
    uint32_t table;
    uint16_t col;
    int form;
    uint32_t count;  /* entries 0..count-1 are indexed */
    uint32_t scans;  /* lookups answered by a scan instead (scan_find) */
    uint64_t n, nslots;
    uint64_t *slots;
    store_dict *strs;        /* the shared index's strings */
    bool own;                /* a private index: string id is bytes[off[id]..off[id] + len[id]) */
    char *bytes;
    size_t blen, bcap, ocap;
    uint64_t *off;
    uint32_t *len;
};

#define INDEX_MIN_SLOTS 1024u
#define SCAN_MAX_ITEMS 64
#define SCAN_MIN_ENTRIES 65536u

void store_dict_index_free(store_dict_index *ix)
{
    if (ix) {
        free(ix->slots);
        free(ix->bytes);
        free(ix->off);
        free(ix->len);
    }
    free(ix);
}

/* String id of the index's column (NULL when it has none). */
static const char *index_str(const store_dict_index *ix, uint32_t id, size_t *len)
{
    if (!ix->own)
        return ix->strs ? store_dict_str(ix->strs, id, len) : NULL;
    if (id >= ix->count)
        return NULL;
    *len = ix->len[id];
    return ix->bytes ? ix->bytes + ix->off[id] : "";
}

/* Keeps string `id` (the next one) in a private index's copy. */
static int index_keep(store_dict_index *ix, uint32_t id, const char *s, size_t len)
{
    if (id >= ix->ocap) {
        size_t nc = MAX((size_t)64, MAX(ix->ocap * 2, (size_t)id + 1));
        uint64_t *o = realloc(ix->off, nc * sizeof *o);
        if (o)
            ix->off = o;
        uint32_t *l = o ? realloc(ix->len, nc * sizeof *l) : NULL;
        if (!l)
            return FACTDB_NOMEM;
        ix->len = l;
        ix->ocap = nc;
    }
    if (len > ix->bcap - ix->blen) {
        size_t nc = MAX((size_t)1024, MAX(ix->bcap * 2, ix->blen + len));
        char *b = realloc(ix->bytes, nc);
        if (!b)
            return FACTDB_NOMEM;
        ix->bytes = b;
        ix->bcap = nc;
    }
    if (len)
        memcpy(ix->bytes + ix->blen, s, len);
    ix->off[id] = ix->blen;
    ix->len[id] = (uint32_t)len;
    ix->blen += len;
    return FACTDB_OK;
}

static int keep_entry(void *ctx, uint32_t id, const char *s, size_t len, factdb_error *err)
{
    return index_keep(ctx, id, s, len) ? base_err(err, FACTDB_NOMEM, "out of memory indexing a dictionary") : 0;
}

/* A private index reads entries ix->count..count-1 as t sees them into its copy, verified. */
static int index_read(store_txn *t, store_dict_index *ix, uint32_t count, factdb_error *err)
{
    return read_entries(t, ix->table, ix->col, ix->form, ix->count, count, keep_entry, ix, err);
}

static uint64_t index_pos(const store_dict_index *ix, uint64_t h) { return (h >> 32) & (ix->nslots - 1); }

static int index_grow(store_dict_index *ix, uint64_t want)
{
    if (want * 10 <= ix->nslots * 7)
        return FACTDB_OK;
    uint64_t ns = ix->nslots ? ix->nslots : INDEX_MIN_SLOTS;
    while (want * 10 > ns * 7)
        ns *= 2;
    uint64_t *sl = calloc(ns, sizeof *sl);
    if (!sl)
        return FACTDB_NOMEM;
    for (uint64_t i = 0; i < ix->nslots; i++) {
        uint64_t e = ix->slots[i];
        if (!e)
            continue;
        uint64_t p = (e >> 32) & (ns - 1);
        while (sl[p])
            p = (p + 1) & (ns - 1);
        sl[p] = e;
    }
    free(ix->slots);
    ix->slots = sl;
    ix->nslots = ns;
    return FACTDB_OK;
}

static void index_put(store_dict_index *ix, uint64_t h, uint32_t id)
{
    uint64_t p = index_pos(ix, h);
    while (ix->slots[p])
        p = (p + 1) & (ix->nslots - 1);
    ix->slots[p] = (h >> 32) << 32 | ((uint64_t)id + 1);
    ix->n++;
}

static int index_new(uint32_t table_id, uint16_t col, int form, bool priv, store_dict_index **out,
                     factdb_error *err)
{
    store_dict_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return base_err(err, FACTDB_NOMEM, "out of memory indexing a dictionary");
    ix->table = table_id;
    ix->col = col;
    ix->form = form;
    ix->own = priv;
    *out = ix;
    return FACTDB_OK;
}

/* Indexes the entries from the index's count up to `count` as t sees them: loads (and so verifies) them into
 * the index's strings first. */
static int index_sync(store_txn *t, store_dict_index *ix, uint32_t count, factdb_error *err)
{
    if (ix->count >= count)
        return FACTDB_OK;
    if (index_grow(ix, ix->n + (count - ix->count)))
        return base_err(err, FACTDB_NOMEM, "out of memory indexing a dictionary");
    if (ix->own) {
        uint32_t from = ix->count;
        int rc = index_read(t, ix, count, err);
        if (rc)
            return rc;
        for (uint32_t id = from; id < count; id++) {
            index_put(ix, base_hash(ix->bytes ? ix->bytes + ix->off[id] : "", ix->len[id]), id);
            ix->count = id + 1;
        }
        return FACTDB_OK;
    }
    int rc = store_dict_cached(t, ix->table, ix->col, ix->form, count, &ix->strs, err);
    if (rc)
        return rc;
    for (uint32_t id = ix->count; id < count; id++) {
        size_t len;
        const char *s = store_dict_str(ix->strs, id, &len);
        if (!s)
            return entry_missing(t->env, ix->table, ix->col, id, count, err);
        index_put(ix, base_hash(s, len), id);
        ix->count = id + 1;
    }
    return FACTDB_OK;
}

int store_dict_index_add(store_dict_index *ix, const store_dict_item *items, size_t n, factdb_error *err)
{
    if (!n || !ix->own || items[0].id != ix->count)
        return FACTDB_OK;  /* not next to what is indexed: the next sync reads them */
    if (index_grow(ix, ix->n + n))
        return base_err(err, FACTDB_NOMEM, "out of memory indexing a dictionary");
    for (size_t i = 0; i < n; i++) {
        if (items[i].id != ix->count || index_keep(ix, items[i].id, items[i].s, items[i].len))
            break;
        index_put(ix, items[i].hash, items[i].id);
        ix->count = items[i].id + 1;
    }
    return FACTDB_OK;
}

/* Looks each string up in the index; a candidate is confirmed by its string. */
static void index_find(store_dict_index *ix, store_dict_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        store_dict_item *it = &items[i];
        it->id = UINT32_MAX;
        if (!ix->nslots)
            continue;
        uint64_t tag = it->hash >> 32;
        for (uint64_t p = index_pos(ix, it->hash); ix->slots[p]; p = (p + 1) & (ix->nslots - 1)) {
            if (ix->slots[p] >> 32 != tag)
                continue;
            uint32_t cand = (uint32_t)(ix->slots[p] & 0xFFFFFFFFu) - 1;
            size_t len;
            const char *s = index_str(ix, cand, &len);
            if (s && len == it->len && (len == 0 || memcmp(s, it->s, len) == 0)) {
                it->id = cand;
                break;
            }
        }
    }
}

/* Finds a few strings by one pass over the entries 0..count-1 (verifying each, as a sync would), without
 * building an index: sequential reads, where an index costs a random write per entry (an INSERT of one row
 * into a column of 4M strings: 0.15 s instead of 0.9 s). */
typedef struct scan_ctx {
    store_dict_item *items;
    const hash_order *o;  /* the items by hash */
    size_t n;
} scan_ctx;

/* Gives entry id to the items that are its string. */
static int scan_entry(void *ctx, uint32_t id, const char *s, size_t len, factdb_error *err)
{
    const scan_ctx *c = ctx;
    uint64_t h = base_hash(s, len);
    size_t lo = 0, hi = c->n;  /* the first item whose hash is >= h */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->o[mid].h < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < c->n && c->o[lo].h == h; lo++) {
        store_dict_item *x = &c->items[c->o[lo].i];
        if (x->id == UINT32_MAX && x->len == len && (len == 0 || memcmp(x->s, s, len) == 0))
            x->id = id;
    }
    return 0;
}

static int scan_find(store_txn *t, uint32_t table_id, uint16_t col, int form, uint32_t count,
                     store_dict_item *items, size_t n, factdb_error *err)
{
    hash_order *o = sorted_by_hash(items, n);
    if (!o)
        return base_err(err, FACTDB_NOMEM, "out of memory looking up dictionary strings");
    for (size_t i = 0; i < n; i++)
        items[i].id = UINT32_MAX;
    scan_ctx c = {items, o, n};
    int rc = read_entries(t, table_id, col, form, 0, count, scan_entry, &c, err);
    free(o);
    return rc;
}

/* A few strings against many entries not indexed yet are found by a scan, until the index's holder shows (a
 * second time) that it keeps writing to the column; else the index is brought up to `count` and asked. */
static int index_lookup(store_txn *t, store_dict_index *ix, uint32_t count, store_dict_item *items, size_t n,
                        factdb_error *err)
{
    if (n <= SCAN_MAX_ITEMS && count > ix->count && count - ix->count > SCAN_MIN_ENTRIES && ix->scans < 1) {
        ix->scans++;
        return scan_find(t, ix->table, ix->col, ix->form, count, items, n, err);
    }
    int rc = index_sync(t, ix, count, err);
    if (!rc)
        index_find(ix, items, n);
    return rc;
}

int store_dict_find_indexed(store_txn *t, uint32_t table_id, uint16_t col, int form, store_dict_index **priv,
                            uint32_t count, store_dict_item *items, size_t n, factdb_error *err)
{
    store_env *env = t->env;
    int rc = FACTDB_OK;
    if (priv) {
        if (!*priv && (rc = index_new(table_id, col, form, true, priv, err)))
            return rc;
        return index_lookup(t, *priv, count, items, n, err);
    }
    /* One index per column for the whole process: building it reads every entry (0.5 s for 4M strings), which
     * an INSERT of one row per statement or request must not pay each time. Lookups hold the lock: the index
     * may grow under another writer's sync. */
    pthread_mutex_lock(&env->dict_ix_mu);
    store_dict_index *ix;
    for (ix = env->dict_ixs; ix; ix = ix->next)
        if (ix->table == table_id && ix->col == col)
            break;
    if (!ix && !(rc = index_new(table_id, col, form, false, &ix, err))) {
        ix->next = env->dict_ixs;
        env->dict_ixs = ix;
    }
    if (!rc)
        rc = index_lookup(t, ix, count, items, n, err);
    pthread_mutex_unlock(&env->dict_ix_mu);
    return rc;
}

/* ---- trimming, dropping, walking ---- */

/* Format 3: deletes the blocks from id `from` on; a block that starts before it keeps its first strings. */
static int trim_blocks(store_txn *t, uint32_t table_id, uint16_t col, uint32_t from, factdb_error *err)
{
    dict_iter it;
    int rc = iter_open(&it, t, table_id, col, 3, from, err);
    if (rc)
        return rc;
    store_dict_item *keep = NULL;
    size_t nkeep = 0;
    base_buf bytes;
    base_buf_init(&bytes, SIZE_MAX);
    uint32_t start = from;
    if (iter_in_column(&it) && iter_key_id(&it) < from) {
        /* the block straddles `from`: copy its strings before it (lengths now, pointers once bytes stop moving) */
        start = iter_key_id(&it);
        if (!(rc = iter_block(&it, err)) && !(keep = calloc(from - start, sizeof *keep)))
            rc = base_err(err, FACTDB_NOMEM, "out of memory trimming a dictionary");
        while (!rc && nkeep < from - start) {
            uint32_t l = 0;
            if (get_leb128(&it.p, it.end, &l) || (size_t)(it.end - it.p) < l)
                rc = block_damaged(t->env, table_id, col, start, "is damaged", err);
            else if (base_buf_append(&bytes, it.p, l))
                rc = base_err(err, FACTDB_NOMEM, "out of memory trimming a dictionary");
            else {
                keep[nkeep] = (store_dict_item){NULL, l, start + (uint32_t)nkeep, 0};
                nkeep++;
            }
            it.p += rc ? 0 : l;
        }
    }
    iter_close(&it);
    MDB_cursor *c = NULL;
    int mrc = rc ? 0 : mdb_cursor_open(t->txn, t->env->dstr, &c);
    while (!rc && !mrc) {
        unsigned char sk[10];
        str_key(sk, table_id, col, start);
        MDB_val k = {10, sk}, v;
        if ((mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) || k.mv_size != 10 || memcmp(k.mv_data, sk, 6) != 0)
            break;
        mrc = mdb_cursor_del(c, 0);
    }
    if (c)
        mdb_cursor_close(c);
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = store_mdb_err(err, mrc, "cannot trim a dictionary");
    size_t off = 0;
    for (size_t i = 0; i < nkeep; i++) {
        keep[i].s = bytes.data ? (const char *)bytes.data + off : "";
        off += keep[i].len;
    }
    if (!rc && nkeep)
        rc = add_blocks(t, table_id, col, keep, nkeep, err);
    free(keep);
    base_buf_cleanup(&bytes);
    return rc;
}

int store_dict_trim(store_txn *t, uint32_t table_id, uint16_t col, int form, uint32_t from, factdb_error *err)
{
    t->fresh = false;
    if (form == 3)
        return trim_blocks(t, table_id, col, from, err);
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->dstr, &c);
    if (rc)
        return store_mdb_err(err, rc, "cannot trim a dictionary");
    for (;;) {
        unsigned char sk[10];
        str_key(sk, table_id, col, from);
        MDB_val k = {10, sk}, v;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc || k.mv_size != 10 || memcmp(k.mv_data, sk, 6) != 0)
            break;
        if (form == 1) {
            unsigned char hk[18];
            hash_key(hk, table_id, col, base_hash(v.mv_data, v.mv_size),
                     base_get_be32((const unsigned char *)k.mv_data + 6));
            MDB_val hkv = {18, hk};
            rc = mdb_del(t->txn, t->env->dhash, &hkv, NULL);
            if (rc && rc != MDB_NOTFOUND)
                break;
        }
        if ((rc = mdb_cursor_del(c, 0)))
            break;
    }
    mdb_cursor_close(c);
    return rc && rc != MDB_NOTFOUND ? store_mdb_err(err, rc, "cannot trim a dictionary") : FACTDB_OK;
}

int store_dict_drop(store_txn *t, uint32_t table_id, uint16_t col, factdb_error *err)
{
    unsigned char p[6];
    base_put_be32(p, table_id);
    base_put_be16(p + 4, col);
    int rc = store_delete_prefix(t, t->env->dstr, p, 6, err);
    return rc ? rc : store_delete_prefix(t, t->env->dhash, p, 6, err);
}

int store_dict_each(store_txn *t, uint32_t table_id, uint16_t col, int form,
                    int (*fn)(void *ctx, uint32_t id, const char *s, size_t len, int hashed), void *ctx,
                    factdb_error *err)
{
    dict_iter it;
    int rc = iter_open(&it, t, table_id, col, form, 0, err);
    while (!rc) {
        uint32_t id;
        const char *str;
        size_t len;
        int hashed, got = iter_next(&it, &id, &str, &len, &hashed, err);
        if (got != 1) {
            rc = got;
            break;
        }
        if (form == 1) {
            unsigned char hk[18];
            hash_key(hk, table_id, col, base_hash(str, len), id);
            MDB_val hkv = {18, hk}, hv;
            hashed = mdb_get(t->txn, t->env->dhash, &hkv, &hv) == 0;
        }
        rc = fn(ctx, id, str, len, hashed);
    }
    iter_close(&it);
    return rc;
}

void store_env_dicts_free(store_env *env)
{
    store_dict *d = env->dicts;
    while (d) {
        store_dict *next = d->next;
        dict_free(d);
        d = next;
    }
    env->dicts = NULL;
    store_dict_index *ix = env->dict_ixs;
    while (ix) {
        store_dict_index *next = ix->next;
        store_dict_index_free(ix);
        ix = next;
    }
    env->dict_ixs = NULL;
}
