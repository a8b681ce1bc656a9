/* env.c: one LMDB environment per database file per process, shared by every factdb handle of the
 * process (opening the same LMDB file twice in one process would let closing one drop the other's
 * locks), the write gate, and transactions. Invariant: the gate is held around every write txn. */
#include "store_int.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static store_env *registry;

static const char FORMAT_MAGIC[8] = {'F', 'A', 'C', 'T', 'D', 'B', 0, 0};

int store_mdb_err(factdb_error *err, int rc, const char *what)
{
    switch (rc) {
    case MDB_MAP_FULL:
        return base_err(err, FACTDB_FULL, "%s: the database reached its maximum size (1 TiB)", what);
    case MDB_READERS_FULL:
        return base_err(err, FACTDB_READERS_FULL,
                        "%s: all %d reader slots are in use; close idle processes and retry", what,
                        STORE_MAX_READERS);
    case MDB_CORRUPTED: case MDB_PAGE_NOTFOUND:
        return base_err(err, FACTDB_CORRUPT, "%s: the database file is corrupted; run factdb check", what);
    case MDB_INVALID:
        return base_err(err, FACTDB_NOT_A_DATABASE, "%s: the file is not a factdb database", what);
    case MDB_VERSION_MISMATCH:
        return base_err(err, FACTDB_NEWER_FORMAT, "%s: the file uses an unsupported LMDB version", what);
    case MDB_TXN_FULL:
        return base_err(err, FACTDB_LIMIT, "%s: the transaction is too large", what);
    case MDB_MAP_RESIZED:
        return base_err(err, FACTDB_INTERNAL, "%s: another process resized the map", what);
    case MDB_PANIC:
        return base_err(err, FACTDB_INTERNAL, "%s: fatal storage error; reopen the database", what);
    default:
        if (rc > 0)
            return base_err(err, base_errno_code(rc), "%s: %s", what, base_errno_text(rc));
        return base_err(err, FACTDB_INTERNAL, "%s: storage error %d", what, rc);
    }
}

static int open_dbis(store_env *e, factdb_error *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return store_mdb_err(err, rc, "cannot read the database");
    MDB_dbi main;
    rc = mdb_dbi_open(txn, NULL, 0, &main);
    MDB_stat st;
    if (!rc)
        rc = mdb_stat(txn, main, &st);
    if (rc) {
        mdb_txn_abort(txn);
        return store_mdb_err(err, rc, "cannot read the database");
    }
    rc = mdb_dbi_open(txn, "meta", 0, &e->meta);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return st.ms_entries == 0 ? MDB_NOTFOUND
                                  : base_err(err, FACTDB_NOT_A_DATABASE,
                                             "the file is an LMDB database that factdb did not create");
    }
    if (rc == MDB_INCOMPATIBLE) {
        mdb_txn_abort(txn);
        return base_err(err, FACTDB_NOT_A_DATABASE, "the file is an LMDB database that factdb did not create");
    }
    const char *names[] = {"tables", "names", "chunks", "dict_str", "dict_hash"};
    MDB_dbi *dbis[] = {&e->tables, &e->names, &e->chunks, &e->dstr, &e->dhash};
    for (size_t i = 0; !rc && i < ARRAY_LEN(names); i++)
        rc = mdb_dbi_open(txn, names[i], 0, dbis[i]);
    if (rc) {
        mdb_txn_abort(txn);
        if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE)
            return base_err(err, FACTDB_CORRUPT, "the database catalog is incomplete; the file is damaged");
        return store_mdb_err(err, rc, "cannot open the catalog");
    }
    MDB_val k = {6, "format"}, v;
    rc = mdb_get(txn, e->meta, &k, &v);
    if (rc || v.mv_size < 12 || memcmp(v.mv_data, FORMAT_MAGIC, 8) != 0) {
        mdb_txn_abort(txn);
        return base_err(err, FACTDB_NOT_A_DATABASE, "the file is an LMDB database that factdb did not create");
    }
    uint32_t version;
    memcpy(&version, (const char *)v.mv_data + 8, 4);
    if (version > FACTDB_FILE_FORMAT) {
        mdb_txn_abort(txn);
        return base_err(err, FACTDB_NEWER_FORMAT,
                        "the database uses format version %u but this factdb (%s) reads only versions up "
                        "to %u; upgrade factdb",
                        version, FACTDB_VERSION, FACTDB_FILE_FORMAT);
    }
    rc = mdb_txn_commit(txn);  /* makes the dbi handles usable by the whole process */
    return rc ? store_mdb_err(err, rc, "cannot open the catalog") : FACTDB_OK;
}

