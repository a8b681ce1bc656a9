/* agg.c: grouping and aggregate states. Groups live in a table keyed by one 64-bit word per key (the
 * value, a dictionary code, normalized double bits, or a string's hash with the string compared in
 * full). When every key is a dictionary-coded text or a boolean and the key space is small, a dense array
 * maps the combined codes straight to the group ("perfect hashing"); otherwise open addressing. Each
 * worker thread aggregates into its own table; the tables merge at the end. */
#include "agg.h"
#include <math.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#define STATE 32

/* Large group arrays are read at random: with 4 KiB pages nearly every probe of a table of a million
 * groups also misses the TLB. Arrays of 2 MiB or more are 2 MiB-aligned and advised as huge pages
 * (transparent huge pages in "madvise" mode, Debian's default). */
#define HUGE_PAGE ((size_t)2 << 20)

static void *big_alloc(size_t n)
{
    if (n < HUGE_PAGE)
        return malloc(n ? n : 1);
    return base_pool_get(n);  /* 2 MiB-aligned huge pages, or a pooled block of a query before */
}

/* Frees what big_alloc(n) returned: big blocks go back to the process's pool, so the next large grouping
 * writes into pages it already has instead of faulting in (and the kernel zeroing) fresh ones: 6M groups
 * spent 30% of the query in the kernel's page clearing. */
static void big_free(void *p, size_t n)
{
    if (n < HUGE_PAGE)
        free(p);
    else
        base_pool_put(p, n);
}

/* realloc for big_alloc'ed memory (copies; the old block is freed). */
static void *big_realloc(void *old, size_t old_n, size_t n)
{
    if (n < HUGE_PAGE)
        return realloc(old, n);
    void *p = big_alloc(n);
    if (p && old)
        memcpy(p, old, MIN(old_n, n));
    if (p)
        big_free(old, old_n);
    return p;
}

/* Zeroed memory written page by page: calloc's fresh pages are the shared zero page until first
 * written, and probing reads them first, so every later write would be a copy-on-write fault that
 * flushes the TLBs of all the query's threads (measured: 40% of a 900k-group aggregation). */
