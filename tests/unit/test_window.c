/* test_window.c: exec_window_run (src/exec/window.c) against a brute-force oracle: random partitions with
 * NULLs, every ROWS frame shape, and the aggregates whose frames are maintained incrementally (sliding
 * sums, the min/max deque), where an off-by-one would hide in plain SQL tests. */
#include "exec/exec.h"
#include <criterion/criterion.h>
#include <stdlib.h>

enum { N = 300 };
static const sql_type TI = {TY_INT, 0, 0};

/* rows (id, g, v): id is the row's position, g one of 4 partitions, v 0..49 or NULL (1 in 8) */
static void make_input(rowset *in, unsigned seed)
{
    factdb_error err = {0};
    sql_type types[3] = {TI, TI, TI};
    cr_assert_eq(rowset_init(in, 3, types, NULL, 0, &err), 0);
    srand(seed);
    for (int i = 0; i < N; i++) {
        int r = rand();
        sql_value row[3] = {{.type = TI, .i = i}, {.type = TI, .i = r % 4}, {.type = TI, .i = (r >> 4) % 50}};
        row[2].null = ((r >> 12) & 7) == 0;
        cr_assert_eq(rowset_add_row(in, row, &err), 0);
    }
}

static int64_t at(const rowset *r, int col, size_t row, bool *null)
{
    sql_value v;
    rowset_get(r, col, row, &v);
    *null = v.null;
    return v.i;
}

/* The frame [lo, hi] (positions within the partition's rows ordered by id) of row number i of m. */
static void oracle_frame(win_bound s, int64_t so, win_bound e, int64_t eo, int64_t i, int64_t m, int64_t *lo,
                         int64_t *hi)
{
    *lo = s == WB_UNBOUNDED_PRECEDING ? 0 : s == WB_PRECEDING ? i - so : s == WB_CURRENT_ROW ? i : i + so;
    *hi = e == WB_UNBOUNDED_FOLLOWING ? m - 1 : e == WB_FOLLOWING ? i + eo : e == WB_CURRENT_ROW ? i : i - eo;
    if (*lo < 0)
        *lo = 0;
    if (*hi > m - 1)
        *hi = m - 1;
}

