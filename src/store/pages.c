/* pages.c: checks the B-tree pages of LMDB's snapshot before LMDB's own code walks them. LMDB has no page
 * checksums and trusts every page header and node it reads, so one damaged byte in a branch or leaf page
 * (a bound, a node offset, a size, a child page number) can make it read outside the file or follow a
 * wild pointer, and the process dies inside liblmdb. This walk reads every branch and leaf page reachable
 * from the newest meta page (the free list, the main database and the named databases in it) and the
 * first page of every overflow run, through the memory map, checking each against the layout that LMDB
 * 0.9's mdb.c writes (constants below), and never touching a byte that the file does not hold.
 * Invariants: it runs inside a read transaction, so the pages of its snapshot cannot be reused meanwhile;
 * a page is visited at most once (a tree never shares pages, so a second visit is damage, and a cycle
 * cannot make the walk loop). Free-list entries are only range-checked: under concurrent writers a page
 * of the snapshot may legitimately be named in its free list as well (measured: a false CORRUPT when that
 * was treated as damage). */
#include "store_int.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* LMDB 0.9 on 64-bit Linux (mdb.c): the page header, nodes and the meta page. */
#define PAGEHDRSZ 16
#define NODESIZE 8
#define P_BRANCH 0x01
#define P_LEAF 0x02
#define P_OVERFLOW 0x04
#define F_BIGDATA 0x01
#define F_SUBDATA 0x02
#define F_DUPDATA 0x04
#define MDB_MAGIC_NUM 0xBEEFC0DEu
#define META_DBS 24      /* offset of mm_dbs in MDB_meta */
#define DB_SIZE 48       /* sizeof(MDB_db) */
#define DB_DEPTH 6       /* md_depth (uint16) */
#define DB_ROOT 40       /* md_root (pgno_t) */
#define META_TXNID 128   /* mm_txnid */
#define P_INVALID UINT64_MAX
#define MAX_DEPTH 32

typedef struct walk {
    const unsigned char *base;
    uint64_t psize, pages;  /* pages: how many the snapshot may use (last page + 1), capped by the file */
    uint64_t file_pages;
    unsigned char *seen;    /* one bit per page */
    const char *path;
    factdb_error *err;
} walk;