static void *zalloc(size_t n)
{
    void *p = big_alloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

static int charge(gtab *t, size_t bytes, factdb_error *err)
{
    if (!t->mem)
        return 0;
    size_t now = atomic_fetch_add(t->mem, bytes) + bytes;
    t->charged += bytes;
    if (t->limit && now > t->limit)
        return base_err(err, FACTDB_LIMIT,
                        "the query needs more than its memory limit of %zu MiB (too many groups); add filters, or "
                        "raise the limit (factdb sql --memory-limit)", t->limit >> 20);
    return 0;
}

static int new_group(gtab *t, const uint64_t *w, const uint8_t *nl, const sql_str *s, uint64_t h, bool copy,
                     uint32_t *out, factdb_error *err);

uint64_t gtab_dense_limit(double rows)
{
    double lim = 2 * rows;
    if (lim < (double)(1u << 20))
        lim = (double)(1u << 20);
    if (lim > (double)(1u << 26))
        lim = (double)(1u << 26);
    return (uint64_t)lim;
}

/* Bytes of aggregate j's state: a count 8, a sum or average of doubles 16 (st_dsum), every other 32
 * (st_sum, st_mm, st_var; 16-byte aligned for their i128). With one size for all, a group of TPC-H's
 * count(*), sum and avg took 96 bytes instead of 80. */
static size_t state_bytes(const agg_spec *sp)
{
    if (sp->distinct)
        return STATE;
    if (sp->fn == AG_COUNT_STAR || sp->fn == AG_COUNT)
        return 8;
    if ((sp->fn == AG_SUM || sp->fn == AG_AVG) && sp->arg && sp->arg->type.id == TY_DOUBLE)
        return 16;
    return STATE;
}

/* Places the states of a group, largest first so that each stays aligned to its size (up to 16), and
 * returns a group's bytes (a multiple of 16). */
static size_t state_layout(const query *q, size_t *off)
{
    size_t at = 0;
    for (size_t size = STATE; size >= 8; size /= 2)
        for (int j = 0; j < q->naggs; j++)
            if (state_bytes(&q->aggs[j]) == size) {
                off[j] = at;
                at += size;
            }
    return at ? (at + 15) / 16 * 16 : 16;
}

int gtab_init(gtab *t, const query *q, const int *kmode, const uint64_t *domain, const int64_t *base,
              uint64_t dense_max, _Atomic size_t *mem, size_t limit, sql_arena *keep, factdb_error *err)
{
    memset(t, 0, sizeof *t);
    t->q = q;
    t->nkeys = q->nkeys;
    t->naggs = q->naggs;
    t->ssz = state_layout(q, t->soff);
    t->mem = mem;
    t->limit = limit;
    t->keep = keep;
    memcpy(t->kmode, kmode, (size_t)q->nkeys * sizeof *kmode);
    t->dense = q->nkeys > 0;
    uint64_t size = 1, max = dense_max;
    for (int k = 0; k < q->nkeys && t->dense; k++) {
        if (!domain[k] || domain[k] >= max || size * (domain[k] + 1) > max)
            t->dense = false;
        else {
            t->stride[k] = size;
            t->domain[k] = domain[k];
            t->kbase[k] = kmode[k] == KEY_I64 ? base[k] : 0;
            size *= domain[k] + 1;
        }
    }
    if (t->dense) {
        t->dsize = size;
        t->dmap = zalloc(size * sizeof *t->dmap);
        if (!t->dmap || charge(t, size * 4, err))
            return err->code ? err->code : base_err(err, FACTDB_NOMEM, "out of memory");
    } else {
        t->smask = 4095;
        t->single = q->nkeys == 1 && kmode[0] != KEY_STR;
        t->slots = zalloc((t->smask + 1) * sizeof *t->slots);
        if (!t->slots)
            return base_err(err, FACTDB_NOMEM, "out of memory");
    }
    if (q->nkeys == 0) {
        uint32_t g0;
        if (new_group(t, NULL, NULL, NULL, 0, false, &g0, err))
            return err->code;
    }
    for (int j = 0; j < q->naggs; j++)
        if (q->aggs[j].distinct) {
            t->dsets[j] = calloc(1, sizeof(dset));
            if (!t->dsets[j])
                return base_err(err, FACTDB_NOMEM, "out of memory");
        }
    return 0;
}

void gtab_cleanup(gtab *t)
{
    size_t nk = (size_t)(t->nkeys ? t->nkeys : 1);
    big_free(t->kw, t->gcap * nk * 8);
    big_free(t->kn, t->gcap * nk);
    big_free(t->ks, t->gcap * nk * sizeof *t->ks);
    big_free(t->gh, t->gcap * 8);
    big_free(t->st, t->gcap * t->ssz);
    big_free(t->slots, t->slots ? (t->smask + 1) * sizeof *t->slots : 0);
    big_free(t->dmap, t->dmap ? t->dsize * sizeof *t->dmap : 0);
    for (int j = 0; j < t->naggs; j++)
        if (t->dsets[j]) {
            big_free(t->dsets[j]->e, t->dsets[j]->cap * sizeof *t->dsets[j]->e);
            free(t->dsets[j]);
        }
    if (t->mem)
        atomic_fetch_sub(t->mem, t->charged);
    memset(t, 0, sizeof *t);
}

static uint64_t mix(uint64_t h, uint64_t w)
{
    h ^= w + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t finish(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static int grow_groups_to(gtab *t, size_t cap, factdb_error *err);

static int grow_groups(gtab *t, factdb_error *err) { return grow_groups_to(t, t->gcap ? t->gcap * 2 : 256, err); }

static int grow_groups_to(gtab *t, size_t cap, factdb_error *err)
{
    size_t nk = (size_t)(t->nkeys ? t->nkeys : 1);
    bool strs = false;
    for (int k = 0; k < t->nkeys; k++)
        strs |= t->kmode[k] == KEY_STR;
    if (charge(t, (cap - t->gcap) * (nk * (8 + 1 + (strs ? sizeof(sql_str) : 0)) + 8 + t->ssz), err))
        return err->code;
    size_t old = t->gcap;
    uint64_t *kw = big_realloc(t->kw, old * nk * 8, cap * nk * 8);
    if (kw)
        t->kw = kw;
    uint8_t *kn = big_realloc(t->kn, old * nk, cap * nk);
    if (kn)
        t->kn = kn;
    /* strings and hashes are kept only when a key needs them */
    sql_str *ks = strs ? big_realloc(t->ks, old * nk * sizeof *ks, cap * nk * sizeof *ks) : t->ks;
    if (ks)
        t->ks = ks;
    uint64_t *gh = !t->single ? big_realloc(t->gh, old * 8, cap * 8) : t->gh;
    if (gh)
        t->gh = gh;
    unsigned char *st = big_realloc(t->st, old * t->ssz, cap * t->ssz);
    if (st)
        t->st = st;
    if (!kw || !kn || (strs && !ks) || (!t->single && !gh) || !st)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    t->gcap = cap;
    return 0;
}

static inline uint64_t slot_hash(uint64_t w) { return finish(w * 0x9E3779B97F4A7C15ull); }

static int rehash_to(gtab *t, size_t ncap, factdb_error *err);

static int rehash(gtab *t, factdb_error *err) { return rehash_to(t, (t->smask + 1) * 2, err); }

int gtab_reserve(gtab *t, size_t groups, factdb_error *err)
{
    size_t cap = 256, slots = 4096;
    while (cap < groups)
        cap *= 2;
    while (slots < 2 * groups)
        slots *= 2;
    if (t->mem && t->limit) {
        /* a hint must not use up the query's memory limit (a failed charge stays counted) */
        size_t nk = (size_t)(t->nkeys ? t->nkeys : 1);
        size_t need = (cap > t->gcap ? (cap - t->gcap) * (nk * (8 + 1 + sizeof(sql_str)) + 8 + t->ssz) : 0) +
                      (t->slots && slots > t->smask + 1 ? slots * sizeof *t->slots : 0);
        if (atomic_load(t->mem) + need > t->limit / 2)
            return 0;
    }
    if (cap > t->gcap && grow_groups_to(t, cap, err))
        return err->code;
    if (t->slots && slots > t->smask + 1 && rehash_to(t, slots, err))
        return err->code;
    return 0;
}

/* Slots for ncap (a power of two) with every group re-inserted. */
static int rehash_to(gtab *t, size_t ncap, factdb_error *err)
{
    gslot *s = zalloc(ncap * sizeof *s);
    if (!s || charge(t, ncap * sizeof *s, err)) {
        big_free(s, ncap * sizeof *s);
        return err->code ? err->code : base_err(err, FACTDB_NOMEM, "out of memory");
    }
    for (size_t g = 0; g < t->ng; g++) {
        if (t->single && t->kn[g])
            continue;
        uint64_t tag = t->single ? t->kw[g] : t->gh[g];
        size_t i = (t->single ? slot_hash(tag) : tag) & (ncap - 1);
        while (s[i].g)
            i = (i + 1) & (ncap - 1);
        s[i].tag = tag;
        s[i].g = (uint32_t)g + 1;
    }
    big_free(t->slots, (t->smask + 1) * sizeof *t->slots);
    t->slots = s;
    t->smask = ncap - 1;
    return 0;
}

static void init_states(gtab *t, size_t g)
{
    unsigned char *st = t->st + g * t->ssz;
    memset(st, 0, t->ssz);
}

static int new_group(gtab *t, const uint64_t *w, const uint8_t *nl, const sql_str *s, uint64_t h, bool copy,
                     uint32_t *out, factdb_error *err)
{
    if (t->ng == t->gcap && grow_groups(t, err))
        return err->code;
    if (t->ng >= UINT32_MAX - 1)
        return base_err(err, FACTDB_LIMIT, "too many groups (more than 4 billion)");
    size_t g = t->ng++;
    size_t nk = (size_t)t->nkeys;
    for (size_t k = 0; k < nk; k++) {
        t->kw[g * nk + k] = w[k];
        t->kn[g * nk + k] = nl[k];
        if (t->kmode[k] != KEY_STR)
            continue;
        sql_str v = {"", 0};
        if (!nl[k]) {
            v = s[k];
            if (copy) {
                char *p = sql_arena_strndup(t->keep, s[k].p, s[k].len);
                if (!p)
                    return base_err(err, FACTDB_NOMEM, "out of memory");
                v.p = p;
            }
        }
        t->ks[g * nk + k] = v;
    }
    if (t->gh)
        t->gh[g] = h;
    init_states(t, g);
    *out = (uint32_t)g;
    return 0;
}

static bool keys_equal(const gtab *t, size_t g, const uint64_t *w, const uint8_t *nl, const sql_str *s)
{
    size_t nk = (size_t)t->nkeys;
    for (size_t k = 0; k < nk; k++) {
        if (t->kn[g * nk + k] != nl[k])
            return false;
        if (nl[k])
            continue;
        if (t->kw[g * nk + k] != w[k])
            return false;
        if (t->kmode[k] == KEY_STR) {
            const sql_str *a = &t->ks[g * nk + k];
            if (a->len != s[k].len || memcmp(a->p, s[k].p, a->len))
                return false;
        }
    }
    return true;
}

static uint64_t keys_hash(const gtab *t, const uint64_t *w, const uint8_t *nl);
static int find_hashed(gtab *t, const uint64_t *w, const uint8_t *nl, const sql_str *s, uint64_t h, bool copy,
                       uint32_t *out, factdb_error *err);

int gtab_find(gtab *t, const uint64_t *w, const uint8_t *nl, const sql_str *s, bool copy, uint32_t *out,
              factdb_error *err)
{
    if (t->dense) {
        uint64_t idx = 0;
        for (int k = 0; k < t->nkeys; k++) {
            uint64_t v = nl[k] ? 0 : w[k] - (uint64_t)t->kbase[k] + 1;
            if (v > t->domain[k])
                return base_err(err, FACTDB_CORRUPT, t->kmode[k] == KEY_I64
                                    ? "a value lies outside the range its chunk's zone map records; run factdb check"
                                    : "a text value refers to a dictionary entry beyond the dictionary; run factdb "
                                      "check");
            idx += v * t->stride[k];
        }
        uint32_t g = t->dmap[idx];
        if (g) {
            *out = g - 1;
            return 0;
        }
        if (new_group(t, w, nl, s, idx, copy, out, err))
            return err->code;
        t->dmap[idx] = *out + 1;
        return 0;
    }
    if (t->single) {
        if (nl[0]) {
            if (t->null_g) {
                *out = t->null_g - 1;
                return 0;
            }
            if (new_group(t, w, nl, s, 0, copy, out, err))
                return err->code;
            t->null_g = *out + 1;
            return 0;
        }
        size_t i = slot_hash(w[0]) & t->smask;
        for (;;) {
            gslot *sl = &t->slots[i];
            if (!sl->g)
                break;
            if (sl->tag == w[0]) {
                *out = sl->g - 1;
                return 0;
            }
            i = (i + 1) & t->smask;
        }
        if (new_group(t, w, nl, s, 0, copy, out, err))
            return err->code;
        t->slots[i].tag = w[0];
        t->slots[i].g = *out + 1;
        if (t->ng * 2 > t->smask + 1 && rehash(t, err))
            return err->code;
        return 0;
    }
    return find_hashed(t, w, nl, s, keys_hash(t, w, nl), copy, out, err);
}

static uint64_t keys_hash(const gtab *t, const uint64_t *w, const uint8_t *nl)
{
    uint64_t h = 0;
    for (int k = 0; k < t->nkeys; k++)
        h = mix(h, nl[k] ? 0x5bd1e995u : w[k]);
    return finish(h);
}

/* gtab_find in hash mode for keys whose hash h is known. */
static int find_hashed(gtab *t, const uint64_t *w, const uint8_t *nl, const sql_str *s, uint64_t h, bool copy,
                       uint32_t *out, factdb_error *err)
{
    size_t i = h & t->smask;
    for (;;) {
        uint32_t g = t->slots[i].g;
        if (!g)
            break;
        if (t->slots[i].tag == h && keys_equal(t, g - 1, w, nl, s)) {
            *out = g - 1;
            return 0;
        }
        i = (i + 1) & t->smask;
    }
    if (new_group(t, w, nl, s, h, copy, out, err))
        return err->code;
    t->slots[i].tag = h;
    t->slots[i].g = *out + 1;
    if (t->ng * 2 > t->smask + 1 && rehash(t, err))
        return err->code;
    return 0;
}

/* The key word of row i of v. */
static void key_of(const vec *v, int mode, size_t i, uint64_t *w, uint8_t *nl, sql_str *s)
{
    *nl = v->valid && !v->valid[i];
    if (*nl) {
        *w = 0;
        return;
    }
    switch (mode) {
    case KEY_CODE: *w = v->codes[i]; return;
    case KEY_STR: {
        *s = ((const sql_str *)v->data)[i];
        *w = base_hash(s->p, s->len);
        return;
    }
    case KEY_F64: {
        double d = ((const double *)v->data)[i];
        if (d == 0)
            d = 0;  /* -0 groups with 0 */
        if (isnan(d))
            d = NAN;
        memcpy(w, &d, 8);
        return;
    }
    case KEY_U8: *w = ((const uint8_t *)v->data)[i]; return;
    default: *w = (uint64_t)((const int64_t *)v->data)[i]; return;
    }
}

/* ---- few groups, rows in any order ----
 * Adding each row to its group's state makes consecutive rows of one group wait on each other's
 * read-modify-write of the same memory (TPC-H's GROUP BY l_shipmode: 7 groups, about 6 cycles a row per
 * aggregate, most of the query). With at most FEW_GROUPS groups a vector's rows are added into four
 * interleaved accumulators per group instead (independent chains), which go to the states once. */
#define FEW_GROUPS 64
_Static_assert(sizeof(((gtab *)0)->few_cnt) == FEW_GROUPS * sizeof(uint32_t), "gtab.few_cnt holds FEW_GROUPS counts");

static bool few_groups(const gtab *t, size_t n) { return t->ng <= FEW_GROUPS && n <= EXEC_VEC; }
static void count_few(const uint32_t *g, size_t n, uint32_t *c);

/* The row counts per group of the vector whose group ids are g: counted once for all its aggregates
 * (gtab_groups starts each vector afresh). */
static const uint32_t *few_counts(gtab *t, const uint32_t *g, size_t n)
{
    if (!t->few_ok || t->few_g != g || t->few_n != n) {
        count_few(g, n, t->few_cnt);
        t->few_ok = true;
        t->few_g = g;
        t->few_n = n;
    }
    return t->few_cnt;
}

/* Row counts per group of rows 0..n (c: FEW_GROUPS entries). */
static void count_few(const uint32_t *g, size_t n, uint32_t *c)
{
    uint32_t l[4][FEW_GROUPS];
    memset(l, 0, sizeof l);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        l[0][g[i]]++;
        l[1][g[i + 1]]++;
        l[2][g[i + 2]]++;
        l[3][g[i + 3]]++;
    }
    for (; i < n; i++)
        l[0][g[i]]++;
    for (size_t k = 0; k < FEW_GROUPS; k++)
        c[k] = l[0][k] + l[1][k] + l[2][k] + l[3][k];
}

/* Sums per group of 64-bit values all below 2^52 in magnitude (false, nothing summed, otherwise). */
static bool sum_few_i64(const uint32_t *g, const int64_t *x, size_t n, int64_t *s)
{
    int64_t l[4][FEW_GROUPS];
    memset(l, 0, sizeof l);
    uint64_t big = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        l[0][g[i]] += x[i];
        l[1][g[i + 1]] += x[i + 1];
        l[2][g[i + 2]] += x[i + 2];
        l[3][g[i + 3]] += x[i + 3];
        big |= (((uint64_t)x[i] + (UINT64_C(1) << 52)) | ((uint64_t)x[i + 1] + (UINT64_C(1) << 52)) |
                ((uint64_t)x[i + 2] + (UINT64_C(1) << 52)) | ((uint64_t)x[i + 3] + (UINT64_C(1) << 52))) >> 53;
    }
    for (; i < n; i++) {
        l[0][g[i]] += x[i];
        big |= ((uint64_t)x[i] + (UINT64_C(1) << 52)) >> 53;
    }
    if (big)
        return false;
    for (size_t k = 0; k < FEW_GROUPS; k++)  /* n <= 2^11 values below 2^52: no overflow */
        s[k] = l[0][k] + l[1][k] + l[2][k] + l[3][k];
    return true;
}

/* Sums per group of 128-bit values all below 2^115 in magnitude, which n <= 2^11 of cannot overflow
 * (false, nothing summed, otherwise). */
static bool sum_few_n128(const uint32_t *g, const i128 *x, size_t n, i128 *s)
{
    i128 l[2][FEW_GROUPS];
    memset(l, 0, sizeof l);
    uint64_t big = 0;
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        l[0][g[i]] += x[i];
        l[1][g[i + 1]] += x[i + 1];
        big |= (((uint64_t)(x[i] >> 64) + (UINT64_C(1) << 50)) | ((uint64_t)(x[i + 1] >> 64) + (UINT64_C(1) << 50))) >> 51;
    }
    for (; i < n; i++) {
        l[0][g[i]] += x[i];
        big |= ((uint64_t)(x[i] >> 64) + (UINT64_C(1) << 50)) >> 51;
    }
    if (big)
        return false;
    for (size_t k = 0; k < FEW_GROUPS; k++)
        s[k] = l[0][k] + l[1][k];
    return true;
}

