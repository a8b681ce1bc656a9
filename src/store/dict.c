/* dict.c: TEXT dictionaries. Per column, append-only id -> string entries (dict_str). A column created
 * before dictionary format 2 also has a hash -> id index (dict_hash; strings are never LMDB keys: they may
 * be empty or longer than 511 bytes). A format-2 column (STORE_COL_DICT_INLINE_HASH) has no hash index:
 * each entry carries the string's hash before its bytes, and writers look strings up in an in-memory index
 * (store_dict_index) built from the entries. Each process caches the published entries of a column in
 * memory; published entries never change, so the cache only ever grows and readers use it without locks. */
#include "store_int.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_BITS 16
#define PAGE_SIZE (1u << PAGE_BITS)
#define TOP_SIZE (1u << (32 - PAGE_BITS))
#define ARENA_BLOCK (1u << 20)

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
    bool inline_hash;        /* format 2: each entry is the string's XXH3-64 (u64 BE), then its bytes */
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

int store_dict_add(store_txn *t, uint32_t table_id, uint16_t col, bool inline_hash, const store_dict_item *items,
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

/* ---- the in-memory index of a format-2 column ----
 * Open addressing over 64-bit slots: the hash's high 32 bits, then id + 1 (0 = empty). The slot comes from
 * the high bits too, so growing rehashes without reading the strings again. Ids of format-2 columns stay
 * below UINT32_MAX - 1 (the appender's limit), so id + 1 never wraps. */
struct store_dict_index {
    store_dict_index *next;  /* the environment's list of shared indexes */
    uint32_t table;
    uint16_t col;
    uint32_t count;  /* entries 0..count-1 are indexed */
    uint32_t scans;  /* lookups answered by a scan instead (scan_find) */
    uint64_t n, nslots;
    uint64_t *slots;
};

#define INDEX_MIN_SLOTS 1024u
#define SCAN_MAX_ITEMS 64
#define SCAN_MIN_ENTRIES 65536u

void store_dict_index_free(store_dict_index *ix)
{
    if (ix)
        free(ix->slots);
    free(ix);
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

static int index_new(uint32_t table_id, uint16_t col, store_dict_index **out, factdb_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return base_err(err, FACTDB_NOMEM, "out of memory indexing a dictionary");
    (*out)->table = table_id;
    (*out)->col = col;
    return FACTDB_OK;
}

/* A format-2 entry: the hash it carries and its string, bounds-checked against the map. */
static int inline_entry(const store_map_bounds *mb, const MDB_val *v, uint64_t *h, const char **s, size_t *len)
{
    if (!store_val_ok(mb, v) || v->mv_size < 8 || v->mv_size - 8 > FACTDB_TEXT_MAX)
        return -1;
    *h = base_get_be64(v->mv_data);
    *s = (const char *)v->mv_data + 8;
    *len = v->mv_size - 8;
    return 0;
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

/* Indexes the entries from the index's count up to `count` as t sees them, verifying each one's hash
 * (CORRUPT when an entry is missing or does not match; the entries before it stay indexed). */
static int index_sync(store_txn *t, store_dict_index *ix, uint32_t count, factdb_error *err)
{
    if (ix->count >= count)
        return FACTDB_OK;
    store_env *env = t->env;
    if (index_grow(ix, ix->n + (count - ix->count)))
        return base_err(err, FACTDB_NOMEM, "out of memory indexing a dictionary");
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, env->dstr, &c);
    if (rc)
        return store_mdb_err(err, rc, "cannot read a dictionary");
    unsigned char sk[10];
    str_key(sk, ix->table, ix->col, ix->count);
    MDB_val k = {10, sk}, v;
    store_map_bounds mb;
    store_map_bounds_get(env, &mb);
    uint32_t id = ix->count;
    int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    rc = FACTDB_OK;
    while (mrc == 0 && id < count && k.mv_size == 10 && memcmp(k.mv_data, sk, 6) == 0 &&
           base_get_be32((const unsigned char *)k.mv_data + 6) == id) {
        uint64_t h;
        const char *str;
        size_t len;
        /* a damaged hash would make the string look new and give it a second id: verify each one */
        if (inline_entry(&mb, &v, &h, &str, &len) || base_hash(str, len) != h) {
            rc = entry_damaged(env, ix->table, ix->col, id, err);
            break;
        }
        index_put(ix, h, id);
        id++;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = store_mdb_err(err, mrc, "cannot read a dictionary");
    if (!rc && id < count)
        rc = entry_missing(env, ix->table, ix->col, id, count, err);
    ix->count = id;
    return rc;
}

int store_dict_index_add(store_dict_index *ix, const store_dict_item *items, size_t n, factdb_error *err)
{
    if (!n || items[0].id != ix->count)
        return FACTDB_OK;  /* not next to what is indexed: the next sync reads them */
    if (index_grow(ix, ix->n + n))
        return base_err(err, FACTDB_NOMEM, "out of memory indexing a dictionary");
    for (size_t i = 0; i < n; i++)
        index_put(ix, items[i].hash, items[i].id);
    ix->count = items[n - 1].id + 1;
    return FACTDB_OK;
}

/* Looks each string up in the index; a candidate is confirmed by its entry in t. */
static int index_find(store_txn *t, store_dict_index *ix, store_dict_item *items, size_t n, factdb_error *err)
{
    store_map_bounds mb;
    store_map_bounds_get(t->env, &mb);
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
            unsigned char sk[10];
            str_key(sk, ix->table, ix->col, cand);
            MDB_val skv = {10, sk}, sv;
            int rc = mdb_get(t->txn, t->env->dstr, &skv, &sv);
            if (rc == MDB_NOTFOUND)
                return entry_missing(t->env, ix->table, ix->col, cand, ix->count, err);
            if (rc)
                return store_mdb_err(err, rc, "cannot read a dictionary");
            uint64_t h;
            const char *str;
            size_t len;
            if (inline_entry(&mb, &sv, &h, &str, &len))
                return entry_damaged(t->env, ix->table, ix->col, cand, err);
            if (h == it->hash && len == it->len && (len == 0 || memcmp(str, it->s, len) == 0)) {
                it->id = cand;
                break;
            }
        }
    }
    return FACTDB_OK;
}

/* Finds a few strings by one pass over the entries 0..count-1 (verifying each against its hash, as a sync
 * would), without building an index: sequential reads, where an index costs a random write per entry (an
 * INSERT of one row into a column of 4M strings: 0.15 s instead of 0.9 s). */
static int scan_find(store_txn *t, uint32_t table_id, uint16_t col, uint32_t count, store_dict_item *items,
                     size_t n, factdb_error *err)
{
    store_env *env = t->env;
    hash_order *o = sorted_by_hash(items, n);
    if (!o)
        return base_err(err, FACTDB_NOMEM, "out of memory looking up dictionary strings");
    for (size_t i = 0; i < n; i++)
        items[i].id = UINT32_MAX;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, env->dstr, &c);
    if (rc) {
        free(o);
        return store_mdb_err(err, rc, "cannot read a dictionary");
    }
    unsigned char sk[10];
    str_key(sk, table_id, col, 0);
    MDB_val k = {10, sk}, v;
    store_map_bounds mb;
    store_map_bounds_get(env, &mb);
    uint32_t id = 0;
    int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    rc = FACTDB_OK;
    while (mrc == 0 && id < count && k.mv_size == 10 && memcmp(k.mv_data, sk, 6) == 0 &&
           base_get_be32((const unsigned char *)k.mv_data + 6) == id) {
        uint64_t h;
        const char *str;
        size_t len;
        if (inline_entry(&mb, &v, &h, &str, &len) || base_hash(str, len) != h) {
            rc = entry_damaged(env, table_id, col, id, err);
            break;
        }
        size_t lo = 0, hi = n;  /* the first item whose hash is >= h */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (o[mid].h < h)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < n && o[lo].h == h; lo++) {
            store_dict_item *it = &items[o[lo].i];
            if (it->id == UINT32_MAX && it->len == len && (len == 0 || memcmp(it->s, str, len) == 0))
                it->id = id;
        }
        id++;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    free(o);
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = store_mdb_err(err, mrc, "cannot read a dictionary");
    if (!rc && id < count)
        rc = entry_missing(env, table_id, col, id, count, err);
    return rc;
}

