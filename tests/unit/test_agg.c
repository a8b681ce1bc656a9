/* test_agg.c: the choice between per-worker group tables and partitioned grouping (issue 11). */
#include "exec/agg.h"
#include <criterion/criterion.h>
#include <math.h>

/* distinct keys among n rows drawn evenly from g values */
static double seen(double g, double n) { return g * (1 - exp(-n / g)); }

Test(grouping, estimates_distinct_keys_from_a_sample)
{
    const double n = 65536, rows = 4e6;
    double gs[] = {10, 1000, 10000, 100000, 1000000};
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) {
        double want = seen(gs[i], rows / 2), got = gtab_expected_groups(seen(gs[i], n), n, rows, rows / 2);
        cr_expect(fabs(got - want) <= want * 0.02, "%g keys: expected %g per worker, estimated %g", gs[i], want, got);
    }
    /* no key repeated in the sample (unique or clustered keys): a group per row read */
    cr_expect_eq(gtab_expected_groups(n, n, rows, rows / 2), rows / 2);
    cr_expect_eq(gtab_expected_groups(0, 0, rows, rows), 0);
}

Test(grouping, partitions_only_when_the_merge_would_cost_more)
{
    const double n = 65536, rows = 4e6;
    /* issue 11: 10k and 100k keys were partitioned (radix) and 2 threads took twice as long as 1 */
    cr_expect(!gtab_prefer_partitioned(seen(10, n), n, rows, rows, 2));
    cr_expect(!gtab_prefer_partitioned(seen(10000, n), n, rows, rows, 2));
    cr_expect(!gtab_prefer_partitioned(seen(100000, n), n, rows, rows, 2));
    cr_expect(gtab_prefer_partitioned(seen(1000000, n), n, rows, rows, 2));
    cr_expect(gtab_prefer_partitioned(n, n, rows, rows, 2));
    cr_expect(!gtab_prefer_partitioned(n, n, rows, rows, 1));
}

Test(grouping, keys_clustered_by_load_order_count_per_neighbourhood)
{
    /* TPC-H l_orderkey: 4 rows a key, sorted, so a first chunk of 65,536 rows holds 16,384 keys that recur
     * in no other chunk; 6M rows hold 1.5M keys (1-7 rows a key). Taken as spread over the table, 16k keys look like 16k
     * groups in all and the merge of 2 workers' tables looks cheap; per neighbourhood (the first chunk's
     * own rows, from zone maps) a worker expects 750k groups. */
    const double n = 65536, d = 16453, rows = 6001278;  /* as measured on bench-tpch-gen's SF1 */
    cr_expect(!gtab_prefer_partitioned(d, n, rows, rows, 2));
    cr_expect(gtab_prefer_partitioned(d, n, rows, n, 2));
    double per = gtab_expected_groups(d, n, n, n) * (rows / 2 / n);
    cr_expect(per > 700000 && per < 800000, "%g", per);
    /* the same 16k keys over two chunks' neighbourhood still repeat (4 rows each): no partitioning gain
     * is assumed for keys whose neighbourhood covers the table */
    cr_expect(!gtab_prefer_partitioned(seen(10000, n), n, rows, 2 * n, 2));
}