static void sum_few_f64(const uint32_t *g, const double *x, size_t n, double *s)
{
    double l[4][FEW_GROUPS];
    memset(l, 0, sizeof l);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        l[0][g[i]] += x[i];
        l[1][g[i + 1]] += x[i + 1];
        l[2][g[i + 2]] += x[i + 2];
        l[3][g[i + 3]] += x[i + 3];
    }
    for (; i < n; i++)
        l[0][g[i]] += x[i];
    for (size_t k = 0; k < FEW_GROUPS; k++)
        s[k] = (l[0][k] + l[1][k]) + (l[2][k] + l[3][k]);
}

/* Sorting pays when a group's run is long: at 16 rows a run, one pass of sorting replaces 15 of every 16
 * read-modify-writes of a group's state per aggregate (a store-forwarding chain when consecutive rows
 * share a group: TPC-H Q1's 4 groups over 8 aggregates went from 365 to ... ms). */
#define RUN_MIN 16

bool gtab_sort_rows(gtab *t, uint32_t *g, const uint32_t *sel, uint32_t *sel_out, size_t n)
{
    /* (few groups could skip the sort for their interleaved accumulators, few_counts, but on TPC-H Q1 the
     * sorted runs' vectorized sums won: 418 against 428 ms at SF3) */
    if (n < 4 * RUN_MIN || t->ng * RUN_MIN > n || t->ng > EXEC_VEC / RUN_MIN)
        return false;
    _Static_assert(EXEC_VEC / RUN_MIN <= 128, "gtab.run_g holds a run per group");
    uint32_t start[EXEC_VEC / RUN_MIN + 1] = {0}, gs[EXEC_VEC];
    for (size_t i = 0; i < n; i++)
        start[g[i] + 1]++;
    t->nruns = 0;
    for (size_t k = 1; k <= t->ng; k++) {
        if (start[k]) {
            t->run_g[t->nruns] = (uint32_t)k - 1;
            t->run_at[t->nruns++] = start[k - 1];
        }
        start[k] += start[k - 1];
    }
    t->run_at[t->nruns] = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        uint32_t p = start[g[i]]++;
        sel_out[p] = sel ? sel[i] : (uint32_t)i;
        gs[p] = g[i];
    }
    memcpy(g, gs, n * sizeof *g);
    t->runs = true;
    return true;
}

