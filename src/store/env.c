/* env.c: one LMDB environment per database file per process, shared by every factdb handle of the
 * process (opening the same LMDB file twice in one process would let closing one drop the other's
 * locks), the write gate, and transactions. Invariant: the gate is held around every write txn. */
#include "store_int.h"
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <sys/statvfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static void pool_close(store_env *env);
static _Atomic unsigned forks;  /* fork() calls seen by this process (the gate's fork handler) */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void fork_init(void);

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static store_env *registry;

static const char FORMAT_MAGIC[8] = {'F', 'A', 'C', 'T', 'D', 'B', 0, 0};

/* The memory maps of the open databases, for store_addr_in_map in a signal handler: plain atomics, no
 * locks. Slots are written under registry_mu. */
#define MAP_SLOTS 64
static _Atomic uintptr_t map_base[MAP_SLOTS];
static _Atomic int map_fd[MAP_SLOTS];

static int map_register(void *base, int fd)
{
    for (int i = 0; i < MAP_SLOTS; i++) {
        if (atomic_load(&map_base[i]) == 0) {
            atomic_store(&map_fd[i], fd);
            atomic_store(&map_base[i], (uintptr_t)base);
            return i;
        }
    }
    return -1;
}

/* LMDB does not expose its map's address (MDB_envinfo.me_mapaddr is only set with MDB_FIXEDMAP): find
 * the mapping of the file (device, inode) in /proc/self/maps. NULL if not found. */
static void *find_map(dev_t dev, ino_t ino)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return NULL;
    char line[4600];
    void *found = NULL;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long long start, end, off, inode;
        unsigned maj, mnr;
        if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu", &start, &end, &off, &maj, &mnr, &inode) == 6 &&
            inode == (unsigned long long)ino && maj == major(dev) && mnr == minor(dev) && off == 0)
            found = (void *)(uintptr_t)start;
    }
    fclose(f);
    return found;
}

bool store_addr_in_map(const void *addr, int *fd, uint64_t *offset)
{
    uintptr_t a = (uintptr_t)addr;
    for (int i = 0; i < MAP_SLOTS; i++) {
        uintptr_t b = atomic_load(&map_base[i]);
        if (b && a >= b && a - b < STORE_MAP_SIZE) {
            if (fd)
                *fd = atomic_load(&map_fd[i]);
            if (offset)
                *offset = a - b;
            return true;
        }
    }
    return false;
}

const void *store_map_base(store_env *env)
{
    return env->map_slot < 0 ? NULL : (const void *)atomic_load(&map_base[env->map_slot]);
}

void store_map_bounds_get(store_env *env, store_map_bounds *b)
{
    b->lo = b->hi = 0;
    if (env->map_slot < 0)
        return;
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(env->env, &info) || mdb_env_stat(env->env, &st))
        return;
    b->lo = atomic_load(&map_base[env->map_slot]);
    if (b->lo)
        b->hi = b->lo + ((uintptr_t)info.me_last_pgno + 1) * st.ms_psize;
}

int store_commit_err(store_env *env, int rc, const char *what, factdb_error *err)
{
    /* LMDB turns a short write (what a full disk gives once part of a write fits) into EIO; a nearly
     * empty file system tells the two apart. */
    struct statvfs vs;
    if (rc == EIO && statvfs(env->path, &vs) == 0 && (uint64_t)vs.f_bavail * vs.f_frsize < ((uint64_t)1 << 20))
        rc = ENOSPC;
    if (rc == ENOSPC || rc == EDQUOT)
        return base_err(err, FACTDB_FULL, "%s: %s on the file system holding \"%s\"; nothing was written; free "
                                          "some space and retry", what, base_errno_text(rc), env->path);
    return store_mdb_err(err, rc, what);
}

int store_read_only_err(const factdb *db, factdb_error *err)
{
    return base_err(err, FACTDB_PERMISSION, "cannot write: the database is open read-only (%s)",
                    db->ro_why ? db->ro_why : "opened read-only");
}

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
    e->uniq_at_open = mdb_dbi_open(txn, "unique", 0, &e->uniq) == 0;
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