static uint16_t get16(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static int damaged(walk *w, uint64_t pg, const char *what)
{
    return base_err(w->err, FACTDB_CORRUPT,
                    "the database file \"%s\" is damaged: LMDB page %llu %s; run factdb check, and restore the "
                    "file from a backup", w->path, (unsigned long long)pg, what);
}

static int truncated(walk *w, uint64_t pg)
{
    return base_err(w->err, FACTDB_CORRUPT,
                    "the file \"%s\" is truncated: page %llu, which it needs, lies past its end; restore it from a "
                    "backup", w->path, (unsigned long long)pg);
}

/* The page `pg`, or NULL (with the error set) when it is outside the snapshot or the file, or seen before. */
static const unsigned char *page_at(walk *w, uint64_t pg, const char *role)
{
    if (pg < 2 || pg >= w->pages) {
        damaged(w, pg, role);
        return NULL;
    }
    if (pg >= w->file_pages) {
        truncated(w, pg);
        return NULL;
    }
    if (w->seen[pg / 8] >> (pg % 8) & 1) {
        damaged(w, pg, "is reached twice (a damaged child page number)");
        return NULL;
    }
    w->seen[pg / 8] |= (unsigned char)(1u << (pg % 8));
    const unsigned char *p = w->base + pg * w->psize;
    if (get64(p) != pg) {
        damaged(w, pg, "does not carry its own page number");
        return NULL;
    }
    return p;
}

/* The overflow run that holds a big value of `size` bytes, starting at page `pg`. */
static int check_overflow(walk *w, uint64_t pg, uint64_t size)
{
    const unsigned char *p = page_at(w, pg, "(an overflow run) is outside the file");
    if (!p)
        return FACTDB_CORRUPT;
    uint32_t n;
    memcpy(&n, p + 12, 4);
    if (get16(p + 10) != P_OVERFLOW || n == 0 || pg + n > w->pages || (uint64_t)n * w->psize < size + PAGEHDRSZ)
        return damaged(w, pg, "has a damaged overflow header");
    if (pg + n > w->file_pages)  /* a sound run that the file's end cuts */
        return truncated(w, w->file_pages);
    return FACTDB_OK;
}

static int check_tree(walk *w, uint64_t root, unsigned depth, bool main_db);

/* Node `i` of a page at `off` with header bounds already checked: its key and data lie inside the page. */
static int check_node(walk *w, uint64_t pg, const unsigned char *p, unsigned off, bool leaf, bool main_db,
                      unsigned depth_left)
{
    if (off < PAGEHDRSZ || off + NODESIZE > w->psize)
        return damaged(w, pg, "has a node outside the page");
    const unsigned char *n = p + off;
    uint64_t lo = get16(n), hi = get16(n + 2), flags = get16(n + 4), ksize = get16(n + 6);
    if (off + NODESIZE + ksize > w->psize)
        return damaged(w, pg, "has a key that runs past the page");
    if (!leaf) {
        uint64_t child = lo | hi << 16 | flags << 32;
        return check_tree(w, child, depth_left - 1, main_db);
    }
    uint64_t dsize = lo | hi << 16, at = off + NODESIZE + ksize;
    if (flags & F_DUPDATA || (flags & F_SUBDATA && !main_db))
        return damaged(w, pg, "has a node with flags factdb never writes");
    if (flags & F_BIGDATA) {
        if (at + 8 > w->psize)
            return damaged(w, pg, "has a big value's page number past the page");
        return check_overflow(w, get64(p + at), dsize);
    }
    if (at + dsize > w->psize)
        return damaged(w, pg, "has a value that runs past the page");
    if (flags & F_SUBDATA) {  /* a named database of the main one: its MDB_db record */
        if (dsize != DB_SIZE)
            return damaged(w, pg, "has a damaged named-database record");
        uint64_t sub = get64(p + at + DB_ROOT);
        unsigned d = get16(p + at + DB_DEPTH);
        if (sub == P_INVALID)
            return FACTDB_OK;
        if (d == 0 || d > MAX_DEPTH)
            return damaged(w, pg, "has a named database of impossible depth");
        return check_tree(w, sub, d, false);
    }
    return FACTDB_OK;
}

/* The subtree at page `root`, whose leaves lie `depth` levels down (1: root is a leaf). */
static int check_tree(walk *w, uint64_t root, unsigned depth, bool main_db)
{
    const unsigned char *p = page_at(w, root, depth > 1 ? "(a branch page) is outside the file"
                                                         : "(a leaf page) is outside the file");
    if (!p)
        return FACTDB_CORRUPT;
    uint16_t flags = get16(p + 10), lower = get16(p + 12), upper = get16(p + 14);
    bool leaf = depth == 1;
    /* exactly: a P_DIRTY (0x10) bit read from the file made LMDB write into the read-only map */
    if (flags != (leaf ? P_LEAF : P_BRANCH))
        return damaged(w, root, leaf ? "should be a leaf page but is not" : "should be a branch page but is not");
    if (lower < PAGEHDRSZ || (lower - PAGEHDRSZ) % 2 || lower > upper || upper > w->psize)
        return damaged(w, root, "has damaged bounds");
    unsigned nkeys = (lower - PAGEHDRSZ) / 2;
    if (!leaf && nkeys == 0)
        return damaged(w, root, "is a branch page without children");
    for (unsigned i = 0; i < nkeys; i++) {
        unsigned off = get16(p + PAGEHDRSZ + 2 * i);
        if (off < upper)
            return damaged(w, root, "has a node below its bounds");
        int rc = check_node(w, root, p, off, leaf, main_db, depth);
        if (rc)
            return rc;
    }
    return FACTDB_OK;
}

/* The free list's values are page lists (ids[0] = count): every page named must exist. */
static int check_free_lists(walk *w, MDB_txn *txn)
{
    MDB_cursor *c;
    if (mdb_cursor_open(txn, 0, &c))
        return FACTDB_OK;
    MDB_val k, v;
    int op = MDB_FIRST, rc = FACTDB_OK;
    while (!rc && mdb_cursor_get(c, &k, &v, op) == 0) {
        op = MDB_NEXT;
        const unsigned char *ids = v.mv_data;
        size_t n = v.mv_size / 8;
        if (v.mv_size % 8 || n == 0 || get64(ids) != n - 1) {
            rc = damaged(w, 0, "(the free list) holds a damaged page list");
            break;
        }
        for (size_t i = 1; i < n; i++) {
            uint64_t pg = get64(ids + 8 * i);
            if (pg < 2 || pg >= w->pages) {
                rc = damaged(w, pg, "is named in the free list but lies outside the file");
                break;
            }
        }
    }
    mdb_cursor_close(c);
    return rc;
}

int store_pages_check(store_env *e, const char *path, factdb_error *err)
{
    if (e->map_slot < 0)
        return FACTDB_OK;  /* the map's address is unknown: nothing can be read safely */
    MDB_stat mst;
    if (mdb_env_stat(e->env, &mst))
        return FACTDB_OK;
    walk w = {.psize = mst.ms_psize, .path = path, .err = err};
    w.base = (const unsigned char *)store_map_base(e);
    if (!w.base)
        return FACTDB_OK;
    MDB_txn *txn;
    if (mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn))
        return FACTDB_OK;  /* the caller's own first read reports it */
    /* The file's length after the snapshot is taken: a writer writes its pages before its meta page, so
     * every page of our snapshot is in the file by now (measured before, a commit in between made a false
     * "truncated"). */
    struct stat st;
    int rc = FACTDB_OK;
    const unsigned char *slot = NULL;  /* our snapshot's meta page in the map */
    if (stat(path, &st) != 0 || (w.file_pages = (uint64_t)st.st_size / w.psize) < 2)
        goto out;
    /* Our snapshot's meta page is not protected by the read transaction: the second commit after it
     * rewrites its slot (LMDB alternates two), and a walk from roots read half before and half after that
     * finds pages outside the snapshot (measured: a false "overflow run is outside the file" with a load
     * committing per chunk beside two servers). So its fields are copied at once, the copy is kept only
     * if the slot still holds our transaction after copying, and damage found is reported only if the
     * slot still holds it when the walk ends (a rewrite mid-copy has ended by then). */
    uint64_t id = mdb_txn_id(txn);
    unsigned char meta[META_TXNID + 8];
    for (int m = 0; m < 2 && !slot; m++) {
        const unsigned char *mp = w.base + (uint64_t)m * w.psize + PAGEHDRSZ;
        memcpy(meta, mp, sizeof meta);
        uint32_t magic;
        memcpy(&magic, meta, 4);
        if (magic == MDB_MAGIC_NUM && get64(meta + META_TXNID) == id && get64(mp + META_TXNID) == id)
            slot = mp;
    }
    MDB_envinfo info;
    if (!slot || mdb_env_info(e->env, &info))
        goto out;  /* a commit overwrote our snapshot's meta page meanwhile: the next open checks */
    w.pages = get64(meta + META_DBS + 2 * DB_SIZE) + 1;  /* mm_last_pg */
    if (w.pages > (uint64_t)info.me_last_pgno + 1 || w.pages < 2) {
        rc = damaged(&w, 0, "(a meta page) names an impossible last page");
        goto out;
    }
    w.seen = calloc(w.pages / 8 + 1, 1);
    if (!w.seen) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory checking the database file");
        goto out;
    }
    for (int db = 0; db < 2 && !rc; db++) {  /* 0: LMDB's free list, 1: the main database */
        const unsigned char *d = meta + META_DBS + (size_t)db * DB_SIZE;
        uint64_t root = get64(d + DB_ROOT);
        unsigned depth = get16(d + DB_DEPTH);
        if (root == P_INVALID)
            continue;
        if (depth == 0 || depth > MAX_DEPTH)
            rc = damaged(&w, root, "is the root of a tree of impossible depth");
        else
            rc = check_tree(&w, root, depth, db == 1);
    }
    if (!rc)
        rc = check_free_lists(&w, txn);
out:
    if (rc == FACTDB_CORRUPT && slot && get64(slot + META_TXNID) != id) {
        rc = FACTDB_OK;  /* the walk raced a rewrite of the meta page: inconclusive, the next open checks */
        *err = (factdb_error){.offset = -1};
    }
    free(w.seen);
    mdb_txn_abort(txn);
    return rc;
}