int gtab_groups(gtab *t, vec **kv, size_t n, uint32_t *g, factdb_error *err)
{
    t->runs = false;
    t->few_ok = false;
    uint64_t w[MAX_KEYS];
    uint8_t nl[MAX_KEYS];
    sql_str s[MAX_KEYS];
    memset(s, 0, sizeof s[0] * (size_t)(t->nkeys ? t->nkeys : 1));
    if (t->dense) {
        /* combined dictionary codes index the dense map directly; only new groups take the slow path */
        uint32_t idx[EXEC_VEC];
        bool bad = false;
        for (size_t i = 0; i < n; i++)
            idx[i] = 0;
        for (int k = 0; k < t->nkeys; k++) {
            const vec *v = kv[k];
            uint64_t stride = t->stride[k], dom = t->domain[k];
            if (t->kmode[k] == KEY_CODE) {
                const uint32_t *c = v->codes;
                for (size_t i = 0; i < n; i++) {
                    uint64_t x = (v->valid && !v->valid[i]) ? 0 : (uint64_t)c[i] + 1;
                    bad |= x > dom;
                    idx[i] += (uint32_t)(x * stride);
                }
            } else if (t->kmode[k] == KEY_I64) {
                const int64_t *x = v->data;
                uint64_t b0 = (uint64_t)t->kbase[k];
                bool out = false;
                for (size_t i = 0; i < n; i++) {
                    uint64_t c = (v->valid && !v->valid[i]) ? 0 : (uint64_t)x[i] - b0 + 1;
                    out |= c > dom;
                    idx[i] += (uint32_t)(c * stride);
                }
                if (out)
                    return base_err(err, FACTDB_CORRUPT, "a value lies outside the range its chunk's zone map "
                                                         "records; run factdb check");
            } else {
                const uint8_t *b = v->data;
                for (size_t i = 0; i < n; i++) {
                    uint64_t x = (v->valid && !v->valid[i]) ? 0 : (uint64_t)(b[i] != 0) + 1;
                    idx[i] += (uint32_t)(x * stride);
                }
            }
        }
        if (bad)
            return base_err(err, FACTDB_CORRUPT, "a text value refers to a dictionary entry beyond the dictionary; "
                                                 "run factdb check");
        for (size_t i = 0; i < n; i++) {
            uint32_t gi = t->dmap[idx[i]];
            if (gi) {
                g[i] = gi - 1;
                continue;
            }
            for (int k = 0; k < t->nkeys; k++)
                key_of(kv[k], t->kmode[k], i, &w[k], &nl[k], &s[k]);
            if (gtab_find(t, w, nl, s, true, &g[i], err))
                return err->code;
        }
        return 0;
    }
    if (t->single) {
        /* hash the whole vector first and prefetch the slots: the probes then overlap their cache misses */
        uint64_t kw[EXEC_VEC];
        uint8_t kn[EXEC_VEC];
        if (t->kmode[0] == KEY_I64 && !kv[0]->valid) {
            const int64_t *x = kv[0]->data;
            for (size_t i = 0; i < n; i++) {
                kw[i] = (uint64_t)x[i];
                kn[i] = 0;
                __builtin_prefetch(&t->slots[slot_hash(kw[i]) & t->smask]);
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                key_of(kv[0], t->kmode[0], i, &kw[i], &kn[i], &s[0]);
                __builtin_prefetch(&t->slots[slot_hash(kw[i]) & t->smask]);
            }
        }
        uint64_t last_w = 0;
        uint32_t last_g = UINT32_MAX;
        for (size_t i = 0; i < n; i++) {
            if (!kn[i] && last_g != UINT32_MAX && kw[i] == last_w) {
                g[i] = last_g;  /* runs of one key (sorted or clustered data) skip the probe */
                continue;
            }
            if (!kn[i]) {
                /* probe in line; only a new key goes through gtab_find */
                size_t j = slot_hash(kw[i]) & t->smask;
                const gslot *sl = &t->slots[j];
                while (sl->g && sl->tag != kw[i]) {
                    j = (j + 1) & t->smask;
                    sl = &t->slots[j];
                }
                if (sl->g) {
                    g[i] = sl->g - 1;
                    last_w = kw[i];
                    last_g = g[i];
                    __builtin_prefetch(t->st + (size_t)g[i] * t->ssz, 1);  /* the aggregates update it next */
                    continue;
                }
            }
            if (gtab_find(t, &kw[i], &kn[i], s, true, &g[i], err))
                return err->code;
            if (!kn[i]) {
                last_w = kw[i];
                last_g = g[i];
            }
        }
        return 0;
    }
    /* several keys: hash the whole vector first and prefetch the slots, as above (6M groups of two keys:
     * the probes' cache misses were a third of the query) */
    uint64_t hs[EXEC_VEC];
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < t->nkeys; k++)
            key_of(kv[k], t->kmode[k], i, &w[k], &nl[k], &s[k]);
        hs[i] = keys_hash(t, w, nl);
        __builtin_prefetch(&t->slots[hs[i] & t->smask]);
    }
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < t->nkeys; k++)
            key_of(kv[k], t->kmode[k], i, &w[k], &nl[k], &s[k]);
        if (find_hashed(t, w, nl, s, hs[i], true, &g[i], err))
            return err->code;
    }
    return 0;
}

/* ---- aggregate states ---- */
typedef struct st_sum { i128 sum; int64_t cnt; int32_t scale; } st_sum;
typedef struct st_dsum { double sum; int64_t cnt; } st_dsum;
typedef struct st_mm { union { i128 n; int64_t i; double d; sql_str s; }; int8_t scale; uint8_t has; } st_mm;
typedef struct st_var { double n, mean, m2; } st_var;

static inline unsigned char *state(gtab *t, uint32_t g, int j) { return t->st + (size_t)g * t->ssz + t->soff[j]; }

