/* loadmark.c: loads spanning several transactions, written without holding the write gate between them.
 * A load reserves a range of chunk ids of its table (the record's next_chunk jumps past it, so nobody
 * else writes there) and records the range in a mark, meta/"load:" + table + load id. Readers skip the
 * chunks of every marked range; the publishing transaction deletes the mark. While it runs, a load holds
 * an fcntl lock on its own byte of NAME-lock (2^41 + load id): the kernel drops it when the loader dies,
 * so a writer that finds a mark whose byte nobody else holds reclaims the range. No pid is involved. */
#include "store_int.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_KEY_LEN 17  /* "load:", u32 BE table id, u64 BE load id */
#define LOAD_VAL_LEN 24
#define LOAD_FLAG_CREATES 1u

/* Loads of this process that are running: the kernel never reports a conflict between two locks of one
 * process, so F_GETLK cannot tell this process's own live loads from dead ones. */
typedef struct live_load {
    const store_env *env;
    uint64_t id;
} live_load;
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static live_load *live;
static size_t nlive, live_cap;

static bool live_has(const store_env *env, uint64_t id)
{
    bool found = false;
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < nlive && !found; i++)
        found = live[i].env == env && live[i].id == id;
    pthread_mutex_unlock(&live_mu);
    return found;
}

static int live_add(const store_env *env, uint64_t id)
{
    int rc = FACTDB_OK;
    pthread_mutex_lock(&live_mu);
    if (nlive == live_cap) {
        size_t ncap = live_cap ? live_cap * 2 : 8;
        live_load *nl = realloc(live, ncap * sizeof *nl);
        if (nl) {
            live = nl;
            live_cap = ncap;
        } else {
            rc = FACTDB_NOMEM;
        }
    }
    if (!rc)
        live[nlive++] = (live_load){env, id};
    pthread_mutex_unlock(&live_mu);
    return rc;
}

static void live_remove(const store_env *env, uint64_t id)
{
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < nlive; i++)
        if (live[i].env == env && live[i].id == id) {
            live[i] = live[--nlive];
            break;
        }
    if (nlive == 0) {  /* nothing outlives the last load: no leak at exit */
        free(live);
        live = NULL;
        live_cap = 0;
    }
    pthread_mutex_unlock(&live_mu);
}

static off_t lock_byte(uint64_t id)
{
    return (off_t)(STORE_LOAD_LOCK_BASE + (int64_t)(id & (STORE_LOAD_LOCK_SPAN - 1)));
}

/* True unless the load's byte is free (its loader died or gave up). When in doubt (fcntl fails), alive:
 * reclaiming a live load's chunks would lose its rows, keeping a dead one's only costs space. */
static bool load_alive(store_env *env, uint64_t id)
{
    if (live_has(env, id))
        return true;
    if (env->lock_fd < 0)
        return true;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = lock_byte(id), .l_len = 1};
    if (fcntl(env->lock_fd, F_GETLK, &fl) != 0)
        return true;
    return fl.l_type != F_UNLCK;
}

static void mark_key(unsigned char k[LOAD_KEY_LEN], uint32_t table, uint64_t id)
{
    memcpy(k, "load:", 5);
    base_put_be32(k + 5, table);
    base_put_be64(k + 9, id);
}

/* Decodes a mark; false when it is damaged. */
static bool mark_decode(const MDB_val *k, const MDB_val *v, store_load_mark *m)
{
    if (k->mv_size != LOAD_KEY_LEN || v->mv_size != LOAD_VAL_LEN || memcmp(k->mv_data, "load:", 5) != 0)
        return false;
    const unsigned char *kp = k->mv_data, *vp = v->mv_data;
    m->table = base_get_be32(kp + 5);
    m->id = base_get_be64(kp + 9);
    memcpy(&m->flags, vp, 4);
    memcpy(&m->first, vp + 8, 8);
    memcpy(&m->end, vp + 16, 8);
    return m->first < m->end && m->table != 0;
}

static int damaged_mark(factdb_error *err)
{
    return base_err(err, FACTDB_CORRUPT, "the database file is damaged: a load mark in the catalog is not valid; "
                    "run factdb check, and restore the file from a backup");
}