int store_format_require(store_txn *t, uint32_t version, factdb_error *err)
{
    MDB_val k = {6, "format"}, v;
    int rc = mdb_get(t->txn, t->env->meta, &k, &v);
    if (rc || v.mv_size < 12 || memcmp(v.mv_data, FORMAT_MAGIC, 8) != 0)
        return rc && rc != MDB_NOTFOUND ? store_mdb_err(err, rc, "cannot read the format record")
                                        : base_err(err, FACTDB_CORRUPT, "the database file \"%s\" is damaged: "
                                                   "its format record is missing or damaged", t->env->path);
    uint32_t have;
    memcpy(&have, (const char *)v.mv_data + 8, 4);
    if (have >= version)
        return FACTDB_OK;
    unsigned char fmt[64];
    size_t n = MIN(v.mv_size, sizeof fmt);
    memcpy(fmt, v.mv_data, n);
    memcpy(fmt + 8, &version, 4);
    MDB_val nv = {n, fmt};
    rc = mdb_put(t->txn, t->env->meta, &k, &nv, 0);
    return rc ? store_mdb_err(err, rc, "cannot update the format record") : FACTDB_OK;
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
    /* the lowest version that describes what the file holds: later features raise it when first written */
    uint32_t version = STORE_FORMAT_BASE, chunk_rows = FACTDB_CHUNK_ROWS;
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
        rc = store_commit_err(e, rc, "cannot create the database", err);
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
    if (e->map_slot >= 0)
        atomic_store(&map_base[e->map_slot], 0);
    if (e->env)
        mdb_env_close(e->env);
    /* Closed after LMDB: closing any descriptor of NAME-lock drops this process's fcntl locks on it. */
    if (e->lock_fd >= 0)
        close(e->lock_fd);
    pool_close(e);
    store_env_dicts_free(e);
    store_verified_free(e);
    pthread_mutex_destroy(&e->verified_mu);
    pthread_mutex_destroy(&e->gate_mu);
    pthread_cond_destroy(&e->gate_cv);
    pthread_mutex_destroy(&e->dict_mu);
    pthread_mutex_destroy(&e->dict_ix_mu);
    free(e);
}

/* LMDB's mdb_env_open trusts the page size recorded in the meta pages (a damaged one made it divide by
 * zero): check both meta pages the way LMDB 0.9 reads them (flags, magic, version, page size) first. */
static int check_meta_pages(const char *path, factdb_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return FACTDB_OK;  /* LMDB's own open reports it */
    unsigned char m[64];
    uint32_t psize = 0;
    int rc = FACTDB_OK;
    for (int i = 0; i < 2 && !rc; i++) {
        off_t at = i == 0 ? 0 : (off_t)psize;
        if (pread(fd, m, sizeof m, at) != (ssize_t)sizeof m)
            break;  /* too short: reported by the caller's length checks */
        uint16_t flags;
        uint32_t magic, version, ps;
        memcpy(&flags, m + 10, 2);
        memcpy(&magic, m + 16, 4);
        memcpy(&version, m + 20, 4);
        memcpy(&ps, m + 40, 4);  /* mm_dbs[0].md_pad holds the page size */
        if (magic != 0xBEEFC0DEu)
            break;  /* not an LMDB file: LMDB says so (NOT_A_DATABASE) */
        if (!(flags & 0x08) || version != 1 || ps < 512 || ps > 32768 || (ps & (ps - 1)) || (i && ps != psize))
            rc = base_err(err, FACTDB_CORRUPT, "the database file \"%s\" is damaged: its meta page %d (the "
                          "header LMDB reads first) is not valid; restore the file from a backup", path, i);
        psize = ps;
    }
    close(fd);
    return rc;
}

/* Decides whether this process can only read `path`: no write permission on the file or its file system
 * (LMDB then opens it MDB_RDONLY), or no way to create its lock file (then also MDB_NOLOCK). A reader
 * without the lock file has no reader slot, so writers may reuse the pages of its snapshot while it reads:
 * valid chunks of another commit then pass every checksum (measured: 49 of 60 scans mixed two commits).
 * So a lock file that exists, and thus may be in use by writers, but that this process may not write is
 * refused rather than read without it. */
static int probe_read_only(store_env *e, const char *path, factdb_error *err)
{
    if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) != 0 && (errno == EACCES || errno == EPERM || errno == EROFS)) {
        e->read_only = true;
        if (errno == EROFS) {
            e->nolock = true;  /* LMDB runs without the lock file on a read-only file system */
            snprintf(e->ro_why, sizeof e->ro_why,
                     "the file system holding \"%.400s\" is read-only (read without LMDB's lock: correct only "
                     "while no process writes the file, e.g. through another mount)", path);
        } else {
            snprintf(e->ro_why, sizeof e->ro_why, "this process may not write the file \"%.400s\"", path);
        }
    }
    if (e->nolock)
        return FACTDB_OK;
    char lockpath[4200];
    snprintf(lockpath, sizeof lockpath, "%s-lock", path);
    if (access(lockpath, F_OK) == 0) {
        if (faccessat(AT_FDCWD, lockpath, W_OK, AT_EACCESS) == 0)
            return FACTDB_OK;
        return base_err(err, FACTDB_PERMISSION,
                        "cannot read \"%s\" safely: its lock file \"%s\" exists but this user may not write it, "
                        "and without it other processes' writes could change pages while they are read; give this "
                        "user write access to the lock file (the database file itself may stay read-only)",
                        path, lockpath);
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    if (faccessat(AT_FDCWD, dirname(dir), W_OK, AT_EACCESS) != 0) {
        e->read_only = e->nolock = true;
        snprintf(e->ro_why, sizeof e->ro_why,
                 "its lock file \"%.400s\" cannot be created (read without LMDB's lock: correct only while no "
                 "process writes the file)", lockpath);
    }
    return FACTDB_OK;
}

