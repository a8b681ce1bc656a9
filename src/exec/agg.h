/* agg.h: group tables and aggregate states (agg.c), used by the executor (run.c). */
#ifndef FACTDB_AGG_H
#define FACTDB_AGG_H

#include "exec.h"

#define MAX_KEYS 64
#define MAX_AGGS 256

/* KEY_N128 and KEY_IV: values of DISTINCT aggregates only (never group keys). */
enum { KEY_I64, KEY_F64, KEY_U8, KEY_CODE, KEY_STR, KEY_N128, KEY_IV };

/* One distinct value of a DISTINCT aggregate in group g. w: the key word (as for group keys; for a 128-bit
 * numeric a hash of n). s: the string of a text value; n/scale: a 128-bit numeric with trailing zeros
 * stripped (so 1.0 and 1.00 are one value), oscale: the largest scale it came with (the result's scale). */
typedef struct dentry {
    uint64_t h, w;
    union {
        sql_str s;
        i128 n;
    };
    uint32_t g;
    int8_t scale, oscale;
    uint8_t used;
} dentry;

typedef struct dset {
    dentry *e;
    size_t n, cap;
} dset;

/* A hash slot: for a single non-string key the key word itself, else the hash; g = group + 1 (0 = empty). */
typedef struct gslot {
    uint64_t tag;
    uint32_t g;
    uint32_t pad;
} gslot;

typedef struct gtab {
    const query *q;
    int nkeys, naggs;
    int kmode[MAX_KEYS];
    size_t ng, gcap, ssz;  /* ssz: bytes of a group's aggregate states */
    size_t soff[MAX_AGGS]; /* where aggregate j's state lies in them */
    uint64_t *kw;          /* ng * nkeys key words */
    uint8_t *kn;           /* ng * nkeys NULL flags */
    sql_str *ks;           /* ng * nkeys strings (KEY_STR) */
    uint64_t *gh;          /* per group hash */
    unsigned char *st;     /* ng * ssz aggregate states */
    gslot *slots;          /* hash mode */
    size_t smask;
    bool single;           /* one non-string key: slots hold the key word itself */
    uint32_t null_g;       /* single: group + 1 of the NULL key */
    bool dense;
    uint32_t *dmap;        /* dense mode: combined codes -> group + 1 */
    size_t dsize;
    uint64_t stride[MAX_KEYS], domain[MAX_KEYS];
    int64_t kbase[MAX_KEYS];   /* dense mode: subtracted from an integer key's value */
    dset *dsets[MAX_AGGS];
    bool dset_coded[MAX_AGGS];
    _Atomic size_t *mem;
    size_t limit, charged;
    sql_arena *keep;
    bool runs;             /* the current vector's rows are sorted by group (gtab_sort_rows): */
    size_t nruns;          /* its runs: rows [run_at[r], run_at[r + 1]) belong to group run_g[r] */
    uint32_t run_at[129], run_g[128];
    bool few_ok;           /* few_cnt holds the row counts per group of group ids few_g[0..few_n) */
    const uint32_t *few_g;
    size_t few_n;
    uint32_t few_cnt[64];
} gtab;

/* kmode/domain/base per key (domain: dictionary size of a KEY_CODE key, 2 for booleans, max - min + 1 of an
 * integer key whose values all lie in [base, base + domain), 0 = unknown). Keys whose domains (+1 each for
 * NULL) multiply to at most dense_max (gtab_dense_limit of the table's rows) index an array (dense mode)
 * instead of a hash table. */
int gtab_init(gtab *t, const query *q, const int *kmode, const uint64_t *domain, const int64_t *base,
              uint64_t dense_max, _Atomic size_t *mem, size_t limit, sql_arena *keep, factdb_error *err);
/* The largest dense key space for a table of `rows` rows: 2^20 entries (4 MiB), or up to twice the rows
 * (an array no bigger than a hash table's slots would be), at most 2^26. */
uint64_t gtab_dense_limit(double rows);
void gtab_cleanup(gtab *t);
int gtab_find(gtab *t, const uint64_t *w, const uint8_t *nl, const sql_str *s, bool copy, uint32_t *out,
              factdb_error *err);