/* A few strings against many entries not indexed yet are found by a scan, until the index's holder shows (a
 * second time) that it keeps writing to the column; else the index is brought up to `count` and asked. */
static int index_lookup(store_txn *t, store_dict_index *ix, uint32_t count, store_dict_item *items, size_t n,
                        factdb_error *err)
{
    if (n <= SCAN_MAX_ITEMS && count > ix->count && count - ix->count > SCAN_MIN_ENTRIES && ix->scans < 1) {
        ix->scans++;
        return scan_find(t, ix->table, ix->col, count, items, n, err);
    }
    int rc = index_sync(t, ix, count, err);
    return rc ? rc : index_find(t, ix, items, n, err);
}

int store_dict_find_inline(store_txn *t, uint32_t table_id, uint16_t col, store_dict_index **priv, uint32_t count,
                           store_dict_item *items, size_t n, factdb_error *err)
{
    store_env *env = t->env;
    int rc = FACTDB_OK;
    if (priv) {
        if (!*priv && (rc = index_new(table_id, col, priv, err)))
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
    if (!ix && !(rc = index_new(table_id, col, &ix, err))) {
        ix->next = env->dict_ixs;
        env->dict_ixs = ix;
    }
    if (!rc)
        rc = index_lookup(t, ix, count, items, n, err);
    pthread_mutex_unlock(&env->dict_ix_mu);
    return rc;
}

int store_dict_trim(store_txn *t, uint32_t table_id, uint16_t col, bool inline_hash, uint32_t from,
                    factdb_error *err)
{
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
        if (!inline_hash) {
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


/* Strings carry no checksum of their own, but the hash index holds the XXH3-64 of each: entries
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
        return base_err(err, FACTDB_CORRUPT, DICT_DAMAGED "entry %u of the dictionary of column %u of table %u does "
                        "not match its hash" DICT_RESTORE, env->path, bad, (unsigned)col, table_id);
    return FACTDB_OK;
}

/* A dictionary string whose stored size runs past the file's pages (a damaged LMDB node). */
static int damaged_string(store_env *env, uint32_t table_id, uint16_t col, uint32_t id, factdb_error *err)
{
    return base_err(err, FACTDB_CORRUPT, DICT_DAMAGED "entry %u of the dictionary of column %u of table %u has a "
                    "size that runs past the end of the file" DICT_RESTORE, env->path, id, (unsigned)col, table_id);
}

/* Loads entries have..count-1 of d's column from snapshot t into d, verified. */
static int dict_fill(store_txn *t, store_dict *d, uint32_t count, factdb_error *err)
{
    store_env *env = t->env;
    uint32_t table_id = d->table;
    uint16_t col = d->col;
    int rc = FACTDB_OK;
    uint32_t have = atomic_load_explicit(&d->count, memory_order_relaxed);
    if (have >= count)
        return FACTDB_OK;
    MDB_stat ms;  /* the count comes from the table's record, which has no checksum: bound it by what exists */
    if (mdb_stat(t->txn, env->dstr, &ms) == 0 && count - have > ms.ms_entries)
        return base_err(err, FACTDB_CORRUPT, DICT_DAMAGED "the dictionary of column %u of table %u claims %u "
                        "entries but the file holds %zu strings in all" DICT_RESTORE, env->path, (unsigned)col,
                        table_id, count, ms.ms_entries);
    /* format 2 verifies each entry against the hash it carries; format 1 collects the hashes to match them
     * with the hash index afterwards */
    uint64_t *hashes = d->inline_hash ? NULL : malloc((size_t)(count - have) * sizeof *hashes);
    if (!d->inline_hash && !hashes)
        return base_err(err, FACTDB_NOMEM, "out of memory caching a dictionary");
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, env->dstr, &c))) {
        free(hashes);
        return store_mdb_err(err, rc, "cannot read a dictionary");
    }
    unsigned char sk[10];
    str_key(sk, table_id, col, have);
    MDB_val k = {10, sk}, v;
    int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    uint32_t id = have;
    store_map_bounds mb;
    store_map_bounds_get(env, &mb);
    while (mrc == 0 && id < count && k.mv_size == 10 && memcmp(k.mv_data, sk, 6) == 0) {
        if (base_get_be32((const unsigned char *)k.mv_data + 6) != id)
            break;  /* an id is missing: reported below */
        const char *str = v.mv_data;
        size_t len = v.mv_size;
        if (d->inline_hash) {
            uint64_t h;
            if (inline_entry(&mb, &v, &h, &str, &len)) {
                rc = damaged_string(env, table_id, col, id, err);
                break;
            }
            if (base_hash(str, len) != h) {
                rc = entry_damaged(env, table_id, col, id, err);
                break;
            }
        } else if (!store_val_ok(&mb, &v) || v.mv_size > FACTDB_TEXT_MAX) {
            rc = damaged_string(env, table_id, col, id, err);
            break;
        } else {
            hashes[id - have] = base_hash(str, len);
        }
        dict_entry **pg = &d->pages[id >> PAGE_BITS];
        if (!*pg && !(*pg = calloc(PAGE_SIZE, sizeof **pg))) {
            rc = base_err(err, FACTDB_NOMEM, "out of memory caching a dictionary");
            break;
        }
        char *s = arena_copy(d, str, len);
        if (!s) {
            rc = base_err(err, FACTDB_NOMEM, "out of memory caching a dictionary");
            break;
        }
        (*pg)[id & (PAGE_SIZE - 1)] = (dict_entry){s, (uint32_t)len};
        id++;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = store_mdb_err(err, mrc, "cannot read a dictionary");
    if (!rc && id < count)
        rc = entry_missing(env, table_id, col, id, count, err);
    if (!rc && !d->inline_hash)
        rc = dict_verify(t, table_id, col, have, count, hashes, err);
    free(hashes);
    /* Entries past `have` may be filled, but only a verified count is published to readers. */
    if (!rc)
        atomic_store_explicit(&d->count, count, memory_order_release);
    return rc;
}

int store_dict_cached(store_txn *t, uint32_t table_id, uint16_t col, bool inline_hash, uint32_t count,
                      store_dict **out, factdb_error *err)
{
    store_env *env = t->env;
    int rc = FACTDB_OK;
    pthread_mutex_lock(&env->dict_mu);
    store_dict *d;
    for (d = env->dicts; d; d = d->next)
        if (d->table == table_id && d->col == col)
            break;
    if (!d) {
        d = calloc(1, sizeof *d);
        if (d)
            d->pages = calloc(TOP_SIZE, sizeof *d->pages);
        if (!d || !d->pages) {
            free(d);
            rc = base_err(err, FACTDB_NOMEM, "out of memory caching a dictionary");
            goto out;
        }
        d->table = table_id;
        d->col = col;
        d->inline_hash = inline_hash;
        d->next = env->dicts;
        env->dicts = d;
    }
    rc = dict_fill(t, d, count, err);
out:
    pthread_mutex_unlock(&env->dict_mu);
    *out = rc ? NULL : d;
    return rc;
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

int store_dict_private(store_txn *t, uint32_t table_id, uint16_t col, bool inline_hash, uint32_t count,
                       store_dict **out, factdb_error *err)
{
    *out = NULL;
    store_dict *d = calloc(1, sizeof *d);
    if (d)
        d->pages = calloc(TOP_SIZE, sizeof *d->pages);
    if (!d || !d->pages) {
        free(d);
        return base_err(err, FACTDB_NOMEM, "out of memory reading a dictionary");
    }
    d->table = table_id;
    d->col = col;
    d->inline_hash = inline_hash;
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

int store_dict_each(store_txn *t, uint32_t table_id, uint16_t col, bool inline_hash,
                    int (*fn)(void *ctx, uint32_t id, const char *s, size_t len, int hashed), void *ctx,
                    factdb_error *err)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->dstr, &c);
    if (rc)
        return store_mdb_err(err, rc, "cannot read a dictionary");
    unsigned char sk[10];
    str_key(sk, table_id, col, 0);
    MDB_val k = {10, sk}, v;
    int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    store_map_bounds mb;
    store_map_bounds_get(t->env, &mb);
    while (mrc == 0 && k.mv_size == 10 && memcmp(k.mv_data, sk, 6) == 0) {
        uint32_t id = base_get_be32((const unsigned char *)k.mv_data + 6);
        const char *str = v.mv_data;
        size_t len = v.mv_size;
        int hashed;
        if (inline_hash) {
            uint64_t h;
            if (inline_entry(&mb, &v, &h, &str, &len)) {
                rc = damaged_string(t->env, table_id, col, id, err);
                break;
            }
            hashed = base_hash(str, len) == h;
        } else {
            if (!store_val_ok(&mb, &v) || v.mv_size > FACTDB_TEXT_MAX) {
                rc = damaged_string(t->env, table_id, col, id, err);
                break;
            }
            unsigned char hk[18];
            hash_key(hk, table_id, col, base_hash(str, len), id);
            MDB_val hkv = {18, hk}, hv;
            hashed = mdb_get(t->txn, t->env->dhash, &hkv, &hv) == 0;
        }
        if ((rc = fn(ctx, id, str, len, hashed)))
            break;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = store_mdb_err(err, mrc, "cannot read a dictionary");
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