Test(window, rows_frames_match_a_brute_force_oracle)
{
    rowset in;
    make_input(&in, 13);
    const win_bound starts[] = {WB_UNBOUNDED_PRECEDING, WB_PRECEDING, WB_CURRENT_ROW, WB_FOLLOWING};
    const win_bound ends[] = {WB_PRECEDING, WB_CURRENT_ROW, WB_FOLLOWING, WB_UNBOUNDED_FOLLOWING};
    const win_fn fns[] = {WF_COUNT, WF_SUM, WF_MIN, WF_MAX, WF_FIRST_VALUE, WF_LAST_VALUE};
    const int part[1] = {1};
    const sort_key order[1] = {{.col = 0}};
    int checked = 0;
    for (size_t si = 0; si < 4; si++)
        for (size_t ei = 0; ei < 4; ei++)
            for (int64_t so = 0; so < 3; so++)
                for (int64_t eo = 0; eo < 3; eo++) {
                    win_bound s = starts[si], e = ends[ei];
                    if ((s == WB_CURRENT_ROW && e == WB_PRECEDING) ||
                        (s == WB_FOLLOWING && (e == WB_PRECEDING || e == WB_CURRENT_ROW)))
                        continue;
                    exec_wcall calls[6];
                    for (int f = 0; f < 6; f++)
                        calls[f] = (exec_wcall){.fn = fns[f], .type = fns[f] == WF_COUNT ? (sql_type){TY_BIGINT, 0, 0}
                                                : fns[f] == WF_SUM ? (sql_type){TY_BIGINT, 0, 0} : TI,
                                                .arg = {2, -1, -1}, .filter = -1, .part = part, .npart = 1,
                                                .order = order, .norder = 1, .rows = true, .start = s, .end = e,
                                                .start_off = so, .end_off = eo};
                    exec_window w = {.calls = calls, .ncalls = 6};
                    rowset out;
                    factdb_error err = {0};
                    cr_assert_eq(exec_window_run(&w, &in, &out, &err), 0, "%s", err.message);
                    cr_assert_eq(out.n, (size_t)N);
                    for (int64_t row = 0; row < N; row++) {
                        bool nl;
                        int64_t g = at(&in, 1, (size_t)row, &nl), m = 0, i = 0;
                        int64_t rows[N];
                        for (int64_t k = 0; k < N; k++)
                            if (at(&in, 1, (size_t)k, &nl) == g) {
                                if (k == row)
                                    i = m;
                                rows[m++] = k;
                            }
                        int64_t lo, hi;
                        oracle_frame(s, so, e, eo, i, m, &lo, &hi);
                        int64_t cnt = 0, sum = 0, mn = INT64_MAX, mx = INT64_MIN;
                        for (int64_t k = lo; k <= hi; k++) {
                            int64_t v = at(&in, 2, (size_t)rows[k], &nl);
                            if (nl)
                                continue;
                            cnt++;
                            sum += v;
                            mn = v < mn ? v : mn;
                            mx = v > mx ? v : mx;
                        }
                        bool n0, n1, n2, n3, n4, n5, fn = true, ln = true;
                        int64_t fv = 0, lv = 0;
                        if (lo <= hi) {
                            fv = at(&in, 2, (size_t)rows[lo], &fn);
                            lv = at(&in, 2, (size_t)rows[hi], &ln);
                        }
                        cr_expect_eq(at(&out, 3, (size_t)row, &n0), cnt);
                        int64_t got_sum = at(&out, 4, (size_t)row, &n1);
                        cr_expect(n1 == !cnt && (!cnt || got_sum == sum), "sum frame %d/%d %lld/%lld row %lld",
                                  (int)s, (int)e, (long long)so, (long long)eo, (long long)row);
                        int64_t got_mn = at(&out, 5, (size_t)row, &n2), got_mx = at(&out, 6, (size_t)row, &n3);
                        cr_expect(n2 == !cnt && (!cnt || got_mn == mn), "min frame %d/%d row %lld", (int)s, (int)e,
                                  (long long)row);
                        cr_expect(n3 == !cnt && (!cnt || got_mx == mx), "max frame %d/%d row %lld", (int)s, (int)e,
                                  (long long)row);
                        int64_t got_f = at(&out, 7, (size_t)row, &n4), got_l = at(&out, 8, (size_t)row, &n5);
                        cr_expect(n4 == fn && (fn || got_f == fv), "first_value row %lld", (long long)row);
                        cr_expect(n5 == ln && (ln || got_l == lv), "last_value row %lld", (long long)row);
                        checked++;
                    }
                    rowset_cleanup(&out);
                }
    cr_expect(checked > 10000);
    rowset_cleanup(&in);
}

Test(window, ranks_count_peers)
{
    rowset in;
    make_input(&in, 7);
    const sort_key order[1] = {{.col = 2, .nulls_first = true}};
    exec_wcall calls[3] = {
        {.fn = WF_RANK, .type = {TY_BIGINT, 0, 0}, .arg = {-1, -1, -1}, .filter = -1, .order = order, .norder = 1},
        {.fn = WF_DENSE_RANK, .type = {TY_BIGINT, 0, 0}, .arg = {-1, -1, -1}, .filter = -1, .order = order, .norder = 1},
        {.fn = WF_CUME_DIST, .type = {TY_DOUBLE, 0, 0}, .arg = {-1, -1, -1}, .filter = -1, .order = order, .norder = 1}};
    exec_window w = {.calls = calls, .ncalls = 3};
    rowset out;
    factdb_error err = {0};
    cr_assert_eq(exec_window_run(&w, &in, &out, &err), 0, "%s", err.message);
    for (size_t row = 0; row < N; row++) {
        bool nl, kn;
        int64_t v = at(&in, 2, row, &nl), before = 0, upto = 0;
        bool seen[51] = {0};
        for (size_t k = 0; k < N; k++) {
            int64_t u = at(&in, 2, k, &kn);
            /* NULLS FIRST: a NULL sorts below every value, and NULLs are peers */
            int c = kn && nl ? 0 : kn ? -1 : nl ? 1 : (u > v) - (u < v);
            before += c < 0;
            upto += c <= 0;
            if (c <= 0)
                seen[kn ? 50 : u] = true;
        }
        int64_t distinct = 0;
        for (int d = 0; d < 51; d++)
            distinct += seen[d];
        sql_value cd;
        rowset_get(&out, 5, row, &cd);
        cr_expect_eq(at(&out, 3, row, &kn), before + 1);
        cr_expect_eq(at(&out, 4, row, &kn), distinct);
        cr_expect(cd.d == (double)upto / N);
    }
    rowset_cleanup(&out);
    rowset_cleanup(&in);
}
