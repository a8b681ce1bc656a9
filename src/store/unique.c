/* unique.c: PRIMARY KEY and UNIQUE constraints. One LMDB database, `unique`, maps each live key to the row
 * that holds it: key (u32 BE table id, u8 constraint, 8 bytes per column), value (u64 LE chunk id, u32 LE
 * row). Keys are claimed in the write transaction that writes their rows, so the check and the rows commit
 * together and the write gate serializes every check across threads and processes.
 * Invariant: every live row with no NULL in a constraint's columns has its key there, pointing at it. Entries
 * are never removed when rows die (DELETE, UPDATE, a discarded load, a merge): a claim that finds its key
 * held by a dead row simply takes it over, and a merge points its rows' keys at their new places. DROP and
 * TRUNCATE remove a table's entries. */
#include "store_int.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIQUE_VALUE_LEN 12

/* The `unique` database inside write transaction t; *absent when it was never created (then no table has
 * a constraint). Opened in write transactions only (under the gate, so never from two transactions of one
 * process at once), and opened again in each: a handle first opened in a transaction that aborts is closed
 * by LMDB with it, and when the database is already open LMDB returns the same handle at once. */
static int uniq_dbi(store_txn *t, bool create, MDB_dbi *dbi, bool *absent, factdb_error *err)
{
    *absent = false;
    int rc = mdb_dbi_open(t->txn, "unique", create ? MDB_CREATE : 0, dbi);
    if (rc == MDB_NOTFOUND && !create) {
        *absent = true;
        return FACTDB_OK;
    }
    return rc ? store_mdb_err(err, rc, "cannot open the unique-key index") : FACTDB_OK;
}

/* PostgreSQL's default constraint name: t_pkey, t_a_b_key. */
static void default_name(const store_table *tab, bool primary, const uint16_t *cols, int ncols, char *out,
                         size_t cap)
{
    size_t o = (size_t)snprintf(out, cap, "%s", tab->name);
    if (primary) {
        snprintf(out + MIN(o, cap - 1), cap - MIN(o, cap - 1), "_pkey");
        return;
    }
    for (int i = 0; i < ncols && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "_%s", tab->cols[cols[i]].name);
    if (o < cap)
        snprintf(out + o, cap - o, "_key");
}

int store_table_add_unique(store_table *tab, const char *name, bool primary, const uint16_t *cols, int ncols,
                           factdb_error *err)
{
    if (tab->nuniq == STORE_UNIQUE_MAX)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "table \"%s\" may have at most %d PRIMARY KEY and UNIQUE "
                        "constraints", tab->name, STORE_UNIQUE_MAX);
    if (ncols < 1 || ncols > STORE_UNIQUE_COLS)
        return base_err(err, FACTDB_INVALID_ARGUMENT, "a PRIMARY KEY or UNIQUE constraint takes 1 to %d columns",
                        STORE_UNIQUE_COLS);
    for (int u = 0; primary && u < tab->nuniq; u++)
        if (tab->uniq[u].primary)
            return base_err(err, FACTDB_INVALID_ARGUMENT, "multiple primary keys for table \"%s\" are not allowed",
                            tab->name);
    /* the same columns twice is one constraint (PostgreSQL drops the repeated index), primary if either is */
    for (int u = 0; u < tab->nuniq; u++) {
        store_unique *o = &tab->uniq[u];
        if (o->ncols != ncols || memcmp(o->cols, cols, (size_t)ncols * sizeof *cols))
            continue;
        if (primary && !o->primary) {
            o->primary = 1;
            for (int i = 0; i < ncols; i++)
                tab->cols[cols[i]].flags |= STORE_COL_NOT_NULL;
            if (name)
                snprintf(o->name, sizeof o->name, "%s", name);
            else
                default_name(tab, true, cols, ncols, o->name, sizeof o->name);
        }
        return FACTDB_OK;
    }
    store_unique *n = &tab->uniq[tab->nuniq];
    memset(n, 0, sizeof *n);
    for (int i = 0; i < ncols; i++) {
        if (cols[i] >= tab->ncols)
            return base_err(err, FACTDB_INTERNAL, "a constraint names column %u of %u", cols[i], tab->ncols);
        for (int j = 0; j < i; j++)
            if (cols[j] == cols[i])
                return base_err(err, FACTDB_INVALID_ARGUMENT, "column \"%s\" appears twice in %s constraint",
                                tab->cols[cols[i]].name, primary ? "primary key" : "unique");
        n->cols[i] = cols[i];
        if (primary)
            tab->cols[cols[i]].flags |= STORE_COL_NOT_NULL;  /* PRIMARY KEY implies NOT NULL */
    }
    n->ncols = (uint8_t)ncols;
    n->primary = primary;
    char base[FACTDB_NAME_MAX + 1];
    if (name)
        snprintf(base, sizeof base, "%s", name);
    else
        default_name(tab, primary, cols, ncols, base, sizeof base);
    snprintf(n->name, sizeof n->name, "%s", base);
    for (int k = 1;; k++) {
        bool taken = false;
        for (int u = 0; u < tab->nuniq; u++)
            taken |= !strcmp(tab->uniq[u].name, n->name);
        if (!taken)
            break;
        if (name)
            return base_err(err, FACTDB_INVALID_ARGUMENT, "constraint \"%s\" for relation \"%s\" already exists",
                            name, tab->name);
        char num[12];
        int nl = snprintf(num, sizeof num, "%d", k);
        size_t keep = MIN(strlen(base), (size_t)(FACTDB_NAME_MAX - nl));
        snprintf(n->name, sizeof n->name, "%.*s%s", (int)keep, base, num);
    }
    tab->nuniq++;
    return FACTDB_OK;
}