/* Creates the named databases and the format record of a new file, under the gate. */
static int init_file(store_env *e, int timeout_ms, factdb_error *err)
{
    int rc = store_gate_acquire(e, timeout_ms, err);
    if (rc)
        return rc;
    rc = open_dbis(e, err);
    if (rc != MDB_NOTFOUND)  /* another process initialised it while we waited, or an error */
        goto out;
    MDB_txn *txn;
    rc = mdb_txn_begin(e->env, NULL, 0, &txn);
    if (rc) {
        rc = store_mdb_err(err, rc, "cannot create the database");
        goto out;
    }
    const char *names[] = {"meta", "tables", "names", "chunks", "dict_str", "dict_hash"};
    MDB_dbi d;
    for (size_t i = 0; !rc && i < ARRAY_LEN(names); i++)
        rc = mdb_dbi_open(txn, names[i], MDB_CREATE, &d);
    unsigned char fmt[16];
    uint32_t version = FACTDB_FILE_FORMAT, chunk_rows = FACTDB_CHUNK_ROWS;
    memcpy(fmt, FORMAT_MAGIC, 8);
    memcpy(fmt + 8, &version, 4);
    memcpy(fmt + 12, &chunk_rows, 4);
    if (!rc)
        rc = mdb_dbi_open(txn, "meta", 0, &d);
    MDB_val k = {6, "format"}, v = {16, fmt};
    if (!rc)
        rc = mdb_put(txn, d, &k, &v, 0);
    if (rc) {
        mdb_txn_abort(txn);
        rc = store_mdb_err(err, rc, "cannot create the database");
        goto out;
    }
    rc = mdb_txn_commit(txn);
    if (rc) {
        rc = store_mdb_err(err, rc, "cannot create the database");
        goto out;
    }
    rc = open_dbis(e, err);
    if (rc == MDB_NOTFOUND)
        rc = base_err(err, FACTDB_INTERNAL, "the new database has no catalog");
out:
    store_gate_release(e);
    return rc;
}

static void env_free(store_env *e)
{
    if (e->env)
        mdb_env_close(e->env);
    /* Closed after LMDB: closing any descriptor of NAME-lock drops this process's fcntl locks on it. */
    if (e->lock_fd >= 0)
        close(e->lock_fd);
    store_env_dicts_free(e);
    pthread_mutex_destroy(&e->gate_mu);
    pthread_cond_destroy(&e->gate_cv);
    pthread_mutex_destroy(&e->dict_mu);
    free(e);
}