/* A file shorter than LMDB's last page is truncated, unless every page past its end is free: LMDB does
 * not write pages that a transaction allocated and released again (loose pages), so a sound file may
 * end before its last page, but only on free pages. Returns 0 or CORRUPT. */
static int check_length(store_env *e, const char *path, factdb_error *err)
{
    MDB_stat mst;
    mdb_env_stat(e->env, &mst);
    uint64_t psize = mst.ms_psize;
    /* A writer may commit meanwhile: the free list must come from the snapshot whose last page is compared,
     * so retry when a commit slipped between the two reads. */
    for (int attempt = 0; attempt < 5; attempt++) {
        MDB_txn *txn;
        if (mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn) != 0)
            return FACTDB_OK;  /* reported by the caller's own read */
        MDB_envinfo info;
        struct stat st;
        mdb_env_info(e->env, &info);
        bool same = info.me_last_txnid == mdb_txn_id(txn);
        if (stat(path, &st) != 0 || st.st_size == 0) {
            mdb_txn_abort(txn);
            return FACTDB_OK;
        }
        uint64_t pages = (uint64_t)info.me_last_pgno + 1, want = pages * psize;
        uint64_t have_pages = (uint64_t)st.st_size / psize;
        if (have_pages >= pages) {
            mdb_txn_abort(txn);
            return FACTDB_OK;
        }
        uint64_t missing = pages - have_pages, free_tail = 0;
        /* Far too short to be loose pages: say so without reading the free list (which may be cut off). */
        MDB_cursor *c;
        if (missing <= MAX((uint64_t)64, pages / 8) && mdb_cursor_open(txn, 0, &c) == 0) {
            MDB_val k, v;  /* dbi 0 is LMDB's free list: values are page lists, ids[0] = count */
            int op = MDB_FIRST;
            while (mdb_cursor_get(c, &k, &v, op) == 0) {
                op = MDB_NEXT;
                const size_t *ids = v.mv_data;
                size_t n = v.mv_size / sizeof *ids;
                for (size_t i = 1; i < n && i <= ids[0]; i++)
                    free_tail += ids[i] >= have_pages && ids[i] < pages;
            }
            mdb_cursor_close(c);
        }
        mdb_txn_abort(txn);
        if (free_tail >= missing)
            return FACTDB_OK;
        if (same || missing > MAX((uint64_t)64, pages / 8))
            return base_err(err, FACTDB_CORRUPT,
                            "cannot open \"%s\": the file is truncated (%lld bytes, but its last page ends at byte "
                            "%llu); restore it from a backup",
                            path, (long long)st.st_size, (unsigned long long)want);
    }
    return FACTDB_OK;  /* writers kept committing: they extend the file, which is then not truncated */
}

/* LMDB marks a process that reads as alive by an fcntl lock on the byte of NAME-lock at offset getpid()
 * (mdb_reader_pid), taken at its first read transaction: two processes with the same pid in different PID
 * namespaces (two containers whose main processes are both pid 1) collide there, and the second one's
 * reads fail with EAGAIN. A lock on our own pid's byte that F_GETLK shows belongs to another process can
 * only be that: our namespace has no other process with our pid (F_GETLK reports pid 0 for an owner it
 * cannot see). Separate namespaces cannot be made safe from here: LMDB's writers decide which freed pages
 * they may reuse from the reader table, keyed by these pids (docs/design.md). */
static int check_pid_namespace(store_env *e, const char *path, factdb_error *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        mdb_txn_abort(txn);
        return FACTDB_OK;
    }
    if (rc != EAGAIN && rc != EACCES)
        return FACTDB_OK;  /* reported by the first read */
    int pid = (int)getpid();
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = pid, .l_len = 1};
    if (fcntl(e->lock_fd, F_GETLK, &q) != 0 || q.l_type == F_UNLCK)
        return FACTDB_OK;
    char seen[80] = "";
    if (q.l_pid > 0 && q.l_pid != pid)
        snprintf(seen, sizeof seen, " (seen from here as pid %d)", (int)q.l_pid);
    return base_err(err, FACTDB_IO,  /* the code LMDB's EAGAIN had: kept for callers that test it */
                    "cannot open \"%s\": another process with the same process id %d, in a different PID namespace "
                    "(e.g. another container)%s, has the database open, and LMDB tells the processes using a "
                    "database apart by their process id; run every process that opens the database in one PID "
                    "namespace (docker compose: pid: \"service:NAME\" or pid: \"host\"; docker run: "
                    "--pid=container:NAME or --pid=host; see docs/deploy.md)",
                    path, pid, seen);
}