/* 8 bytes per value whose order is the signed order of the 64-bit value; only equality matters. Doubles
 * equal as SQL values get equal bytes: -0 is 0, every NaN one NaN (PostgreSQL: NaN = NaN). */
static void put_value(unsigned char *p, int type, int64_t v)
{
    if (type == FACTDB_DOUBLE) {
        double d;
        memcpy(&d, &v, 8);
        if (d == 0)
            d = 0;
        else if (isnan(d))
            d = NAN;
        memcpy(&v, &d, 8);
    }
    base_put_be64(p, (uint64_t)v ^ (1ull << 63));
}

size_t store_unique_key(const store_table *tab, int u, const int64_t *const *vals, const uint8_t *const *valid,
                        uint32_t row, unsigned char *key)
{
    const store_unique *c = &tab->uniq[u];
    base_put_be32(key, tab->id);
    key[4] = (unsigned char)u;
    for (int i = 0; i < c->ncols; i++) {
        uint16_t col = c->cols[i];
        if (valid[col] && !valid[col][row])
            return 0;
        put_value(key + 5 + 8 * i, tab->cols[col].type, vals[col][row]);
    }
    return 5 + 8 * (size_t)c->ncols;
}

int store_unique_row_live(store_txn *t, uint32_t table, uint64_t chunk_id, uint32_t row, bool *live,
                          factdb_error *err)
{
    *live = false;
    unsigned char key[14];
    store_chunk_key(key, table, chunk_id, STORE_COL_HEADER);
    MDB_val k = {14, key}, v;
    int rc = mdb_get(t->txn, t->env->chunks, &k, &v);
    if (rc == MDB_NOTFOUND)
        return FACTDB_OK;  /* deleted whole, merged away, truncated or a discarded load's */
    if (rc)
        return store_mdb_err(err, rc, "cannot read a chunk header");
    store_chunk_header h;
    const char *why;
    if (store_chunk_header_parse(v.mv_data, v.mv_size, &h, &why))
        return base_err(err, FACTDB_CORRUPT, "table %u, chunk %llu: %s; run factdb check", table,
                        (unsigned long long)chunk_id, why);
    uint32_t rows = h.rows, deleted = h.deleted;
    free(h.cols);
    if (row >= rows)
        return FACTDB_OK;
    if (deleted) {
        store_chunk_key(key, table, chunk_id, STORE_COL_DELETED);
        MDB_val bk = {14, key}, bv;
        if ((rc = mdb_get(t->txn, t->env->chunks, &bk, &bv)))
            return rc == MDB_NOTFOUND ? base_err(err, FACTDB_CORRUPT, "table %u, chunk %llu: its deletion bitmap "
                                                 "is missing; run factdb check", table, (unsigned long long)chunk_id)
                                      : store_mdb_err(err, rc, "cannot read a deletion bitmap");
        if ((size_t)row / 8 >= bv.mv_size)
            return base_err(err, FACTDB_CORRUPT, "table %u, chunk %llu: its deletion bitmap is too short; run "
                            "factdb check", table, (unsigned long long)chunk_id);
        if (((const unsigned char *)bv.mv_data)[row / 8] >> (row % 8) & 1)
            return FACTDB_OK;
    }
    *live = true;
    return FACTDB_OK;
}