int store_load_marks(store_txn *t, uint32_t table, store_load_mark **out, size_t *n, factdb_error *err)
{
    *out = NULL;
    *n = 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->meta, &c);
    if (rc)
        return store_mdb_err(err, rc, "cannot read the catalog");
    unsigned char prefix[LOAD_KEY_LEN];
    mark_key(prefix, table, 0);
    size_t plen = table ? 9 : 5, cap = 0;
    MDB_val k = {plen, prefix}, v;
    int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    store_load_mark *list = NULL;
    while (!rc && mrc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0) {
        store_load_mark m;
        if (!mark_decode(&k, &v, &m)) {
            rc = damaged_mark(err);
            break;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            store_load_mark *nl = realloc(list, cap * sizeof *nl);
            if (!nl) {
                rc = base_err(err, FACTDB_NOMEM, "out of memory reading the catalog");
                break;
            }
            list = nl;
        }
        list[(*n)++] = m;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = store_mdb_err(err, mrc, "cannot read the catalog");
    if (rc) {
        free(list);
        *n = 0;
        return rc;
    }
    *out = list;
    return FACTDB_OK;
}

bool store_load_hides(const store_load_mark *marks, size_t n, uint64_t chunk, uint64_t *end)
{
    for (size_t i = 0; i < n; i++)
        if (chunk >= marks[i].first && chunk < marks[i].end) {
            *end = marks[i].end;
            return true;
        }
    return false;
}

int store_load_start(store_txn *t, store_table *tab, bool creates, store_load_mark *out, factdb_error *err)
{
    store_env *env = t->env;
    if (tab->next_chunk > UINT64_MAX - STORE_LOAD_SPAN)
        return base_err(err, FACTDB_LIMIT, "table \"%s\" has used up its chunk ids; copy it into a new table",
                        tab->name);
    MDB_val ik = {12, "next_load_id"}, iv;
    uint64_t id = 1;
    int rc = mdb_get(t->txn, env->meta, &ik, &iv);
    if (rc == 0 && iv.mv_size == 8)
        memcpy(&id, iv.mv_data, 8);
    else if (rc != MDB_NOTFOUND)
        return rc ? store_mdb_err(err, rc, "cannot start the load") : damaged_mark(err);
    uint64_t next = id + 1;
    iv = (MDB_val){8, &next};
    if ((rc = mdb_put(t->txn, env->meta, &ik, &iv, 0)))
        return store_mdb_err(err, rc, "cannot start the load");
    /* The byte is locked before the mark can be seen (both commit together later), and stays locked until
     * the mark is gone or the load gives up: a mark with a free byte belongs to a dead load. */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = lock_byte(id), .l_len = 1};
    if (env->lock_fd < 0 || fcntl(env->lock_fd, F_SETLK, &fl) != 0) {
        int e = env->lock_fd < 0 ? EBADF : errno;
        return base_err(err, e == EAGAIN || e == EACCES ? FACTDB_INTERNAL : base_errno_code(e),
                        "cannot start the load: cannot lock byte %lld of the lock file of \"%s\": %s",
                        (long long)lock_byte(id), env->path, base_errno_text(e));
    }
    if (live_add(env, id)) {
        fl.l_type = F_UNLCK;
        fcntl(env->lock_fd, F_SETLK, &fl);
        return base_err(err, FACTDB_NOMEM, "out of memory starting the load");
    }
    store_load_mark m = {.table = tab->id, .id = id, .flags = creates ? LOAD_FLAG_CREATES : 0,
                         .first = tab->next_chunk, .end = tab->next_chunk + STORE_LOAD_SPAN};
    unsigned char key[LOAD_KEY_LEN], val[LOAD_VAL_LEN] = {0};
    mark_key(key, m.table, m.id);
    memcpy(val, &m.flags, 4);
    memcpy(val + 8, &m.first, 8);
    memcpy(val + 16, &m.end, 8);
    MDB_val k = {LOAD_KEY_LEN, key}, v = {LOAD_VAL_LEN, val};
    if ((rc = mdb_put(t->txn, env->meta, &k, &v, 0))) {
        store_load_release(env, id);
        return store_mdb_err(err, rc, "cannot start the load");
    }
    tab->next_chunk = m.end;
    *out = m;
    return FACTDB_OK;
}