int store_env_open(const char *path, unsigned flags, int busy_timeout_ms, store_env **out, const char **ro_why,
                   factdb_error *err)
{
    struct stat st;
    int rc;
    bool existing = flags & (FACTDB_OPEN_EXISTING | FACTDB_OPEN_READ_ONLY);
    *out = NULL;
    *ro_why = NULL;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT && existing)
            return base_err(err, FACTDB_IO, "database \"%s\" does not exist (check the path, or pass --create to "
                            "create it)", path);
        if (errno != ENOENT)
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
    if (st.st_size == 0 && existing)
        return base_err(err, FACTDB_NOT_A_DATABASE, "\"%s\" is an empty file, not a factdb database", path);

    pthread_mutex_lock(&registry_mu);
    for (store_env *e = registry; e; e = e->next) {
        /* An environment opened before a fork() belongs to the parent (LMDB forbids using it in the child,
         * and it refuses writes there): a child opening the file again gets its own. */
        if (e->dev == st.st_dev && e->ino == st.st_ino && e->gate_forks == atomic_load(&forks)) {
            e->refs++;
            *out = e;
            *ro_why = e->read_only ? e->ro_why : NULL;
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
    e->gate_fd = -1;
    pthread_once(&fork_once, fork_init);
    e->gate_forks = atomic_load(&forks);
    e->map_slot = -1;
    pthread_mutex_init(&e->gate_mu, NULL);
    pthread_cond_init(&e->gate_cv, NULL);
    pthread_mutex_init(&e->dict_mu, NULL);
    pthread_mutex_init(&e->dict_ix_mu, NULL);
    pthread_mutex_init(&e->verified_mu, NULL);

    /* Refuse a file shorter than LMDB's two meta pages unless it is empty (a new database). */
    if (st.st_size > 0 && st.st_size < 8192) {
        rc = base_err(err, FACTDB_NOT_A_DATABASE,
                      "cannot open \"%s\": the file is not a factdb database (too short: %lld bytes)", path,
                      (long long)st.st_size);
        goto fail;
    }
    if ((rc = probe_read_only(e, path, err)))
        goto fail;
    if (e->read_only && st.st_size == 0) {
        rc = base_err(err, FACTDB_NOT_A_DATABASE, "\"%s\" is an empty file, not a factdb database (and it cannot "
                      "be made one: %s)", path, e->ro_why);
        goto fail;
    }
    if (st.st_size > 0 && (rc = check_meta_pages(path, err)))
        goto fail;
    rc = mdb_env_create(&e->env);
    if (!rc) rc = mdb_env_set_maxreaders(e->env, STORE_MAX_READERS);
    if (!rc) rc = mdb_env_set_mapsize(e->env, STORE_MAP_SIZE);
    if (!rc) rc = mdb_env_set_maxdbs(e->env, 8);
    if (!rc)
        rc = mdb_env_open(e->env, path,
                          MDB_NOSUBDIR | MDB_NOTLS | (e->read_only ? MDB_RDONLY : 0) | (e->nolock ? MDB_NOLOCK : 0),
                          0644);
    if (rc) {
        char what[600];
        snprintf(what, sizeof what, "cannot open \"%s\"", path);
        rc = store_mdb_err(err, rc, what);
        if (rc == FACTDB_NOT_A_DATABASE)
            base_err(err, rc, "cannot open \"%s\": the file is not a factdb database", path);
        goto fail;
    }
    int dfd;
    void *base = find_map(e->dev, e->ino);
    if (base && mdb_env_get_fd(e->env, &dfd) == 0)
        e->map_slot = map_register(base, dfd);
    if (!e->nolock) {
        char lockpath[4200];
        snprintf(lockpath, sizeof lockpath, "%s-lock", path);
        e->lock_fd = open(lockpath, O_RDWR | O_CLOEXEC);
        if (e->lock_fd < 0) {
            rc = base_err(err, base_errno_code(errno), "cannot open lock file \"%s\": %s", lockpath,
                          base_errno_text(errno));
            goto fail;
        }
        if ((rc = check_pid_namespace(e, path, err)))
            goto fail;
        int dead;
        mdb_reader_check(e->env, &dead);
    }
    if ((rc = store_pages_check(e, path, err)) || (rc = check_length(e, path, err)))
        goto fail;
    rc = open_dbis(e, err);
    if (rc == MDB_NOTFOUND) {
        if (existing || e->read_only) {
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
    *ro_why = e->read_only ? e->ro_why : NULL;
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
    if (!env->nolock)
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
    if (!env->nolock)
        mdb_reader_list(env->env, reader_line, out);
    return FACTDB_OK;
}

/* ---- the write gate ----
 *
 * Writers take turns in the order they asked (FIFO), across threads and processes, and a dead process
 * never blocks the others: every piece of shared state is a lock the kernel drops when its owner dies.
 * Byte ranges of NAME-lock past LMDB's own area (LMDB uses bytes below 2^22: its lock words and one byte
 * per reader pid):
 *   GATE_BYTE (2^40)        POSIX lock of the holder's process: the exclusion itself (as before tickets,
 *                           so older factdb binaries still exclude), and F_GETLK names the holder's pid.
 *   GATE_JOIN (2^40 + 1)    OFD lock held for the few system calls of taking a ticket.
 *   GATE_TICKET0 ...        one byte per queued writer (an OFD write lock), below 2^40 + 2^39 + 2.
 * A writer takes the join lock, finds the highest locked ticket byte and locks the next one, so the
 * live tickets are ordered by arrival. Its turn comes when no ticket byte below its own is locked: it
 * waits with an OFD read lock over all of them, which the kernel grants once each is released (by its
 * holder, or by its death). OFD locks belong to an open file description, not a process, so each
 * waiting thread uses its own descriptor of NAME-lock and threads of one process queue like processes.
 * Those descriptors are never closed before mdb_env_close: closing any descriptor of the file would
 * drop this process's POSIX locks on it (LMDB's reader lock and GATE_BYTE). */

#define GATE_BYTE STORE_GATE_OFFSET
#define GATE_JOIN (STORE_GATE_OFFSET + 1)
#define GATE_TICKET0 (STORE_GATE_OFFSET + 2)
#define GATE_TICKETS (1ll << 39)      /* the queue restarts at GATE_TICKET0 whenever it empties */
#define GATE_FDS_MAX 1024             /* descriptors per environment: threads waiting at once */
#define GATE_DEFAULT_TIMEOUT_MS 10000

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_us(int64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000L};
    nanosleep(&ts, NULL);
}

/* The descriptors of every gate pool of the process, for the fork handler: plain atomics, no locks. */
#define FORK_SLOTS 4096
static _Atomic int fork_fd[FORK_SLOTS];

/* A child of fork() shares the parent's open file descriptions, and with them the parent's OFD locks:
 * were the parent killed, its ticket would live on in the child and stall every writer. The child points
 * its copies at /dev/null (it holds no POSIX locks of its own, so dropping them drops nothing; the numbers
 * stay taken, so a later close in the child closes nothing of someone else's), and environments opened
 * before the fork refuse to write in it (LMDB forbids using them there anyway). */
static void fork_child(void)
{
    atomic_fetch_add(&forks, 1);
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (int i = 0; i < FORK_SLOTS; i++) {
        int fd = atomic_load(&fork_fd[i]);
        if (fd > 0 && (nul < 0 || dup3(nul, fd, O_CLOEXEC) < 0))
            close(fd);
    }
    if (nul >= 0)
        close(nul);
}

static void fork_init(void) { pthread_atfork(NULL, NULL, fork_child); }

static bool fork_register(int fd)
{
    for (int i = 0; i < FORK_SLOTS; i++) {
        int zero = 0;
        if (atomic_compare_exchange_strong(&fork_fd[i], &zero, fd))
            return true;
    }
    return false;
}

static void fork_unregister(int fd)
{
    for (int i = 0; i < FORK_SLOTS; i++) {
        int want = fd;
        if (atomic_compare_exchange_strong(&fork_fd[i], &want, 0))
            return;
    }
}

/* Takes an idle descriptor of NAME-lock from env's pool, opening one if none is idle. */
static int pool_get(store_env *env, int *fd, factdb_error *err)
{
    pthread_mutex_lock(&env->gate_mu);
    if (env->gate_pool_n) {
        *fd = env->gate_pool[--env->gate_pool_n];
        pthread_mutex_unlock(&env->gate_mu);
        return FACTDB_OK;
    }
    int rc = FACTDB_OK;
    if (env->gate_fds_open >= GATE_FDS_MAX) {
        rc = base_err(err, FACTDB_LIMIT, "cannot take the write lock: %d threads of this process already wait "
                      "for it; use fewer writing threads", GATE_FDS_MAX);
        goto out;
    }
    if (env->gate_fds_open == env->gate_pool_cap) {  /* room for every descriptor: pool_put never fails */
        size_t cap = env->gate_pool_cap ? env->gate_pool_cap * 2 : 8;
        int *p = realloc(env->gate_pool, cap * sizeof *p);
        if (!p) {
            rc = base_err(err, FACTDB_NOMEM, "out of memory taking the write lock");
            goto out;
        }
        env->gate_pool = p;
        env->gate_pool_cap = cap;
    }
    char lockpath[4200];
    snprintf(lockpath, sizeof lockpath, "%s-lock", env->path);
    *fd = open(lockpath, O_RDWR | O_CLOEXEC);
    if (*fd < 0) {
        rc = base_err(err, base_errno_code(errno), "cannot take the write lock: cannot open \"%s\": %s", lockpath,
                      base_errno_text(errno));
        goto out;
    }
    if (!fork_register(*fd)) {
        rc = base_err(err, FACTDB_LIMIT, "cannot take the write lock: this process has %d lock-file descriptors "
                      "open; close some databases", FORK_SLOTS);
        env->gate_pool[env->gate_pool_n++] = *fd;  /* kept (closing it would drop this process's locks) */
        env->gate_fds_open++;
        goto out;
    }
    env->gate_fds_open++;
out:
    pthread_mutex_unlock(&env->gate_mu);
    return rc;
}

static void pool_put(store_env *env, int fd)
{
    pthread_mutex_lock(&env->gate_mu);
    env->gate_pool[env->gate_pool_n++] = fd;
    pthread_mutex_unlock(&env->gate_mu);
}

static void pool_close(store_env *env)
{
    for (size_t i = 0; i < env->gate_pool_n; i++) {
        fork_unregister(env->gate_pool[i]);
        close(env->gate_pool[i]);
    }
    free(env->gate_pool);
}

/* An OFD lock request on [start, start + len) of fd; 0 or errno. */
static int ofd(int fd, int cmd, short type, int64_t start, int64_t len)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    while (fcntl(fd, cmd, &fl) != 0) {
        if (errno != EINTR)
            return errno;
    }
    return 0;
}

/* Walks the ticket bytes in [lo, hi) that another descriptor holds write-locked. Returns the highest
 * (-1 if none) and their number in *count (NULL: not wanted), or -2 on a lock error. */
static int64_t tickets_in(int fd, int64_t lo, int64_t hi, int64_t *count)
{
    int64_t top = -1, n = 0;
    while (lo < hi) {
        /* A read-lock probe reports only write locks: the waiters' read locks stay invisible. */
        struct flock q = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = lo, .l_len = hi - lo};
        if (fcntl(fd, F_OFD_GETLK, &q) != 0)
            return -2;
        if (q.l_type == F_UNLCK)
            break;
        int64_t end = q.l_len == 0 ? hi : MIN((int64_t)(q.l_start + q.l_len), hi);
        top = MAX(top, end - 1);
        n += end - MAX((int64_t)q.l_start, lo);
        lo = end;  /* F_GETLK reports any one conflicting lock: continue past it */
    }
    if (count)
        *count = n;
    return top;
}