static void put_location(unsigned char *v, uint64_t chunk_id, uint32_t row)
{
    memcpy(v, &chunk_id, 8);
    memcpy(v + 8, &row, 4);
}


/* Every key of row r of a chunk, pointing at (chunk_id, r). */
static int put_row_keys(store_txn *t, MDB_dbi dbi, const store_table *tab, const store_chunk_in *in, uint64_t chunk_id,
                        uint32_t r, factdb_error *err)
{
    unsigned char key[STORE_UNIQUE_KEY_MAX], val[UNIQUE_VALUE_LEN];
    put_location(val, chunk_id, r);
    for (int u = 0; u < tab->nuniq; u++) {
        size_t kl = store_unique_key(tab, u, in->vals, in->valid, r, key);
        MDB_val k = {kl, key}, v = {UNIQUE_VALUE_LEN, val};
        int rc = kl ? mdb_put(t->txn, dbi, &k, &v, 0) : 0;
        if (rc)
            return store_mdb_err(err, rc, "cannot write the unique-key index");
    }
    return FACTDB_OK;
}

int store_unique_claim(store_txn *t, const store_table *tab, uint64_t chunk_id, const store_chunk_in *in,
                       store_conflict_mode mode, int only, uint8_t *skip, store_conflict *conflicts, size_t *nconf,
                       factdb_error *err)
{
    if (nconf)
        *nconf = 0;
    if (!tab->nuniq)
        return FACTDB_OK;
    MDB_dbi dbi;
    bool absent;
    int rc = uniq_dbi(t, true, &dbi, &absent, err);
    unsigned char key[STORE_UNIQUE_KEY_MAX];
    for (uint32_t r = 0; !rc && r < in->rows; r++) {
        /* first every constraint's check, then the claims: a row left out claims nothing */
        int hit = -1;
        uint64_t with_chunk = 0;
        uint32_t with_row = 0;
        for (int i = 0; !rc && i < tab->nuniq && hit < 0; i++) {
            /* ON CONFLICT's constraint first: a row it skips is skipped even if it collides on another too,
             * as PostgreSQL checks its arbiter index before inserting */
            int u = mode != STORE_CONFLICT_SKIP || only < 0 ? i : i == 0 ? only : i <= only ? i - 1 : i;
            size_t kl = store_unique_key(tab, u, in->vals, in->valid, r, key);
            if (!kl)
                continue;
            MDB_val k = {kl, key}, v;
            if ((rc = mdb_get(t->txn, dbi, &k, &v))) {
                rc = rc == MDB_NOTFOUND ? 0 : store_mdb_err(err, rc, "cannot read the unique-key index");
                continue;
            }
            if (v.mv_size != UNIQUE_VALUE_LEN) {
                rc = base_err(err, FACTDB_CORRUPT, "an entry of the unique-key index of table \"%s\" is damaged; "
                              "run factdb check", tab->name);
                break;
            }
            uint64_t ch;
            uint32_t row;
            memcpy(&ch, v.mv_data, 8);
            memcpy(&row, (const char *)v.mv_data + 8, 4);
            /* a row of this chunk claimed it a moment ago (rows left out claim nothing) */
            bool live = ch == chunk_id && row < r;
            if (!live && ch != chunk_id && (rc = store_unique_row_live(t, tab->id, ch, row, &live, err)))
                break;
            if (live)
                hit = u, with_chunk = ch, with_row = row;
        }
        if (rc)
            break;
        if (hit >= 0) {
            store_conflict c = {r, hit, with_chunk, with_row, 0, {0}};
            c.key_len = (uint32_t)store_unique_key(tab, hit, in->vals, in->valid, r, c.key);
            if (mode == STORE_CONFLICT_SKIP && (only < 0 || only == hit) && skip) {
                skip[r] = 1;
                if (conflicts)
                    conflicts[(*nconf)++] = c;
                continue;
            }
            if (conflicts)
                conflicts[0] = c;
            return base_err(err, FACTDB_UNIQUE_VIOLATION, "duplicate key value violates unique constraint \"%s\"",
                            tab->uniq[hit].name);
        }
        rc = put_row_keys(t, dbi, tab, in, chunk_id, r, err);
    }
    return rc;
}