/* A distinct value being added: its entry fields (h, g and used are filled by dset_add). */
static int dset_add(gtab *t, dset *d, uint32_t g, const dentry *v, int mode, bool copy, factdb_error *err)
{
    if (d->n * 2 >= d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 1024;
        dentry *e = zalloc(ncap * sizeof *e);
        if (!e || charge(t, ncap * sizeof *e, err)) {
            big_free(e, ncap * sizeof *e);
            return err->code ? err->code : base_err(err, FACTDB_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < d->cap; i++)
            if (d->e[i].used) {
                size_t k = d->e[i].h & (ncap - 1);
                while (e[k].used)
                    k = (k + 1) & (ncap - 1);
                e[k] = d->e[i];
            }
        big_free(d->e, d->cap * sizeof *d->e);
        d->e = e;
        d->cap = ncap;
    }
    uint64_t h = finish(mix(mix(0, g), v->w));
    size_t k = h & (d->cap - 1);
    while (d->e[k].used) {
        dentry *x = &d->e[k];
        if (x->h == h && x->g == g && x->w == v->w) {
            if (mode == KEY_STR ? x->s.len == v->s.len && !memcmp(x->s.p, v->s.p, v->s.len)
                : mode == KEY_N128 || mode == KEY_IV ? x->n == v->n && x->scale == v->scale
                                   : true) {
                if (mode == KEY_N128 && v->oscale > x->oscale)
                    x->oscale = v->oscale;
                return 0;
            }
        }
        k = (k + 1) & (d->cap - 1);
    }
    dentry e = *v;
    if (mode == KEY_STR && copy) {
        char *p = sql_arena_strndup(t->keep, v->s.p, v->s.len);
        if (!p)
            return base_err(err, FACTDB_NOMEM, "out of memory");
        e.s.p = p;
    }
    e.h = h;
    e.g = g;
    e.used = 1;
    d->e[k] = e;
    d->n++;
    return 0;
}

/* The distinct-set entry of row i of `a` (not NULL) in key mode `mode`. */
static void dentry_of(const vec *a, int mode, size_t i, dentry *e)
{
    memset(e, 0, sizeof *e);
    if (mode == KEY_N128) {
        i128 n = ((const i128 *)a->data)[i];
        int sc = a->scales ? a->scales[i] : 0;
        e->oscale = (int8_t)sc;
        while (sc > 0 && n % 10 == 0) {
            n /= 10;
            sc--;
        }
        e->n = n;
        e->scale = (int8_t)sc;
        e->w = (uint64_t)n ^ (uint64_t)(n >> 64) * 0x9E3779B97F4A7C15ull ^ (uint64_t)sc << 56;
        return;
    }
    if (mode == KEY_IV) {
        sql_interval iv = ((const sql_interval *)a->data)[i];
        e->w = finish(mix(mix((uint64_t)(uint32_t)iv.months, (uint64_t)(uint32_t)iv.days), (uint64_t)iv.us));
        e->n = (i128)iv.months << 96 | (i128)(uint32_t)iv.days << 64 | (i128)(uint64_t)iv.us;
        return;
    }
    uint8_t nl;
    key_of(a, mode, i, &e->w, &nl, &e->s);
}

static int distinct_mode(phys p, bool coded)
{
    return coded ? KEY_CODE : p == P_STR ? KEY_STR : p == P_F64 ? KEY_F64 : p == P_U8 ? KEY_U8
           : p == P_N128 ? KEY_N128 : p == P_IV ? KEY_IV : KEY_I64;
}

static void get_n(const vec *a, size_t i, i128 *n, int *s)
{
    if (exec_phys(a->type) == P_N128) {
        *n = ((const i128 *)a->data)[i];
        *s = a->scales ? a->scales[i] : 0;
    } else {
        *n = ((const int64_t *)a->data)[i];
        *s = a->type.id == TY_NUMERIC ? a->type.scale : 0;
    }
}

static i128 p10(int k)
{
    i128 r = 1;
    while (k-- > 0)
        r *= 10;
    return r;
}

/* A double sum became infinite: as PostgreSQL's float8 +, that is an overflow unless an input was
 * infinite itself. (A group whose sum was already infinite from an infinite input stays so.) */
static int float_sum_check(const double *x, size_t n, factdb_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (isinf(x[i]))
            return 0;
    return base_err(err, FACTDB_INVALID_VALUE, "value out of range: overflow");
}

static int sum_add(st_sum *s, i128 v, int sc, factdb_error *err)
{
    if (sc > s->scale) {
        if (s->cnt && __builtin_mul_overflow(s->sum, p10(sc - s->scale), &s->sum))
            return base_err(err, FACTDB_INVALID_VALUE, "numeric value out of range in sum");
        s->scale = sc;
    } else if (sc < s->scale) {
        if (__builtin_mul_overflow(v, p10(s->scale - sc), &v))
            return base_err(err, FACTDB_INVALID_VALUE, "numeric value out of range in sum");
    }
    if (__builtin_add_overflow(s->sum, v, &s->sum))
        return base_err(err, FACTDB_INVALID_VALUE, "numeric value out of range in sum");
    s->cnt++;
    return 0;
}

static void var_add(st_var *v, double x)
{
    v->n += 1;
    double d = x - v->mean;
    v->mean += d / v->n;
    v->m2 += d * (x - v->mean);
}

/* PostgreSQL's order of doubles: NaN above everything, equal to itself. */
static inline bool dbl_lt(double a, double b)
{
    if (b != b)
        return a == a;
    return a < b;
}

static int mm_cmp(const st_mm *m, const vec *a, size_t i)
{
    sql_value x, y;
    vec_get(a, i, &x);
    memset(&y, 0, sizeof y);
    y.type = a->type;
    switch (exec_phys(a->type)) {
    case P_STR: y.s = m->s; break;
    case P_F64: y.d = m->d; break;
    case P_N128: y.n = m->n; y.nscale = m->scale; break;
    default: y.i = m->i; break;
    }
    return exec_compare_values(&x, &y);
}

static void mm_set(st_mm *m, const vec *a, size_t i)
{
    switch (exec_phys(a->type)) {
    case P_STR: m->s = ((const sql_str *)a->data)[i]; break;
    case P_F64: m->d = ((const double *)a->data)[i]; break;
    case P_N128:
        m->n = ((const i128 *)a->data)[i];
        m->scale = (int8_t)(a->scales ? a->scales[i] : 0);
        break;
    case P_U8: m->i = ((const uint8_t *)a->data)[i]; break;
    default: m->i = ((const int64_t *)a->data)[i]; break;
    }
    m->has = 1;
}

static int agg_update(gtab *t, int j, agg_fn fn, const uint32_t *g, vec *a, const uint8_t *fmask,
                      const uint8_t *fvalid, size_t n, bool coded, factdb_error *err);

int gtab_update(gtab *t, int j, const uint32_t *g, vec *a, const uint8_t *fmask, const uint8_t *fvalid, size_t n,
                bool coded, factdb_error *err)
{
    const agg_spec *sp = &t->q->aggs[j];
#define SKIP(i) ((fmask && (!fmask[i] || (fvalid && !fvalid[i]))) || (a && a->valid && !a->valid[i]))
#define G(i) (g ? g[i] : 0)
/* Runs BODY for every row that counts, with gi its group: without NULLs and FILTER the loop has no
 * per-row test. */
#define EACH_ROW(BODY)                                                   \
    do {                                                                 \
        if (g && !fmask && !(a && a->valid)) {                           \
            for (size_t i = 0; i < n; i++) {                             \
                const uint32_t gi = g[i];                                \
                BODY                                                     \
            }                                                            \
        } else {                                                         \
            for (size_t i = 0; i < n; i++)                               \
                if (!SKIP(i)) {                                          \
                    const uint32_t gi = G(i);                            \
                    BODY                                                 \
                }                                                        \
        }                                                                \
    } while (0)
    if (sp->fn == AG_COUNT_STAR) {
        if (!g && !fmask) {
            *(int64_t *)state(t, 0, j) += (int64_t)n;
            return 0;
        }
        if (t->runs && g && !fmask) {
            for (size_t r = 0; r < t->nruns; r++)
                *(int64_t *)state(t, t->run_g[r], j) += (int64_t)(t->run_at[r + 1] - t->run_at[r]);
            return 0;
        }
        if (g && !fmask && few_groups(t, n)) {
            const uint32_t *c = few_counts(t, g, n);
            for (size_t k = 0; k < t->ng; k++)
                *(int64_t *)state(t, (uint32_t)k, j) += c[k];
            return 0;
        }
        EACH_ROW((*(int64_t *)state(t, gi, j))++;);
        return 0;
    }
    if (sp->distinct) {
        dset *d = t->dsets[j];
        int mode = distinct_mode(exec_phys(a->type), coded);
        for (size_t i = 0; i < n; i++) {
            if (SKIP(i))
                continue;
            dentry e;
            dentry_of(a, mode, i, &e);
            if (dset_add(t, d, G(i), &e, mode, true, err))
                return err->code;
        }
        return 0;
    }
    return agg_update(t, j, sp->fn, g, a, fmask, fvalid, n, coded, err);
}

static bool sp_distinct(const gtab *t, int j) { return t->q->aggs[j].distinct; }

/* x[0] + ... + x[n-1] exactly. When every |x| < 2^52, a vector's sum (n <= EXEC_VEC = 2^11) cannot
 * overflow 64 bits, so it is added in 64-bit lanes that vectorize; a 128-bit add-with-carry chain
 * otherwise (it was half of TPC-H Q1's aggregation time). */
BASE_VECTOR_CLONES static i128 sum_i64(const int64_t *x, size_t n)
{
    _Static_assert(EXEC_VEC <= 2048, "2^52 * EXEC_VEC must stay below 2^63");
    uint64_t u = 0, big = 0;
    for (size_t k = 0; k < n; k++) {
        u += (uint64_t)x[k];
        big |= ((uint64_t)x[k] + (UINT64_C(1) << 52)) >> 53;
    }
    if (!big && n <= EXEC_VEC)
        return (int64_t)u;
    i128 s = 0;
    for (size_t k = 0; k < n; k++)
        s += x[k];
    return s;
}

/* sum/avg of rows sorted by group, without NULLs or FILTER: each run is summed in a register and added to
 * its group's state once. */
static int sum_runs(gtab *t, int j, const uint32_t *g, const vec *a, size_t n, factdb_error *err)
{
#define EACH_RUN for (size_t r = 0, i, e; r < t->nruns && (i = t->run_at[r], e = t->run_at[r + 1], 1); r++)
    phys p = exec_phys(a->type);
    if (p == P_F64) {
        const double *x = a->data;
        EACH_RUN {
            double s = 0;
            for (size_t k = i; k < e; k++)
                s += x[k];
            st_dsum *d = (st_dsum *)state(t, g[i], j);
            double old = d->sum;
            d->sum += s;
            d->cnt += (int64_t)(e - i);
            if (isinf(d->sum) && !isinf(old) && float_sum_check(x + i, e - i, err))
                return err->code;
        }
        return 0;
    }
    if (p == P_I64) {
        const int64_t *x = a->data;
        int sc = a->type.id == TY_NUMERIC ? a->type.scale : 0;
        EACH_RUN {
            i128 s = sum_i64(x + i, e - i);
            st_sum *d = (st_sum *)state(t, g[i], j);
            d->sum += s;
            d->cnt += (int64_t)(e - i);
            d->scale = sc;
        }
        return 0;
    }
    int usc;
    if (p != P_N128 || !exec_uniform_scale(a, n, &usc)) {
        for (size_t i = 0; i < n; i++) {
            i128 v;
            int sc;
            get_n(a, i, &v, &sc);
            if (sum_add((st_sum *)state(t, g[i], j), v, sc, err))
                return err->code;
        }
        return 0;
    }
    const i128 *x = a->data;
    int sc = usc;
    EACH_RUN {
        i128 s = 0;
        bool ovf = false;
        for (size_t k = i; k < e; k++)
            ovf |= __builtin_add_overflow(s, x[k], &s);
        st_sum *d = (st_sum *)state(t, g[i], j);
        if (ovf || sum_add(d, s, sc, err))
            return ovf ? base_err(err, FACTDB_INVALID_VALUE, "numeric value out of range in sum") : err->code;
        d->cnt += (int64_t)(e - i) - 1;
    }
    return 0;
}

/* Adds rows 0..n of `a` to the states of aggregate j as function fn (the work of gtab_update without
 * DISTINCT; also replays the distinct values). */
static int agg_update(gtab *t, int j, agg_fn fn, const uint32_t *g, vec *a, const uint8_t *fmask,
                      const uint8_t *fvalid, size_t n, bool coded, factdb_error *err)
{
    phys p = exec_phys(a->type);
    switch (fn) {
    case AG_COUNT:
        if (!g && !fmask) {
            int64_t c = 0;
            if (a->valid)
                for (size_t i = 0; i < n; i++)
                    c += a->valid[i];
            else
                c = (int64_t)n;
            *(int64_t *)state(t, 0, j) += c;
            return 0;
        }
        EACH_ROW((*(int64_t *)state(t, gi, j))++;);
        return 0;
    case AG_SUM:
    case AG_AVG:
        if (t->runs && g && !fmask && !a->valid && !sp_distinct(t, j))
            return sum_runs(t, j, g, a, n, err);
        if (p == P_F64) {
            const double *x = a->data;
            if (!g && !fmask && !a->valid) {
                double s = 0;
                for (size_t i = 0; i < n; i++)
                    s += x[i];
                st_dsum *d = (st_dsum *)state(t, 0, j);
                double old = d->sum;
                d->sum += s;
                d->cnt += (int64_t)n;
                if (isinf(d->sum) && !isinf(old))
                    return float_sum_check(x, n, err);
                return 0;
            }
            if (g && !fmask && !a->valid && few_groups(t, n)) {
                double sums[FEW_GROUPS];
                sum_few_f64(g, x, n, sums);
                const uint32_t *c = few_counts(t, g, n);
                for (size_t k = 0; k < t->ng; k++) {
                    if (!c[k])
                        continue;
                    st_dsum *d = (st_dsum *)state(t, (uint32_t)k, j);
                    double old = d->sum;
                    d->sum += sums[k];
                    d->cnt += c[k];
                    if (isinf(d->sum) && !isinf(old)) {  /* an overflow unless one of its inputs was infinite */
                        bool inf = false;
                        for (size_t i = 0; i < n && !inf; i++)
                            inf = g[i] == k && isinf(x[i]);
                        if (!inf)
                            return base_err(err, FACTDB_INVALID_VALUE, "value out of range: overflow");
                    }
                }
                return 0;
            }
            bool ovf = false;
            EACH_ROW({
                st_dsum *d = (st_dsum *)state(t, gi, j);
                double old = d->sum;
                d->sum += x[i];
                d->cnt++;
                ovf |= isinf(d->sum) && !isinf(old) && !isinf(x[i]);
            });
            return ovf ? base_err(err, FACTDB_INVALID_VALUE, "value out of range: overflow") : 0;
        }
        if (p == P_I64) {
            const int64_t *x = a->data;
            int sc = a->type.id == TY_NUMERIC ? a->type.scale : 0;
            if (!g && !fmask && !a->valid) {
                i128 s = sum_i64(x, n);
                st_sum *d = (st_sum *)state(t, 0, j);
                d->sum += s;
                d->cnt += (int64_t)n;
                d->scale = sc;
                return 0;
            }
            int64_t sums[FEW_GROUPS];
            if (g && !fmask && !a->valid && few_groups(t, n) && sum_few_i64(g, x, n, sums)) {
                const uint32_t *c = few_counts(t, g, n);
                for (size_t k = 0; k < t->ng; k++) {
                    if (!c[k])
                        continue;
                    st_sum *d = (st_sum *)state(t, (uint32_t)k, j);
                    d->sum += sums[k];
                    d->cnt += c[k];
                    d->scale = sc;
                }
                return 0;
            }
            EACH_ROW({
                st_sum *d = (st_sum *)state(t, gi, j);
                d->sum += x[i];
                d->cnt++;
                d->scale = sc;
            });
            return 0;
        }
        int usc;
        if (exec_uniform_scale(a, n, &usc)) {
            /* one scale over the vector (products of fixed-scale numerics): a group whose sum has that
             * scale adds without rescaling */
            const i128 *x = a->data;
            int sc = usc;
            bool ovf = false;
            if (!g && !fmask && !a->valid && n) {
                i128 s = 0;
                for (size_t i = 0; i < n; i++)
                    ovf |= __builtin_add_overflow(s, x[i], &s);
                st_sum *d = (st_sum *)state(t, 0, j);
                if (ovf || sum_add(d, s, sc, err))
                    return ovf ? base_err(err, FACTDB_INVALID_VALUE, "numeric value out of range in sum") : err->code;
                d->cnt += (int64_t)n - 1;
                return 0;
            }
            i128 sums[FEW_GROUPS];
            if (g && !fmask && !a->valid && few_groups(t, n) && sum_few_n128(g, x, n, sums)) {
                const uint32_t *c = few_counts(t, g, n);
                for (size_t k = 0; k < t->ng; k++) {
                    if (!c[k])
                        continue;
                    st_sum *d = (st_sum *)state(t, (uint32_t)k, j);
                    if (sum_add(d, sums[k], sc, err))
                        return err->code;
                    d->cnt += (int64_t)c[k] - 1;
                }
                return 0;
            }
            EACH_ROW({
                st_sum *d = (st_sum *)state(t, gi, j);
                if (d->scale == sc) {
                    ovf |= __builtin_add_overflow(d->sum, x[i], &d->sum);
                    d->cnt++;
                } else if (sum_add(d, x[i], sc, err)) {
                    return err->code;
                }
            });
            return ovf ? base_err(err, FACTDB_INVALID_VALUE, "numeric value out of range in sum") : 0;
        }
        for (size_t i = 0; i < n; i++)
            if (!SKIP(i)) {
                i128 v;
                int sc;
                get_n(a, i, &v, &sc);
                if (sum_add((st_sum *)state(t, G(i), j), v, sc, err))
                    return err->code;
            }
        return 0;
    case AG_MIN:
    case AG_MAX: {
        bool is_min = fn == AG_MIN;
        if (p == P_F64) {
            const double *x = a->data;
            EACH_ROW({
                st_mm *m = (st_mm *)state(t, gi, j);
                double v = x[i];
                if (!m->has) {
                    m->d = v;
                    m->has = 1;
                } else if (is_min ? dbl_lt(v, m->d) : dbl_lt(m->d, v)) {
                    m->d = v;
                }
            });
            return 0;
        }
        if (p == P_I64 || p == P_U8) {
            EACH_ROW({
                st_mm *m = (st_mm *)state(t, gi, j);
                int64_t v = p == P_I64 ? ((const int64_t *)a->data)[i] : ((const uint8_t *)a->data)[i];
                if (!m->has) {
                    m->i = v;
                    m->has = 1;
                } else if (is_min ? v < m->i : v > m->i) {
                    m->i = v;
                }
            });
            return 0;
        }
        /* text and 128-bit numerics */
        for (size_t i = 0; i < n; i++) {
            if (SKIP(i))
                continue;
            st_mm *m = (st_mm *)state(t, G(i), j);
            if (!m->has || (is_min ? mm_cmp(m, a, i) < 0 : mm_cmp(m, a, i) > 0)) {
                mm_set(m, a, i);
                if (p == P_STR && !coded) {
                    char *c = sql_arena_strndup(t->keep, m->s.p, m->s.len);
                    if (!c)
                        return base_err(err, FACTDB_NOMEM, "out of memory");
                    m->s.p = c;
                }
            }
        }
        return 0;
    }
    case AG_VAR:
    case AG_STDDEV:
        for (size_t i = 0; i < n; i++) {
            if (SKIP(i))
                continue;
            double x;
            if (p == P_F64)
                x = ((const double *)a->data)[i];
            else {
                sql_value v, d;
                vec_get(a, i, &v);
                exec_cast_value(&v, (sql_type){TY_DOUBLE, 0, 0}, 0, NULL, &d, err);
                x = d.d;
            }
            var_add((st_var *)state(t, G(i), j), x);
        }
        return 0;
    case AG_BOOL_AND:
    case AG_BOOL_OR:
        for (size_t i = 0; i < n; i++) {
            if (SKIP(i))
                continue;
            st_mm *m = (st_mm *)state(t, G(i), j);
            uint8_t v = ((const uint8_t *)a->data)[i];
            if (!m->has)
                m->i = v;
            else
                m->i = fn == AG_BOOL_AND ? (m->i && v) : (m->i || v);
            m->has = 1;
        }
        return 0;
    default:
        return base_err(err, FACTDB_INTERNAL, "unknown aggregate");
    }
#undef EACH_ROW
#undef SKIP
#undef G
}

/* Merges states of group sg of src into group dg of dst. */
static int merge_state(gtab *dst, uint32_t dg, gtab *src, uint32_t sg, int j, factdb_error *err)
{
    const agg_spec *sp = &dst->q->aggs[j];
    unsigned char *d = state(dst, dg, j), *s = state(src, sg, j);
    if (sp->distinct && sp->fn != AG_COUNT_STAR)
        return 0;  /* distinct sets merge separately */
    switch (sp->fn) {
    case AG_COUNT_STAR:
    case AG_COUNT: *(int64_t *)d += *(int64_t *)s; return 0;
    case AG_SUM:
    case AG_AVG:
        if (sp->arg->type.id == TY_DOUBLE) {
            double x = ((st_dsum *)d)->sum, y = ((st_dsum *)s)->sum;
            ((st_dsum *)d)->sum = x + y;
            ((st_dsum *)d)->cnt += ((st_dsum *)s)->cnt;
            if (isinf(x + y) && !isinf(x) && !isinf(y))
                return base_err(err, FACTDB_INVALID_VALUE, "value out of range: overflow");
            return 0;
        } else {
            st_sum *a = (st_sum *)d, *b = (st_sum *)s;
            if (!b->cnt)
                return 0;
            int64_t cnt = a->cnt + b->cnt;
            if (a->cnt == 0) {
                *a = *b;
                return 0;
            }
            if (sum_add(a, b->sum, b->scale, err))
                return err->code;
            a->cnt = cnt;
            return 0;
        }
    case AG_MIN:
    case AG_MAX:
    case AG_BOOL_AND:
    case AG_BOOL_OR: {
        st_mm *a = (st_mm *)d, *b = (st_mm *)s;
        if (!b->has)
            return 0;
        if (!a->has) {
            *a = *b;
            return 0;
        }
        if (sp->fn == AG_BOOL_AND || sp->fn == AG_BOOL_OR) {
            a->i = sp->fn == AG_BOOL_AND ? (a->i && b->i) : (a->i || b->i);
            return 0;
        }
        sql_value x, y;
        memset(&x, 0, sizeof x);
        memset(&y, 0, sizeof y);
        x.type = y.type = sp->type;
        switch (exec_phys(sp->type)) {
        case P_STR: x.s = a->s; y.s = b->s; break;
        case P_F64: x.d = a->d; y.d = b->d; break;
        case P_N128: x.n = a->n; x.nscale = a->scale; y.n = b->n; y.nscale = b->scale; break;
        default: x.i = a->i; y.i = b->i; break;
        }
        int c = exec_compare_values(&y, &x);
        if (sp->fn == AG_MIN ? c < 0 : c > 0)
            *a = *b;
        return 0;
    }
    case AG_VAR:
    case AG_STDDEV: {
        st_var *a = (st_var *)d, *b = (st_var *)s;
        if (!b->n)
            return 0;
        if (!a->n) {
            *a = *b;
            return 0;
        }
        double n = a->n + b->n, delta = b->mean - a->mean;
        a->m2 += b->m2 + delta * delta * a->n * b->n / n;
        a->mean += delta * b->n / n;
        a->n = n;
        return 0;
    }
    }
    return 0;
}

void gtab_key_words(gtab *t, vec **kv, size_t i, uint64_t *w, uint8_t *nl)
{
    sql_str s;
    for (int k = 0; k < t->nkeys; k++)
        key_of(kv[k], t->kmode[k], i, &w[k], &nl[k], &s);
}

static int merge_some(gtab *dst, gtab *src, int me, int nw, factdb_error *err);

int gtab_merge(gtab *dst, gtab *src, factdb_error *err) { return merge_some(dst, src, 0, 1, err); }

int gtab_merge_owned(gtab *dst, gtab *src, int me, int nw, factdb_error *err)
{
    return merge_some(dst, src, me, nw, err);
}

static int merge_some(gtab *dst, gtab *src, int me, int nw, factdb_error *err)
{
    size_t nk = (size_t)dst->nkeys;
    uint32_t *map = malloc((src->ng ? src->ng : 1) * sizeof *map);
    if (!map)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    int rc = 0;
    for (size_t g = 0; g < src->ng && !rc; g++) {
        uint32_t dg;
        map[g] = UINT32_MAX;
        if (nw > 1 && gtab_owner(src->kw + g * nk, src->kn + g * nk, (int)nk, nw) != me)
            continue;
        if (dst->single && g + 16 < src->ng)
            __builtin_prefetch(&dst->slots[slot_hash(src->kw[g + 16]) & dst->smask]);
        if (nk == 0) {
            dg = 0;
        } else if ((rc = gtab_find(dst, src->kw + g * nk, src->kn + g * nk, src->ks ? src->ks + g * nk : NULL, false,
                                   &dg, err))) {
            break;
        }
        map[g] = dg;
        for (int j = 0; j < dst->naggs && !rc; j++)
            rc = merge_state(dst, dg, src, (uint32_t)g, j, err);
    }
    for (int j = 0; j < dst->naggs && !rc; j++) {
        dset *s = src->dsets[j];
        if (!s)
            continue;
        int mode = distinct_mode(exec_phys(dst->q->aggs[j].arg->type), dst->dset_coded[j]);
        for (size_t i = 0; i < s->cap && !rc; i++)
            if (s->e[i].used && map[s->e[i].g] != UINT32_MAX)
                rc = dset_add(dst, dst->dsets[j], map[s->e[i].g], &s->e[i], mode, false, err);
    }
    free(map);
    return rc;
}

int gtab_merge_group(gtab *dst, gtab *src, size_t g, factdb_error *err)
{
    size_t nk = (size_t)dst->nkeys;
    uint32_t dg;
    int rc = gtab_find(dst, src->kw + g * nk, src->kn + g * nk, src->ks ? src->ks + g * nk : NULL, false, &dg, err);
    for (int j = 0; j < dst->naggs && !rc; j++)
        rc = merge_state(dst, dg, src, (uint32_t)g, j, err);
    return rc;
}

int gtab_final(gtab *t, uint32_t g, int j, sql_value *out, factdb_error *err)
{
    const agg_spec *sp = &t->q->aggs[j];
    unsigned char *s = state(t, g, j);
    memset(out, 0, sizeof *out);
    out->type = sp->type;
    switch (sp->fn) {
    case AG_COUNT_STAR:
    case AG_COUNT: out->i = *(int64_t *)s; return 0;
    case AG_SUM:
    case AG_AVG:
        if (sp->arg->type.id == TY_DOUBLE) {
            st_dsum *d = (st_dsum *)s;
            if (!d->cnt) {
                out->null = true;
                return 0;
            }
            out->d = sp->fn == AG_SUM ? d->sum : d->sum / (double)d->cnt;
            return 0;
        } else {
            st_sum *d = (st_sum *)s;
            if (!d->cnt) {
                out->null = true;
                return 0;
            }
            if (sp->fn == AG_SUM) {
                if (sp->type.id == TY_BIGINT) {
                    if (d->sum > INT64_MAX || d->sum < INT64_MIN)
                        return base_err(err, FACTDB_INVALID_VALUE, "bigint out of range in sum");
                    out->i = (int64_t)d->sum;
                } else {
                    out->n = d->sum;
                    out->nscale = (int8_t)d->scale;
                }
                return 0;
            }
            int rs = exec_div_scale(d->sum, d->scale, d->cnt, 0);
            if (exec_n128_div(d->sum, d->scale, d->cnt, 0, rs, &out->n))
                return base_err(err, FACTDB_INVALID_VALUE, "numeric value out of range in avg");
            out->nscale = (int8_t)rs;
            return 0;
        }
    case AG_MIN:
    case AG_MAX:
    case AG_BOOL_AND:
    case AG_BOOL_OR: {
        st_mm *m = (st_mm *)s;
        if (!m->has) {
            out->null = true;
            return 0;
        }
        switch (exec_phys(sp->type)) {
        case P_STR: out->s = m->s; break;
        case P_F64: out->d = m->d; break;
        case P_N128: out->n = m->n; out->nscale = m->scale; break;
        default: out->i = m->i; break;
        }
        return 0;
    }
    case AG_VAR:
    case AG_STDDEV: {
        st_var *v = (st_var *)s;
        if (v->n < 2) {
            out->null = true;
            return 0;
        }
        double var = v->m2 / (v->n - 1);
        out->d = sp->fn == AG_VAR ? var : sqrt(var);
        return 0;
    }
    }
    return base_err(err, FACTDB_INTERNAL, "unknown aggregate");
}

static int dentry_cmp(const void *pa, const void *pb, void *ctx)
{
    const dentry *a = pa, *b = pb;
    int mode = *(const int *)ctx;
    if (a->g != b->g)
        return a->g < b->g ? -1 : 1;
    switch (mode) {
    case KEY_F64: {
        double x, y;
        memcpy(&x, &a->w, 8);
        memcpy(&y, &b->w, 8);
        return dbl_lt(x, y) ? -1 : dbl_lt(y, x) ? 1 : 0;
    }
    case KEY_N128: {
        /* compare at the larger scale; values whose rescaling overflows are beyond it anyway */
        i128 x = a->n, y = b->n;
        int sx = a->scale, sy = b->scale;
        if (sx < sy && __builtin_mul_overflow(x, p10(sy - sx), &x))
            return x < 0 ? -1 : 1;
        if (sy < sx && __builtin_mul_overflow(y, p10(sx - sy), &y))
            return y < 0 ? 1 : -1;
        return x < y ? -1 : x > y;
    }
    case KEY_I64: return (int64_t)a->w < (int64_t)b->w ? -1 : (int64_t)a->w > (int64_t)b->w;
    default: return a->w < b->w ? -1 : a->w > b->w;
    }
}

int gtab_distinct_finish(gtab *t, int j, factdb_error *err)
{
    const agg_spec *sp = &t->q->aggs[j];
    dset *d = t->dsets[j];
    if (!sp->distinct || !d || !d->n)
        return 0;
    if (sp->fn == AG_COUNT) {
        for (size_t i = 0; i < d->cap; i++)
            if (d->e[i].used)
                (*(int64_t *)state(t, d->e[i].g, j))++;
        return 0;
    }
    /* the other aggregates take the values in ascending order per group, a vector at a time */
    int mode = distinct_mode(exec_phys(sp->arg->type), t->dset_coded[j]);
    dentry *e = malloc(d->n * sizeof *e);
    uint32_t *g = malloc(EXEC_VEC * sizeof *g);
    i128 *buf = malloc(EXEC_VEC * sizeof *buf);
    uint8_t *scales = malloc(EXEC_VEC);
    int rc = 0;
    if (!e || !g || !buf || !scales) {
        rc = base_err(err, FACTDB_NOMEM, "out of memory");
        goto out;
    }
    size_t n = 0;
    for (size_t i = 0; i < d->cap; i++)
        if (d->e[i].used)
            e[n++] = d->e[i];
    qsort_r(e, n, sizeof *e, dentry_cmp, &mode);
    vec a = {.type = sp->arg->type, .data = buf, .dict = -1};
    if (mode == KEY_N128)
        a.scales = scales;
    for (size_t i = 0; i < n && !rc; i += EXEC_VEC) {
        size_t m = MIN((size_t)EXEC_VEC, n - i);
        for (size_t k = 0; k < m; k++) {
            const dentry *x = &e[i + k];
            g[k] = x->g;
            switch (mode) {
            case KEY_N128:
                buf[k] = x->n * p10(x->oscale - x->scale);
                scales[k] = (uint8_t)x->oscale;
                break;
            case KEY_F64: memcpy((double *)buf + k, &x->w, 8); break;
            case KEY_U8: ((uint8_t *)buf)[k] = (uint8_t)x->w; break;
            default: ((int64_t *)buf)[k] = (int64_t)x->w; break;
            }
        }
        t->few_ok = false;  /* other group ids than the last vector's */
        rc = agg_update(t, j, sp->fn, g, &a, NULL, NULL, m, false, err);
    }
out:
    free(e);
    free(g);
    free(buf);
    free(scales);
    return rc;
}

/* Expected number of distinct keys in a worker's table, from the first chunk: `d` distinct keys among `n`
 * rows. Keys drawn evenly from G values show d = G (1 - e^(-n/G)) distinct in n rows; G is solved for by
 * bisection (at most `total`, the scan's rows), and a worker that reads `share` rows then expects
 * G (1 - e^(-share/G)) of them. A chunk without a repeated key (unique or clustered keys, each chunk
 * bringing new ones) means a group per row: `share` groups. */
double gtab_expected_groups(double d, double n, double total, double share)
{
    if (d <= 0 || n <= 0)
        return 0;
    if (d >= n)
        return share;
    double lo = d, hi = MAX(total, d);
    if (hi * (1 - exp(-n / hi)) <= d)
        return share;  /* more distinct keys than even `total` values would give */
    for (int i = 0; i < 100; i++) {
        double mid = (lo + hi) / 2;
        if (mid * (1 - exp(-n / mid)) < d)
            lo = mid;
        else
            hi = mid;
    }
    return hi * (1 - exp(-share / hi));
}

double gtab_expected_share(double d, double n, double rows, double hood, double share)
{
    hood = hood < n ? n : hood > rows ? rows : hood;
    if (share <= hood)
        return gtab_expected_groups(d, n, hood, share);
    /* the share spans share/hood neighbourhoods of different keys */
    return gtab_expected_groups(d, n, hood, hood) * (share / hood);
}

bool gtab_prefer_partitioned(double d, double n, double rows, double hood, int nw)
{
    if (nw < 2)
        return false;
    double share = rows / nw;
    return (nw - 1) * gtab_expected_share(d, n, rows, hood, share) > share / 4;
}