/* Takes the next ticket on fd. 0, ETIMEDOUT, or another errno. */
static int take_ticket(int fd, int64_t deadline, int64_t *ticket)
{
    int64_t pause = 25;
    for (;;) {
        int e = ofd(fd, F_OFD_SETLK, F_WRLCK, GATE_JOIN, 1);
        if (!e) {
            int64_t top = tickets_in(fd, GATE_TICKET0, GATE_TICKET0 + GATE_TICKETS, NULL);
            int64_t t = top < 0 ? GATE_TICKET0 : top + 1;
            if (top == -2)
                e = errno;
            else if (t < GATE_TICKET0 + GATE_TICKETS)
                e = ofd(fd, F_OFD_SETLK, F_WRLCK, t, 1);
            else
                e = EAGAIN;  /* 2^39 turns without the queue ever emptying: wait for it to empty */
            ofd(fd, F_OFD_SETLK, F_UNLCK, GATE_JOIN, 1);
            if (!e) {
                *ticket = t;
                return 0;
            }
        }
        if (e != EAGAIN && e != EACCES)
            return e;
        /* The join lock is held for a few system calls: yield first, then pause briefly, so that
         * writers arriving meanwhile rarely take their tickets first. */
        if (now_ms() >= deadline)
            return ETIMEDOUT;
        if (pause < 200)
            sched_yield();
        else
            sleep_us(pause);
        pause = MIN(pause * 2, 1000);
    }
}