int store_env_open(const char *path, bool read_only, int busy_timeout_ms, store_env **out, factdb_error *err)
{
    struct stat st;
    int rc;
    *out = NULL;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT || read_only)
            return base_err(err, base_errno_code(errno), "cannot open database \"%s\": %s", path,
                            base_errno_text(errno));
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return base_err(err, base_errno_code(errno), "cannot create database \"%s\": %s", path,
                            base_errno_text(errno));
        close(fd);
        if (stat(path, &st) != 0)
            return base_err(err, base_errno_code(errno), "cannot open database \"%s\": %s", path,
                            base_errno_text(errno));
    }
    if (S_ISDIR(st.st_mode))
        return base_err(err, FACTDB_INVALID_ARGUMENT, "cannot open database \"%s\": it is a directory", path);
    if (!S_ISREG(st.st_mode))
        return base_err(err, FACTDB_INVALID_ARGUMENT, "cannot open database \"%s\": not a regular file", path);

    pthread_mutex_lock(&registry_mu);
    for (store_env *e = registry; e; e = e->next) {
        if (e->dev == st.st_dev && e->ino == st.st_ino) {
            e->refs++;
            *out = e;
            pthread_mutex_unlock(&registry_mu);
            return FACTDB_OK;
        }
    }
    size_t plen = strlen(path);
    store_env *e = calloc(1, sizeof *e + plen + 1);
    if (!e) {
        pthread_mutex_unlock(&registry_mu);
        return base_err(err, FACTDB_NOMEM, "out of memory opening \"%s\"", path);
    }
    memcpy(e->path, path, plen + 1);
    e->dev = st.st_dev;
    e->ino = st.st_ino;
    e->refs = 1;
    e->lock_fd = -1;
    pthread_mutex_init(&e->gate_mu, NULL);
    pthread_cond_init(&e->gate_cv, NULL);
    pthread_mutex_init(&e->dict_mu, NULL);

    /* Refuse a file shorter than LMDB's two meta pages unless it is empty (a new database). */
    if (st.st_size > 0 && st.st_size < 8192) {
        rc = base_err(err, FACTDB_NOT_A_DATABASE,
                      "cannot open \"%s\": the file is not a factdb database (too short: %lld bytes)", path,
                      (long long)st.st_size);
        goto fail;
    }
    rc = mdb_env_create(&e->env);
    if (!rc) rc = mdb_env_set_maxreaders(e->env, STORE_MAX_READERS);
    if (!rc) rc = mdb_env_set_mapsize(e->env, STORE_MAP_SIZE);
    if (!rc) rc = mdb_env_set_maxdbs(e->env, 8);
    if (!rc)
        rc = mdb_env_open(e->env, path, MDB_NOSUBDIR | MDB_NOTLS | (read_only ? MDB_RDONLY : 0), 0644);
    if (rc) {
        char what[600];
        snprintf(what, sizeof what, "cannot open \"%s\"", path);
        rc = store_mdb_err(err, rc, what);
        if (rc == FACTDB_NOT_A_DATABASE)
            base_err(err, rc, "cannot open \"%s\": the file is not a factdb database", path);
        goto fail;
    }
    MDB_envinfo info;
    MDB_stat mst;
    mdb_env_info(e->env, &info);
    mdb_env_stat(e->env, &mst);
    /* LMDB counts pages a transaction allocated and freed again without ever writing them, so the file may
     * legitimately end a little before the last page; a truncated copy ends far before it. */
    uint64_t want = ((uint64_t)info.me_last_pgno + 1) * mst.ms_psize;
    uint64_t slack = MAX((uint64_t)64 * mst.ms_psize, want / 8);
    if (stat(path, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size + slack < want) {
        rc = base_err(err, FACTDB_CORRUPT,
                      "cannot open \"%s\": the file is truncated (%lld bytes, but its last page ends at "
                      "byte %llu); restore it from a backup",
                      path, (long long)st.st_size,
                      (unsigned long long)(((uint64_t)info.me_last_pgno + 1) * mst.ms_psize));
        goto fail;
    }
    char lockpath[4200];
    snprintf(lockpath, sizeof lockpath, "%s-lock", path);
    e->lock_fd = open(lockpath, O_RDWR | O_CLOEXEC);
    if (e->lock_fd < 0) {
        rc = base_err(err, base_errno_code(errno), "cannot open lock file \"%s\": %s", lockpath,
                      base_errno_text(errno));
        goto fail;
    }
    int dead;
    mdb_reader_check(e->env, &dead);
    rc = open_dbis(e, err);
    if (rc == MDB_NOTFOUND) {
        if (read_only) {
            rc = base_err(err, FACTDB_NOT_A_DATABASE, "\"%s\" is an empty file, not a factdb database", path);
            goto fail;
        }
        rc = init_file(e, busy_timeout_ms, err);
    }
    if (rc) {
        if (err && rc != FACTDB_BUSY && strstr(err->message, path) == NULL) {
            char m[sizeof err->message];
            memcpy(m, err->message, sizeof m);
            base_err(err, rc, "cannot open \"%.300s\": %.700s", path, m);
        }
        goto fail;
    }
    e->next = registry;
    registry = e;
    pthread_mutex_unlock(&registry_mu);
    *out = e;
    return FACTDB_OK;
fail:
    pthread_mutex_unlock(&registry_mu);
    env_free(e);
    return rc;
}

