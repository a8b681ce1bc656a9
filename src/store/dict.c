/* dict.c: TEXT dictionaries. Per column, append-only id -> string entries (dict_str) and a
 * hash -> id index (dict_hash; strings are never LMDB keys: they may be empty or longer than 511
 * bytes). Each process caches the published entries of a column in memory; published entries never
 * change, so the cache only ever grows and readers use it without locks. */
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

int store_dict_add(store_txn *t, uint32_t table_id, uint16_t col, const store_dict_item *items, size_t n,
                   factdb_error *err)
{
    if (!n)
        return FACTDB_OK;
    hash_order *o = sorted_by_hash(items, n);
    if (!o)
        return base_err(err, FACTDB_NOMEM, "out of memory extending a dictionary");
    MDB_cursor *c = NULL;
    int rc = mdb_cursor_open(t->txn, t->env->dstr, &c);
    /* Ids ascend, so the strings append at the end of the column's range; MDB_APPEND is valid only at the end
     * of the whole database (no later table or column), so it is tried until it is refused once. */
    unsigned append = MDB_APPEND;
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char sk[10];
        str_key(sk, table_id, col, items[i].id);
        MDB_val skv = {10, sk}, sv = {items[i].len, (void *)items[i].s};
        if ((rc = mdb_cursor_put(c, &skv, &sv, append)) == MDB_KEYEXIST && append) {
            append = 0;
            rc = mdb_cursor_put(c, &skv, &sv, 0);
        }
    }
    if (c)
        mdb_cursor_close(c);
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

int store_dict_trim(store_txn *t, uint32_t table_id, uint16_t col, uint32_t from, factdb_error *err)
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
        unsigned char hk[18];
        hash_key(hk, table_id, col, base_hash(v.mv_data, v.mv_size),
                 base_get_be32((const unsigned char *)k.mv_data + 6));
        MDB_val hkv = {18, hk};
        rc = mdb_del(t->txn, t->env->dhash, &hkv, NULL);
        if (rc && rc != MDB_NOTFOUND)
            break;
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

/* Loads entries have..count-1 of d's column from snapshot t into d. */
#define DICT_DAMAGED "the database file \"%s\" is damaged: "
#define DICT_RESTORE "; run factdb check to list every problem, and restore the file from a backup"

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
    uint64_t *hashes = malloc((size_t)(count - have) * sizeof *hashes);
    if (!hashes)
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
        if (!store_val_ok(&mb, &v) || v.mv_size > FACTDB_TEXT_MAX) {
            rc = damaged_string(env, table_id, col, id, err);
            break;
        }
        hashes[id - have] = base_hash(v.mv_data, v.mv_size);
        dict_entry **pg = &d->pages[id >> PAGE_BITS];
        if (!*pg && !(*pg = calloc(PAGE_SIZE, sizeof **pg))) {
            rc = base_err(err, FACTDB_NOMEM, "out of memory caching a dictionary");
            break;
        }
        char *s = arena_copy(d, v.mv_data, v.mv_size);
        if (!s) {
            rc = base_err(err, FACTDB_NOMEM, "out of memory caching a dictionary");
            break;
        }
        (*pg)[id & (PAGE_SIZE - 1)] = (dict_entry){s, (uint32_t)v.mv_size};
        id++;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = store_mdb_err(err, mrc, "cannot read a dictionary");
    if (!rc && id < count)
        rc = base_err(err, FACTDB_CORRUPT, DICT_DAMAGED "entry %u of the dictionary of column %u of table %u is "
                      "missing (the catalog says %u entries)" DICT_RESTORE, env->path, id, (unsigned)col, table_id,
                      count);
    if (!rc)
        rc = dict_verify(t, table_id, col, have, count, hashes, err);
    free(hashes);
    /* Entries past `have` may be filled, but only a verified count is published to readers. */
    if (!rc)
        atomic_store_explicit(&d->count, count, memory_order_release);
    return rc;
}

int store_dict_cached(store_txn *t, uint32_t table_id, uint16_t col, uint32_t count, store_dict **out,
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

int store_dict_private(store_txn *t, uint32_t table_id, uint16_t col, uint32_t count, store_dict **out,
                       factdb_error *err)
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

int store_dict_each(store_txn *t, uint32_t table_id, uint16_t col,
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
        if (!store_val_ok(&mb, &v) || v.mv_size > FACTDB_TEXT_MAX) {
            rc = damaged_string(t->env, table_id, col, id, err);
            break;
        }
        unsigned char hk[18];
        hash_key(hk, table_id, col, base_hash(v.mv_data, v.mv_size), id);
        MDB_val hkv = {18, hk}, hv;
        int hashed = mdb_get(t->txn, t->env->dhash, &hkv, &hv) == 0;
        if ((rc = fn(ctx, id, v.mv_data, v.mv_size, hashed)))
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
}