typedef struct turn_wait {
    int fd;
    int64_t ticket;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int err;
} turn_wait;

/* The blocking call of turn_main, kept out of AddressSanitizer's instrumentation: a cancelled thread's
 * frames are unwound without running their epilogues, and the stack redzones they leave poisoned made
 * ASan report a (false) stack-buffer-overflow when the thread exited. */
__attribute__((noinline, no_sanitize_address)) static int turn_block(int fd, int64_t len)
{
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = GATE_TICKET0, .l_len = len};
    while (fcntl(fd, F_OFD_SETLKW, &fl) != 0) {
        if (errno != EINTR)
            return errno;
    }
    return 0;
}

/* Blocks until no ticket below w->ticket is held. F_OFD_SETLKW has no timeout but is a cancellation
 * point: the waiting thread cancels this one when its busy timeout expires. */
static void *turn_main(void *p)
{
    turn_wait *w = p;
    int e = turn_block(w->fd, w->ticket - GATE_TICKET0);
    pthread_mutex_lock(&w->mu);
    w->done = true;
    w->err = e;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Waits for ticket's turn until deadline (CLOCK_MONOTONIC ms). 0, ETIMEDOUT or another errno. */
static int wait_turn(int fd, int64_t ticket, int64_t deadline)
{
    int64_t len = ticket - GATE_TICKET0;
    if (len == 0)
        return 0;
    int e = ofd(fd, F_OFD_SETLK, F_RDLCK, GATE_TICKET0, len);
    if (e != EAGAIN && e != EACCES)
        goto out;
    turn_wait w = {.fd = fd, .ticket = ticket};
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t th;
    if (pthread_create(&th, NULL, turn_main, &w) != 0) {
        /* No thread to spare: poll instead (still in turn, only with a slower hand-over). */
        while ((e == EAGAIN || e == EACCES) && now_ms() < deadline) {
            sleep_us(1000);
            e = ofd(fd, F_OFD_SETLK, F_RDLCK, GATE_TICKET0, len);
        }
        if (e == EAGAIN || e == EACCES)
            e = ETIMEDOUT;
    } else {
        struct timespec ts = {(time_t)(deadline / 1000), (long)(deadline % 1000) * 1000000L};
        pthread_mutex_lock(&w.mu);
        while (!w.done && pthread_cond_timedwait(&w.cv, &w.mu, &ts) != ETIMEDOUT)
            ;
        bool done = w.done;
        pthread_mutex_unlock(&w.mu);
        if (!done)
            pthread_cancel(th);
        pthread_join(th, NULL);
        e = w.done ? w.err : ETIMEDOUT;  /* done even if cancelled late: the turn came */
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
out:
    ofd(fd, F_OFD_SETLK, F_UNLCK, GATE_TICKET0, len);  /* the read lock was only a way to wait */
    return e;
}

/* Names the gate's holder for a BUSY message: this process's pid for another of its threads, the pid
 * (and command name) F_GETLK reports for another process, or a process of another PID namespace
 * (F_GETLK reports pid 0 for a holder this process cannot see, e.g. in another container). */
static void describe_holder(store_env *env, char *out, size_t n)
{
    pthread_mutex_lock(&env->gate_mu);
    int mine = env->gate_held;
    pthread_mutex_unlock(&env->gate_mu);
    if (mine) {
        snprintf(out, n, "another thread of this process (pid %d)", (int)getpid());
        return;
    }
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = GATE_BYTE, .l_len = 1};
    if (fcntl(env->lock_fd, F_GETLK, &q) != 0 || q.l_type == F_UNLCK) {
        snprintf(out, n, "another process (it is handing the write lock over)");
        return;
    }
    if (q.l_pid <= 0) {
        snprintf(out, n, "a process in another PID namespace (e.g. another container; its pid is not visible "
                         "from this one)");
        return;
    }
    char path[64], name[64] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)q.l_pid);
    FILE *f = fopen(path, "re");
    if (f) {
        if (fgets(name, sizeof name, f))
            name[strcspn(name, "\n")] = 0;
        fclose(f);
    }
    if (name[0])
        snprintf(out, n, "process %d (%s)", (int)q.l_pid, name);
    else
        snprintf(out, n, "process %d", (int)q.l_pid);
}