void store_load_release(store_env *env, uint64_t id)
{
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = lock_byte(id), .l_len = 1};
    if (env->lock_fd >= 0)
        fcntl(env->lock_fd, F_SETLK, &fl);
    live_remove(env, id);
}

int store_load_publish(store_txn *t, const store_load_mark *m, factdb_error *err)
{
    unsigned char key[LOAD_KEY_LEN];
    mark_key(key, m->table, m->id);
    MDB_val k = {LOAD_KEY_LEN, key};
    int rc = mdb_del(t->txn, t->env->meta, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return base_err(err, FACTDB_INTERNAL, "the load's unpublished chunks were removed by another process while "
                        "it ran; nothing was loaded; run the load again");
    return rc ? store_mdb_err(err, rc, "cannot publish the load") : FACTDB_OK;
}

int store_load_present(store_txn *t, const store_load_mark *m, factdb_error *err)
{
    unsigned char key[LOAD_KEY_LEN];
    mark_key(key, m->table, m->id);
    MDB_val k = {LOAD_KEY_LEN, key}, v;
    int rc = mdb_get(t->txn, t->env->meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return base_err(err, FACTDB_INTERNAL, "the load's unpublished chunks were removed by another process while "
                        "it ran; nothing was loaded; run the load again");
    return rc ? store_mdb_err(err, rc, "cannot continue the load") : FACTDB_OK;
}

/* Deletes the chunks of m's range and, for a load that was to create its table, that table (never named,
 * so never seen), then the mark. Dictionary strings stay: they were published with the chunk that first
 * used them, and other processes may have cached their ids. */
int store_load_discard(store_txn *t, const store_load_mark *mine, factdb_error *err)
{
    /* Only what the mark in t says: a load whose first transaction never committed owns nothing (its
     * table id and range may belong to someone else by now). */
    unsigned char key[LOAD_KEY_LEN];
    mark_key(key, mine->table, mine->id);
    MDB_val k = {LOAD_KEY_LEN, key}, v;
    store_load_mark stored, *m = &stored;
    int rc = mdb_get(t->txn, t->env->meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return FACTDB_OK;
    if (rc)
        return store_mdb_err(err, rc, "cannot reclaim an interrupted load");
    if (!mark_decode(&k, &v, m))
        return damaged_mark(err);
    store_table tab;
    rc = store_table_get_id(t, m->table, &tab, err);
    if (rc == FACTDB_OK) {
        MDB_val nk = {strlen(tab.name), tab.name}, nv;
        bool named = mdb_get(t->txn, t->env->names, &nk, &nv) == 0 && nv.mv_size == 4 &&
                     base_get_be32(nv.mv_data) == tab.id;
        if ((m->flags & LOAD_FLAG_CREATES) && !named)
            rc = store_table_remove(t, &tab, err);
        else
            rc = store_chunks_delete_range(t, tab.id, m->first, m->end, err);
        store_table_cleanup(&tab);
    } else if (rc == FACTDB_NO_TABLE) {
        rc = store_chunks_delete_range(t, m->table, m->first, m->end, err);  /* dropped meanwhile */
    }
    if (rc)
        return rc;
    int mrc = mdb_del(t->txn, t->env->meta, &k, NULL);
    return mrc && mrc != MDB_NOTFOUND ? store_mdb_err(err, mrc, "cannot reclaim an interrupted load") : FACTDB_OK;
}

int store_reclaim_dead_loads(store_txn *t, factdb_error *err)
{
    store_load_mark *marks;
    size_t n;
    int rc = store_load_marks(t, 0, &marks, &n, err);
    for (size_t i = 0; !rc && i < n; i++)
        if (!load_alive(t->env, marks[i].id))
            rc = store_load_discard(t, &marks[i], err);
    free(marks);
    return rc;
}