void store_env_release(store_env *env)
{
    if (!env)
        return;
    pthread_mutex_lock(&registry_mu);
    if (--env->refs > 0) {
        pthread_mutex_unlock(&registry_mu);
        return;
    }
    for (store_env **p = &registry; *p; p = &(*p)->next) {
        if (*p == env) {
            *p = env->next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_mu);
    env_free(env);
}

uint64_t store_env_data_version(store_env *env)
{
    MDB_envinfo info;
    mdb_env_info(env->env, &info);
    return info.me_last_txnid;
}

static int reader_line(const char *msg, void *ctx)
{
    factdb_db_info *out = ctx;
    int pid;
    unsigned long tid;
    char txn[32];
    /* mdb_reader_list prints "    pid     thread     txnid" rows after a header line. */
    if (sscanf(msg, " %d %lx %31s", &pid, &tid, txn) == 3) {
        if (out->nreaders < ARRAY_LEN(out->readers)) {
            out->readers[out->nreaders].pid = pid;
            out->readers[out->nreaders].txn_id = txn[0] == '-' ? 0 : strtoull(txn, NULL, 10);
        }
        out->nreaders++;
    }
    return 0;
}

int store_env_info(store_env *env, factdb_db_info *out, factdb_error *err)
{
    memset(out, 0, sizeof *out);
    int dead;
    mdb_reader_check(env->env, &dead);
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(env->env, &info);
    mdb_env_stat(env->env, &st);
    struct stat fst;
    if (stat(env->path, &fst) != 0)
        return base_err(err, base_errno_code(errno), "cannot stat \"%s\": %s", env->path, base_errno_text(errno));
    out->file_bytes = (uint64_t)fst.st_size;
    out->data_version = info.me_last_txnid;
    out->used_pages = info.me_last_pgno + 1;
    out->page_size = st.ms_psize;
    out->max_readers = (int)info.me_maxreaders;
    mdb_reader_list(env->env, reader_line, out);
    return FACTDB_OK;
}

/* ---- the write gate ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int store_gate_acquire(store_env *env, int timeout_ms, factdb_error *err)
{
    int64_t deadline = now_ms() + (timeout_ms < 0 ? 10000 : timeout_ms);
    pthread_mutex_lock(&env->gate_mu);
    while (env->gate_held) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            pthread_mutex_unlock(&env->gate_mu);
            return base_err(err, FACTDB_BUSY,
                            "the database is being written by another thread of this process (pid %d); "
                            "waited %d ms for the write lock; retry, or raise the busy timeout",
                            (int)getpid(), timeout_ms < 0 ? 10000 : timeout_ms);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait = MIN(left, 50);
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&env->gate_cv, &env->gate_mu, &ts);
    }
    env->gate_held = 1;
    pthread_mutex_unlock(&env->gate_mu);

    /* Across processes: a POSIX record lock on one byte of NAME-lock. The kernel drops it when the
     * holder dies, and F_GETLK names the holder's pid for the error message. LMDB offers no timed
     * writer lock, so poll with a growing pause. */
    int pause = 1, holder = 0;
    for (;;) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = STORE_GATE_OFFSET, .l_len = 1};
        if (fcntl(env->lock_fd, F_SETLK, &fl) == 0)
            return FACTDB_OK;
        if (errno != EACCES && errno != EAGAIN && errno != EINTR) {
            int e = errno;
            store_gate_release(env);
            return base_err(err, base_errno_code(e), "cannot take the write lock: %s", base_errno_text(e));
        }
        struct flock q = fl;
        if (fcntl(env->lock_fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK)
            holder = q.l_pid;
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        sleep_ms((int)MIN(left, pause));
        pause = MIN(pause * 2, 20);
    }
    pthread_mutex_lock(&env->gate_mu);
    env->gate_held = 0;
    pthread_cond_signal(&env->gate_cv);
    pthread_mutex_unlock(&env->gate_mu);
    return base_err(err, FACTDB_BUSY,
                    "the database is being written by process %d; waited %d ms for the write lock; retry "
                    "when it finishes, or raise the busy timeout",
                    holder, timeout_ms < 0 ? 10000 : timeout_ms);
}

void store_gate_release(store_env *env)
{
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = STORE_GATE_OFFSET, .l_len = 1};
    fcntl(env->lock_fd, F_SETLK, &fl);
    pthread_mutex_lock(&env->gate_mu);
    env->gate_held = 0;
    pthread_cond_signal(&env->gate_cv);
    pthread_mutex_unlock(&env->gate_mu);
}

/* ---- transactions ---- */