static int busy_err(store_env *env, int fd, int64_t ticket, int timeout_ms, factdb_error *err)
{
    char who[200];
    describe_holder(env, who, sizeof who);
    int64_t ahead = 0;
    if (ticket > GATE_TICKET0 && tickets_in(fd, GATE_TICKET0, ticket, &ahead) < 0)
        ahead = 0;
    char queue[80] = "";
    if (ahead > 1)
        snprintf(queue, sizeof queue, " (%lld writers were ahead in the queue)", (long long)ahead);
    return base_err(err, FACTDB_BUSY, "the database is being written by %s; waited %d ms for the write lock%s; "
                    "retry when it finishes, or raise the busy timeout", who, timeout_ms, queue);
}

int store_gate_acquire(store_env *env, int timeout_ms, factdb_error *err)
{
    if (env->read_only)
        return base_err(err, FACTDB_PERMISSION, "cannot write: the database is open read-only (%s)", env->ro_why);
    if (env->gate_forks != atomic_load(&forks))
        return base_err(err, FACTDB_INVALID_ARGUMENT, "cannot write: the database was opened before this process "
                        "was forked; open it again in the child process");
    if (timeout_ms < 0)
        timeout_ms = GATE_DEFAULT_TIMEOUT_MS;
    int64_t deadline = now_ms() + timeout_ms;
    int fd, rc = pool_get(env, &fd, err);
    if (rc)
        return rc;
    int64_t ticket = -1;
    int e = take_ticket(fd, deadline, &ticket);
    if (!e)
        e = wait_turn(fd, ticket, deadline);
    if (e) {
        rc = e == ETIMEDOUT ? busy_err(env, fd, ticket, timeout_ms, err)
                            : base_err(err, base_errno_code(e), "cannot take the write lock: %s", base_errno_text(e));
        goto fail;
    }
    /* Our turn. The flag and GATE_BYTE are free unless a thread released the gate without taking its
     * turn, or an older factdb binary (which does not queue) writes: wait for them as before. */
    pthread_mutex_lock(&env->gate_mu);
    while (env->gate_held) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&env->gate_cv, &env->gate_mu, &ts);
        if (env->gate_held && now_ms() >= deadline) {
            pthread_mutex_unlock(&env->gate_mu);
            rc = busy_err(env, fd, ticket, timeout_ms, err);
            goto fail;
        }
    }
    env->gate_held = 1;
    pthread_mutex_unlock(&env->gate_mu);
    int64_t pause = 1000;
    for (;;) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = GATE_BYTE, .l_len = 1};
        if (fcntl(env->lock_fd, F_SETLK, &fl) == 0)
            break;
        e = errno;
        if (e != EACCES && e != EAGAIN && e != EINTR) {
            rc = base_err(err, base_errno_code(e), "cannot take the write lock: %s", base_errno_text(e));
            goto unflag;
        }
        if (now_ms() >= deadline) {
            pthread_mutex_lock(&env->gate_mu);
            env->gate_held = 0;  /* so that describe_holder looks at other processes */
            pthread_mutex_unlock(&env->gate_mu);
            rc = busy_err(env, fd, ticket, timeout_ms, err);
            goto unflag;
        }
        sleep_us(pause);
        pause = MIN(pause * 2, 20000);
    }
    pthread_mutex_lock(&env->gate_mu);
    env->gate_fd = fd;
    env->gate_ticket = ticket;
    pthread_mutex_unlock(&env->gate_mu);
    return FACTDB_OK;
