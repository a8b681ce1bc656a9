/* test_join.c: exec_join_run (src/exec/join.c) split among workers. The probe side is cut into ranges, one
 * per worker, and the build side's match flags are shared, so every join kind must give the same rows in the
 * same order with 1 and with 4 workers, and as many as counting the keys of both sides says: inner joins
 * sum(l's count x r's count) per key, outer joins add the unmatched rows, semi and anti joins split l. Tables
 * big enough for several workers (a worker per 16,384 rows), with duplicate and NULL keys on both sides,
 * integer and text keys. */
#include "exec/exec.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NL = 70000, NR = 45000, KEYS = 30000 };
static const sql_type TI = {TY_INT, 0, 0}, TT = {TY_TEXT, 0, 0};

/* rows (k, ktext, id): k in 0..KEYS-1 or NULL (1 in 16), ktext the same key as text, id the row number */
static void make_side(rowset *rs, size_t n, unsigned seed, int *count)
{
    factdb_error err = {0};
    sql_type types[3] = {TI, TT, TI};
    cr_assert_eq(rowset_init(rs, 3, types, NULL, 0, &err), 0);
    srand(seed);
    char buf[16];
    for (size_t i = 0; i < n; i++) {
        int r = rand();
        bool null = (r & 15) == 0;
        int k = (r >> 4) % KEYS;
        int len = snprintf(buf, sizeof buf, "k%d", k);
        sql_value row[3] = {{.type = TI, .i = k, .null = null}, {.type = TT, .s = {buf, (size_t)len}, .null = null},
                            {.type = TI, .i = (int64_t)i}};
        cr_assert_eq(rowset_add_row(rs, row, &err), 0);
        if (!null)
            count[k]++;
    }
}

static size_t expected_rows(join_type t, const int *cl, const int *cr, size_t nl, size_t nr)
{
    size_t pairs = 0, lmatched = 0, rmatched = 0;
    for (int k = 0; k < KEYS; k++) {
        pairs += (size_t)cl[k] * (size_t)cr[k];
        if (cr[k])
            lmatched += (size_t)cl[k];
        if (cl[k])
            rmatched += (size_t)cr[k];
    }
    switch (t) {
    case JT_INNER: return pairs;
    case JT_LEFT: return pairs + nl - lmatched;
    case JT_RIGHT: return pairs + nr - rmatched;
    case JT_FULL: return pairs + nl - lmatched + nr - rmatched;
    case JT_SEMI: return lmatched;
    case JT_ANTI: return nl - lmatched;
    default: return 0;
    }
}

static void same_rows(const rowset *a, const rowset *b)
{
    cr_assert_eq(a->n, b->n);
    cr_assert_eq(a->ncols, b->ncols);
    for (int c = 0; c < a->ncols; c++)
        for (size_t i = 0; i < a->n; i++) {
            sql_value x, y;
            rowset_get(a, c, i, &x);
            rowset_get(b, c, i, &y);
            cr_assert_eq(x.null, y.null, "column %d row %zu", c, i);
            if (!x.null)
                cr_assert_eq(exec_compare_values(&x, &y), 0, "column %d row %zu", c, i);
        }
}

static void check_kind(join_type t, int key, const rowset *l, const rowset *r, const int *cl, const int *cr)
{
    const int lk[1] = {key}, rk[1] = {key};
    rowset one, four;
    factdb_error err = {0};
    exec_join j = {.type = t, .nkeys = 1, .lkey = lk, .rkey = rk, .threads = 1};
    cr_assert_eq(exec_join_run(&j, l, r, &one, &err), 0, "%s", err.message);
    j.threads = 4;
    cr_assert_eq(exec_join_run(&j, l, r, &four, &err), 0, "%s", err.message);
    cr_assert_eq(one.n, expected_rows(t, cl, cr, l->n, r->n), "join kind %d on column %d", (int)t, key);
    same_rows(&one, &four);
    /* the pairs really join: equal keys (or NULL on the side an outer join filled in) */
    if (t != JT_SEMI && t != JT_ANTI)
        for (size_t i = 0; i < four.n; i++) {
            sql_value a, b;
            rowset_get(&four, key, i, &a);
            rowset_get(&four, 3 + key, i, &b);
            if (!a.null && !b.null)
                cr_assert_eq(exec_compare_values(&a, &b), 0, "row %zu", i);
        }
    rowset_cleanup(&one);
    rowset_cleanup(&four);
}

Test(join, workers_give_one_workers_rows_for_every_kind)
{
    static int cl[KEYS], cr[KEYS];
    rowset l, r;
    make_side(&l, NL, 7, cl);
    make_side(&r, NR, 11, cr);
    const join_type kinds[] = {JT_INNER, JT_LEFT, JT_RIGHT, JT_FULL, JT_SEMI, JT_ANTI};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        check_kind(kinds[i], 0, &l, &r, cl, cr);  /* integer keys, built on r (the smaller side) */
        check_kind(kinds[i], 1, &l, &r, cl, cr);  /* text keys */
        check_kind(kinds[i], 0, &r, &l, cr, cl);  /* built on the left side */
    }
    rowset_cleanup(&l);
    rowset_cleanup(&r);
}

/* exec_find (eval.c's substring search for LIKE) against memmem: random haystacks over a small alphabet, so
 * needles occur, at every length around the 16-place blocks and their overlapping last block. */
Test(like, exec_find_agrees_with_memmem)
{
    srand(5);
    char h[80], n[20];
    for (int t = 0; t < 200000; t++) {
        size_t hn = (size_t)rand() % sizeof h, nn = (size_t)rand() % 6 + (t % 7 == 0 ? 10 : 0);
        for (size_t i = 0; i < hn; i++)
            h[i] = "abc"[rand() % 3];
        for (size_t i = 0; i < nn; i++)
            n[i] = "abc"[rand() % 3];
        cr_assert_eq(exec_find(h, hn, n, nn), memmem(h, hn, n, nn), "haystack %.*s needle %.*s", (int)hn, h, (int)nn, n);
    }
}