int store_txn_read(store_env *env, store_txn **out, factdb_error *err)
{
    store_txn *t = malloc(sizeof *t);
    if (!t)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    t->env = env;
    t->write = 0;
    int rc = mdb_txn_begin(env->env, NULL, MDB_RDONLY, &t->txn);
    if (rc == MDB_READERS_FULL) {
        int dead;
        mdb_reader_check(env->env, &dead);  /* slots of killed readers */
        rc = mdb_txn_begin(env->env, NULL, MDB_RDONLY, &t->txn);
    }
    if (rc) {
        free(t);
        return store_mdb_err(err, rc, "cannot start a read transaction");
    }
    *out = t;
    return FACTDB_OK;
}

int store_txn_write(store_env *env, bool continuing_load, store_txn **out, factdb_error *err)
{
    store_txn *t = malloc(sizeof *t);
    if (!t)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    t->env = env;
    t->write = 1;
    /* Killed readers pin old pages until their slots are cleared; clear them before every write so
     * the file stops growing once they are gone. */
    int dead;
    mdb_reader_check(env->env, &dead);
    int rc = mdb_txn_begin(env->env, NULL, 0, &t->txn);
    if (rc) {
        free(t);
        return store_mdb_err(err, rc, "cannot start a write transaction");
    }
    rc = continuing_load ? FACTDB_OK : store_reclaim(t, err);
    if (rc) {
        store_txn_abort(t);
        return rc;
    }
    *out = t;
    return FACTDB_OK;
}

int store_txn_commit(store_txn *t, factdb_error *err)
{
    int rc = mdb_txn_commit(t->txn);
    free(t);
    return rc ? store_mdb_err(err, rc, "cannot commit") : FACTDB_OK;
}

void store_txn_abort(store_txn *t)
{
    if (!t)
        return;
    mdb_txn_abort(t->txn);
    free(t);
}

uint64_t store_txn_id(store_txn *t) { return mdb_txn_id(t->txn); }

static _Thread_local factdb *tl_db;
static _Thread_local store_txn *tl_txn;

int store_xact_begin(factdb *db, store_txn **out, factdb_error *err)
{
    *out = NULL;
    if (db->read_only)
        return base_err(err, FACTDB_PERMISSION, "the database was opened read-only");
    int rc = store_gate_acquire(db->env, db->busy_timeout_ms, err);
    if (rc)
        return rc;
    if ((rc = store_txn_write(db->env, false, out, err)))
        store_gate_release(db->env);
    return rc;
}

int store_xact_commit(factdb *db, store_txn *t, factdb_error *err)
{
    if (tl_txn == t)
        tl_db = NULL, tl_txn = NULL;
    int rc = store_txn_commit(t, err);
    store_gate_release(db->env);
    return rc;
}

void store_xact_rollback(factdb *db, store_txn *t)
{
    if (!t)
        return;
    if (tl_txn == t)
        tl_db = NULL, tl_txn = NULL;
    store_txn_abort(t);
    store_gate_release(db->env);
}

void store_xact_bind(factdb *db, store_txn *t)
{
    tl_db = t ? db : NULL;
    tl_txn = t;
}

store_txn *store_xact_current(factdb *db) { return tl_txn && tl_db == db ? tl_txn : NULL; }

int store_txn_read_db(factdb *db, store_txn **out, bool *borrowed, factdb_error *err)
{
    store_txn *x = store_xact_current(db);
    if (x) {
        *out = x;
        *borrowed = true;
        return FACTDB_OK;
    }
    *borrowed = false;
    return store_txn_read(db->env, out, err);
}

void store_txn_end(store_txn *t, bool borrowed)
{
    if (!borrowed)
        store_txn_abort(t);
}

int store_delete_prefix(store_txn *t, MDB_dbi dbi, const unsigned char *prefix, size_t plen, factdb_error *err)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, dbi, &c);
    if (rc)
        return store_mdb_err(err, rc, "cannot delete");
    /* Re-seek after each delete: simpler than reasoning about where LMDB leaves the cursor. */
    for (;;) {
        MDB_val k = {plen, (void *)prefix}, v;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc || k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        rc = mdb_cursor_del(c, 0);
        if (rc)
            break;
    }
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND)
        return store_mdb_err(err, rc, "cannot delete");
    return FACTDB_OK;
}