int store_unique_place(store_txn *t, const store_table *tab, uint64_t chunk_id, const store_chunk_in *in,
                       factdb_error *err)
{
    if (!tab->nuniq)
        return FACTDB_OK;
    MDB_dbi dbi;
    bool absent;
    int rc = uniq_dbi(t, true, &dbi, &absent, err);
    for (uint32_t r = 0; !rc && r < in->rows; r++)
        rc = put_row_keys(t, dbi, tab, in, chunk_id, r, err);
    return rc;
}

int store_unique_drop(store_txn *t, uint32_t table, factdb_error *err)
{
    MDB_dbi dbi;
    bool absent;
    int rc = uniq_dbi(t, false, &dbi, &absent, err);
    if (rc || absent)
        return rc;
    unsigned char prefix[4];
    base_put_be32(prefix, table);
    return store_delete_prefix(t, dbi, prefix, 4, err);
}

int store_unique_lookup(store_txn *t, const unsigned char *key, size_t key_len, bool *found, uint64_t *chunk_id,
                        uint32_t *row, factdb_error *err)
{
    *found = false;
    MDB_dbi dbi;
    bool absent;
    int rc = uniq_dbi(t, false, &dbi, &absent, err);
    if (rc || absent)
        return rc;
    MDB_val k = {key_len, (void *)key}, v;
    if ((rc = mdb_get(t->txn, dbi, &k, &v)))
        return rc == MDB_NOTFOUND ? FACTDB_OK : store_mdb_err(err, rc, "cannot read the unique-key index");
    if (v.mv_size != UNIQUE_VALUE_LEN)
        return base_err(err, FACTDB_CORRUPT, "an entry of the unique-key index is damaged; run factdb check");
    memcpy(chunk_id, v.mv_data, 8);
    memcpy(row, (const char *)v.mv_data + 8, 4);
    uint32_t table = base_get_be32(key);
    return store_unique_row_live(t, table, *chunk_id, *row, found, err);
}

int store_unique_verify(store_txn *t, const store_table *tab, const store_chunk_ref *ch, const int64_t *const *vals,
                        const uint8_t *const *valid, void (*problem)(void *ctx, const char *msg), void *ctx)
{
    if (!tab->nuniq)
        return FACTDB_OK;
    if (!t->env->uniq_at_open)
        return FACTDB_OK;  /* created after this process opened the file: verified by a fresh factdb check */
    unsigned char key[STORE_UNIQUE_KEY_MAX];
    char msg[300];
    for (uint32_t r = 0; r < ch->hdr.rows; r++) {
        if (ch->deleted && (ch->deleted[r / 8] >> (r % 8) & 1))
            continue;
        for (int u = 0; u < tab->nuniq; u++) {
            size_t kl = store_unique_key(tab, u, vals, valid, r, key);
            if (!kl)
                continue;
            MDB_val k = {kl, key}, v;
            int rc = mdb_get(t->txn, t->env->uniq, &k, &v);
            uint64_t c = 0;
            uint32_t row = 0;
            if (!rc && v.mv_size == UNIQUE_VALUE_LEN) {
                memcpy(&c, v.mv_data, 8);
                memcpy(&row, (const char *)v.mv_data + 8, 4);
            }
            if (rc == MDB_NOTFOUND || (!rc && v.mv_size != UNIQUE_VALUE_LEN))
                snprintf(msg, sizeof msg, "table \"%s\", chunk %llu, row %u: its key of constraint \"%s\" is %s "
                         "the unique-key index", tab->name, (unsigned long long)ch->id, r, tab->uniq[u].name,
                         rc ? "missing from" : "damaged in");
            else if (rc)
                snprintf(msg, sizeof msg, "table \"%s\": cannot read the unique-key index (LMDB error %d)",
                         tab->name, rc);
            else if (c != ch->id || row != r)
                snprintf(msg, sizeof msg, "table \"%s\", chunk %llu, row %u: its key of constraint \"%s\" points "
                         "at chunk %llu, row %u (a duplicate key, or a stale entry)", tab->name,
                         (unsigned long long)ch->id, r, tab->uniq[u].name, (unsigned long long)c, row);
            else
                continue;
            problem(ctx, msg);
        }
    }
    return FACTDB_OK;
}