unflag:
    pthread_mutex_lock(&env->gate_mu);
    env->gate_held = 0;
    pthread_cond_signal(&env->gate_cv);
    pthread_mutex_unlock(&env->gate_mu);
fail:
    if (ticket >= 0)
        ofd(fd, F_OFD_SETLK, F_UNLCK, ticket, 1);
    pool_put(env, fd);
    return rc;
}

void store_gate_release(store_env *env)
{
    /* GATE_BYTE first, then the ticket: the next in line finds GATE_BYTE free when its turn comes. */
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = GATE_BYTE, .l_len = 1};
    fcntl(env->lock_fd, F_SETLK, &fl);
    pthread_mutex_lock(&env->gate_mu);
    int fd = env->gate_fd;
    int64_t ticket = env->gate_ticket;
    env->gate_fd = -1;
    env->gate_held = 0;
    pthread_cond_signal(&env->gate_cv);
    pthread_mutex_unlock(&env->gate_mu);
    if (fd >= 0) {
        ofd(fd, F_OFD_SETLK, F_UNLCK, ticket, 1);
        pool_put(env, fd);
    }
}

/* ---- transactions ---- */

int store_txn_read(store_env *env, store_txn **out, factdb_error *err)
{
    store_txn *t = malloc(sizeof *t);
    if (!t)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    t->env = env;
    t->write = 0;
    t->fresh = false;
    int rc = mdb_txn_begin(env->env, NULL, MDB_RDONLY, &t->txn);
    if (rc == MDB_READERS_FULL && !env->nolock) {
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
    t->fresh = false;
    /* Killed readers pin old pages until their slots are cleared; clear them before every write so
     * the file stops growing once they are gone. */
    if (env->read_only) {
        free(t);
        return base_err(err, FACTDB_PERMISSION, "cannot write: the database is open read-only (%s)", env->ro_why);
    }
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
    store_env *env = t->env;
    free(t);
    return rc ? store_commit_err(env, rc, "cannot commit", err) : FACTDB_OK;
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
        return store_read_only_err(db, err);
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

int store_write(factdb *db, int (*apply)(store_txn *t, void *ctx, factdb_error *err), void *ctx, factdb_error *err)
{
    if (db->read_only)
        return store_read_only_err(db, err);
    store_txn *x = store_xact_current(db);
    if (x)
        return apply(x, ctx, err);
    store_txn *t;
    int rc = store_xact_begin(db, &t, err);
    if (rc)
        return rc;
    /* the thread may have another handle's transaction bound: put it back afterwards */
    factdb *saved_db = tl_db;
    store_txn *saved_txn = tl_txn;
    t->fresh = true;
    store_xact_bind(db, t);
    rc = apply(t, ctx, err);
    if (rc)
        store_xact_rollback(db, t);
    else
        rc = store_xact_commit(db, t, err);
    tl_db = saved_db, tl_txn = saved_txn;
    return rc;
}

/* A child of fork() inherits the thread's open BEGIN ... COMMIT; LMDB's transaction may not be used there, so
 * the child sees none and its writes go to the gate, which refuses them with the fork message. */
store_txn *store_xact_current(factdb *db)
{
    return tl_txn && tl_db == db && db->env->gate_forks == atomic_load(&forks) ? tl_txn : NULL;
}

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