/* Group ids of rows 0..n of the key vectors. */
int gtab_groups(gtab *t, vec **kv, size_t n, uint32_t *g, factdb_error *err);
/* With few groups, sorts rows 0..n by group id (counting sort): g in place, and the input rows they came
 * from (sel[i], or i without sel) into sel_out; the next gtab_update calls then add each group's run of
 * rows in registers. Returns false (nothing changed) when runs would be short. */
bool gtab_sort_rows(gtab *t, uint32_t *g, const uint32_t *sel, uint32_t *sel_out, size_t n);
/* Adds rows 0..n of `a` (NULL for count(*)) to aggregate j; g NULL = all in group 0; fmask/fvalid: FILTER.
 * coded: text values are dictionary codes / stable dictionary strings. */
int gtab_update(gtab *t, int j, const uint32_t *g, vec *a, const uint8_t *fmask, const uint8_t *fvalid, size_t n,
                bool coded, factdb_error *err);
int gtab_merge(gtab *dst, gtab *src, factdb_error *err);
/* Which of nw workers owns a group key (the same for a row's key words and a stored group's). */
static inline int gtab_owner(const uint64_t *w, const uint8_t *nl, int nkeys, int nw)
{
    uint64_t h = 0x51ed27;
    for (int k = 0; k < nkeys; k++)
        h = (h ^ (nl[k] ? 0x5bd1e995u : w[k])) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return (int)((h >> 32) % (uint64_t)nw);
}
/* Merges group g of src into dst (no DISTINCT sets). */
int gtab_merge_group(gtab *dst, gtab *src, size_t g, factdb_error *err);
/* Merges the groups of src that worker `me` of nw owns into dst. */
int gtab_merge_owned(gtab *dst, gtab *src, int me, int nw, factdb_error *err);
/* The key words of rows 0..n of the key vectors (for ownership). */
void gtab_key_words(gtab *t, vec **kv, size_t i, uint64_t *w, uint8_t *nl);
/* Folds the distinct values of aggregate j (after every merge into t) into its states, in ascending order of
 * value per group as PostgreSQL does (sums of doubles then do not depend on the thread count). Call once,
 * before gtab_final. Errors: NOMEM, INVALID_VALUE (overflow). */
int gtab_distinct_finish(gtab *t, int j, factdb_error *err);
int gtab_final(gtab *t, uint32_t g, int j, sql_value *out, factdb_error *err);
/* The distinct keys a worker reading `share` of `rows` rows expects, when a first chunk of n rows had d
 * (keys taken as evenly spread over an unknown number of values, estimated from d and n). */
double gtab_expected_groups(double d, double n, double rows, double share);
/* Whether grouping with nw workers should partition keys (radix or owned mode) rather than give each
 * worker a table of its own merged at the end. The merge is serial: worker 0 inserts (nw - 1) tables of
 * Gw groups each, while partitioning costs every row more (rows written out and read back, or every
 * worker decoding every chunk) but needs no merge. Partition when that merge would exceed a quarter of a
 * worker's share of the scan. Measured (issue 11, 4M rows, 2 threads): per-worker tables win at 100k
 * groups (140 ms against 160-250 ms partitioned), partitioning at 1M (320 ms against 410 ms). */
/* The distinct keys expected among `share` of `rows` rows, where the first chunk's n rows had d and its
 * keys recur only among `hood` rows (see below). */
double gtab_expected_share(double d, double n, double rows, double hood, double share);
/* Makes room for `groups` groups at once (capacity and hash slots), instead of doubling through the sizes
 * below (each doubling copies every array). */
int gtab_reserve(gtab *t, size_t groups, factdb_error *err);
/* hood: the rows among which the first chunk's keys can recur, from zone maps: the rows of the chunks
 * whose key range overlaps the first chunk's (all rows for keys spread over the table; one chunk's for
 * keys clustered by load order, such as TPC-H's l_orderkey, whose 1.5 million keys a first chunk of
 * 16k distinct keys in 64k rows would otherwise put at 16k). */
bool gtab_prefer_partitioned(double d, double n, double rows, double hood, int nw);

#endif
