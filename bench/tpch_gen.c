/* tpch_gen.c: TPC-H data as CSV with headers, written from the TPC-H specification's column definitions
 * (clause 4.2.3) with fixed seeds, so every run at a scale factor gives the same bytes. Two modes:
 *
 *   bench-tpch-gen SF [OUT]          lineitem alone (bench/tpch.sh), to OUT or standard output
 *   bench-tpch-gen --tables SF DIR   all 8 tables: DIR/region.csv, nation.csv, supplier.csv, part.csv,
 *                                    partsupp.csv, customer.csv, orders.csv, lineitem.csv
 *
 * Both modes run the same order/line loop, and lineitem draws from its own random stream (every other
 * column of every table has a stream of its own), so lineitem.csv is byte for byte the file of the
 * lineitem-only mode, and the lineitem bytes are those this generator wrote before it had the other tables.
 *
 *   region, nation  the specification's 5 regions and 25 nations (with their region keys)
 *   supplier      SF * 10,000: s_name Supplier#000000001, s_address 10-40 alphanumerics, s_nationkey
 *                 [0, 24], s_phone (clause 4.2.2.9: country code nationkey + 10, then 3-3-4 digits),
 *                 s_acctbal [-999.99, 9999.99], s_comment 25-100 characters; max(1, SF * 5) suppliers
 *                 hold "Customer ...Complaints" in theirs, as many others "Customer ...Recommends" (Q16)
 *   part          SF * 200,000: p_name 5 distinct words of the 92 colors, p_mfgr Manufacturer#M, p_brand
 *                 Brand#MN (M, N in [1, 5]), p_type 3 syllables (6 x 5 x 5), p_size [1, 50], p_container
 *                 2 syllables (5 x 8), p_retailprice (90000 + (partkey / 10) mod 20001 + 100 * (partkey mod
 *                 1000)) / 100, p_comment 5-22 characters
 *   partsupp      4 per part: ps_suppkey (partkey + i * (S / 4 + (partkey - 1) / S)) mod S + 1, i in [0, 3],
 *                 S = SF * 10,000; ps_availqty [1, 9999], ps_supplycost [1.00, 1000.00], ps_comment 49-198
 *   customer      SF * 150,000: c_name Customer#000000001, c_address, c_nationkey, c_phone as suppliers',
 *                 c_acctbal [-999.99, 9999.99], c_mktsegment of 5, c_comment 29-116 characters
 *   orders        SF * 1,500,000, keys sparse: of each group of 32 keys only the first 8 are used;
 *                 o_custkey uniform over the custkeys that are not a multiple of 3 (a third of the
 *                 customers have no order: Q13, Q22), o_orderdate uniform [1992-01-01, 1998-12-31 - 151
 *                 days], o_orderstatus F (all its lines F), O (all O) or P, o_totalprice the sum of its lines'
 *                 l_extendedprice * (1 + l_tax) * (1 - l_discount) (each line rounded to cents),
 *                 o_orderpriority of 5, o_clerk Clerk#000000001 [1, SF * 1000], o_shippriority 0,
 *                 o_comment 19-78 characters (Q13's '%special%requests%' matches some)
 *   lineitem      uniform [1, 7] lines per order, l_linenumber 1..n
 *                 l_partkey uniform [1, SF * 200,000], l_suppkey one of the part's 4 partsupp suppliers
 *                 l_quantity [1, 50], l_extendedprice l_quantity * p_retailprice
 *                 l_discount [0.00, 0.10], l_tax [0.00, 0.08]
 *                 l_shipdate orderdate + [1, 121], l_commitdate orderdate + [30, 90], l_receiptdate
 *                 shipdate + [1, 30]; l_returnflag 'R' or 'A' (uniform) if receiptdate <= CURRENTDATE
 *                 1995-06-17, else 'N'; l_linestatus 'O' if shipdate > CURRENTDATE, else 'F'
 *                 l_shipinstruct, l_shipmode uniform from the specification's lists, l_comment 10-43
 *
 * Comments are words of a fixed list cut to a length drawn from the specification's range (its text
 * grammar is not reproduced). No field holds a comma or a quote, so no field is quoted. The random
 * streams, CSV output and word lists are bench/gen_csv.c's, shared with bench/ssb_gen.c.
 *
 * Usage: bench-tpch-gen SF [OUT] | bench-tpch-gen --tables SF DIR  (SF a positive decimal: 1, 3, 0.01) */
#include "gen_csv.h"
#include <stdlib.h>
#include <string.h>

static void gen_region_nation(void)
{
    sink o;
    rng r = {0x5e610e5u};
    sink_open(&o, "region", NULL);
    put_s(&o, "r_regionkey,r_name,r_comment\n");
    for (int i = 0; i < (int)N(regions); i++) {
        put_int(&o, i);
        put_c(&o, ',');
        put_s(&o, regions[i]);
        put_c(&o, ',');
        put_text(&o, &r, 31, 115);
        put_c(&o, '\n');
    }
    sink_close(&o);
    sink_open(&o, "nation", NULL);
    put_s(&o, "n_nationkey,n_name,n_regionkey,n_comment\n");
    for (int i = 0; i < (int)N(nations); i++) {
        put_int(&o, i);
        put_c(&o, ',');
        put_s(&o, nations[i].name);
        put_c(&o, ',');
        put_int(&o, nations[i].region);
        put_c(&o, ',');
        put_text(&o, &r, 31, 114);
        put_c(&o, '\n');
    }
    sink_close(&o);
}


/* The columns suppliers and customers share (clause 4.2.3): key, name (label + 9-digit key), address,
 * nation uniform [0, 24], phone of that nation, account balance uniform [-999.99, 9999.99], each followed by
 * a comma. */
static void put_party(sink *o, rng *r, int64_t key, const char *label)
{
    int nation = (int)uniform(r, 0, 24);
    put_int(o, key);
    put_s(o, label);
    put_int9(o, key);
    put_c(o, ',');
    put_vstring(o, r, 10, 40);
    put_c(o, ',');
    put_int(o, nation);
    put_c(o, ',');
    put_phone(o, r, nation);
    put_c(o, ',');
    put_cents(o, uniform(r, -99999, 999999));
    put_c(o, ',');
}

static void gen_supplier(int64_t supps, double sf)
{
    /* 0 plain, 1 Complaints, 2 Recommends: max(1, SF * 5) suppliers of each kind, drawn without repeats
     * (at least one so that Q16's NOT IN (... '%Customer%Complaints%') excludes something at small SF) */
    unsigned char *kind = calloc((size_t)supps + 1, 1);
    rng pick = {0xc0ffee5u}, r = {0x5a9911e5u};
    int64_t special = (int64_t)(sf * 5 + 0.5);
    if (special < 1)
        special = 1;
    if (!kind) {
        fprintf(stderr, "bench-tpch-gen: out of memory\n");
        exit(1);
    }
    for (int k = 1; k <= 2; k++)
        for (int64_t n = 0; n < special && n * 2 < supps;) {
            int64_t s = uniform(&pick, 1, supps);
            if (!kind[s]) {
                kind[s] = (unsigned char)k;
                n++;
            }
        }
    sink o;
    sink_open(&o, "supplier", NULL);
    put_s(&o, "s_suppkey,s_name,s_address,s_nationkey,s_phone,s_acctbal,s_comment\n");
    for (int64_t s = 1; s <= supps; s++) {
        row_start(&o);
        put_party(&o, &r, s, ",Supplier#");
        char text[256];
        int len = make_text(&r, 25, 100, text);
        if (kind[s]) {
            /* "Customer " ... "Complaints" (or "Recommends") over the text at a random position */
            const char *tail = kind[s] == 1 ? "Complaints" : "Recommends";
            int need = 9 + (int)strlen(tail) + 1, at = (int)uniform(&r, 0, len - need);
            memcpy(text + at, "Customer ", 9);
            text[at + 9] = "xyz"[rnd(&r) % 3]; /* the % of "Customer%Complaints" matches something */
            memcpy(text + at + 10, tail, strlen(tail));
        }
        put(&o, text, (size_t)len);
        put_c(&o, '\n');
    }
    sink_close(&o);
    free(kind);
}

static int64_t retail_cents(int64_t pk)
{
    return 90000 + (pk / 10) % 20001 + 100 * (pk % 1000);
}

/* supplier i (0..3) of part pk: the partsupp rows and lineitem's l_suppkey use this one formula */
static int64_t part_supp(int64_t pk, int64_t i, int64_t supps)
{
    return (pk + i * (supps / 4 + (pk - 1) / supps)) % supps + 1;
}

static void gen_part_partsupp(int64_t parts, int64_t supps)
{
    sink p, ps;
    rng r = {0x9a57u}, rs = {0x9a575599u};
    sink_open(&p, "part", NULL);
    sink_open(&ps, "partsupp", NULL);
    put_s(&p, "p_partkey,p_name,p_mfgr,p_brand,p_type,p_size,p_container,p_retailprice,p_comment\n");
    put_s(&ps, "ps_partkey,ps_suppkey,ps_availqty,ps_supplycost,ps_comment\n");
    for (int64_t pk = 1; pk <= parts; pk++) {
        row_start(&p);
        put_int(&p, pk);
        put_c(&p, ',');
        int pick[5];
        for (int i = 0; i < 5; i++) {
            int c, dup;
            do {
                c = (int)(rnd(&r) % N(colors));
                dup = 0;
                for (int j = 0; j < i; j++)
                    dup |= pick[j] == c;
            } while (dup);
            pick[i] = c;
            if (i)
                put_c(&p, ' ');
            put_s(&p, colors[c]);
        }
        int m = (int)uniform(&r, 1, 5), n = (int)uniform(&r, 1, 5);
        put_s(&p, ",Manufacturer#");
        put_int(&p, m);
        put_s(&p, ",Brand#");
        put_int(&p, m * 10 + n);
        put_c(&p, ',');
        put_s(&p, type1[rnd(&r) % N(type1)]);
        put_c(&p, ' ');
        put_s(&p, type2[rnd(&r) % N(type2)]);
        put_c(&p, ' ');
        put_s(&p, type3[rnd(&r) % N(type3)]);
        put_c(&p, ',');
        put_int(&p, uniform(&r, 1, 50));
        put_c(&p, ',');
        put_s(&p, cont1[rnd(&r) % N(cont1)]);
        put_c(&p, ' ');
        put_s(&p, cont2[rnd(&r) % N(cont2)]);
        put_c(&p, ',');
        put_cents(&p, retail_cents(pk));
        put_c(&p, ',');
        put_text(&p, &r, 5, 22);
        put_c(&p, '\n');
        for (int i = 0; i < 4; i++) {
            row_start(&ps);
            put_int(&ps, pk);
            put_c(&ps, ',');
            put_int(&ps, part_supp(pk, i, supps));
            put_c(&ps, ',');
            put_int(&ps, uniform(&rs, 1, 9999));
            put_c(&ps, ',');
            put_cents(&ps, uniform(&rs, 100, 100000));
            put_c(&ps, ',');
            put_text(&ps, &rs, 49, 198);
            put_c(&ps, '\n');
        }
    }
    sink_close(&p);
    sink_close(&ps);
}

static void gen_customer(int64_t custs)
{
    sink o;
    rng r = {0xc5700e5u};
    sink_open(&o, "customer", NULL);
    put_s(&o, "c_custkey,c_name,c_address,c_nationkey,c_phone,c_acctbal,c_mktsegment,c_comment\n");
    for (int64_t c = 1; c <= custs; c++) {
        row_start(&o);
        put_party(&o, &r, c, ",Customer#");
        put_s(&o, segments[rnd(&r) % N(segments)]);
        put_c(&o, ',');
        put_text(&o, &r, 29, 116);
        put_c(&o, '\n');
    }
    sink_close(&o);
}

/* the order/line loop of both modes; ord is NULL in the lineitem-only mode. The lineitem stream `rl`
 * draws exactly as it did when this generator wrote lineitem alone (orderdate, line count, then per line),
 * the order's other columns come from `ro`. */
static void gen_orders_lineitem(sink *li, sink *ord, int64_t orders, int64_t parts, int64_t supps,
                                int64_t custs, int64_t clerks)
{
    rng rl = {0x7c15ea5eu}, ro = {0x0dde75u};
    const int start = 0, end = day_of(1998, 12, 31), current = day_of(1995, 6, 17);
    static const char header[] = "l_orderkey,l_partkey,l_suppkey,l_linenumber,l_quantity,l_extendedprice,"
                                 "l_discount,l_tax,l_returnflag,l_linestatus,l_shipdate,l_commitdate,"
                                 "l_receiptdate,l_shipinstruct,l_shipmode,l_comment\n";
    put(li, header, sizeof header - 1);
    if (ord)
        put_s(ord, "o_orderkey,o_custkey,o_orderstatus,o_totalprice,o_orderdate,o_orderpriority,o_clerk,"
                   "o_shippriority,o_comment\n");
    int64_t with_orders = custs - custs / 3; /* custkeys that are not a multiple of 3 */
    for (int64_t o = 0; o < orders; o++) {
        int64_t orderkey = o / 8 * 32 + o % 8 + 1;
        int orderdate = (int)uniform(&rl, start, end - 151);
        int lines = (int)uniform(&rl, 1, 7);
        int64_t total = 0;
        int nf = 0;
        for (int ln = 1; ln <= lines; ln++) {
            row_start(li);
            int64_t pk = uniform(&rl, 1, parts);
            int64_t sk = part_supp(pk, uniform(&rl, 0, 3), supps);
            int64_t qty = uniform(&rl, 1, 50);
            int64_t price = retail_cents(pk);
            int64_t disc = uniform(&rl, 0, 10), tax = uniform(&rl, 0, 8);
            int ship = orderdate + (int)uniform(&rl, 1, 121);
            int commit = orderdate + (int)uniform(&rl, 30, 90);
            int receipt = ship + (int)uniform(&rl, 1, 30);
            char rflag = receipt <= current ? (rnd(&rl) & 1 ? 'R' : 'A') : 'N';
            char lstatus = ship > current ? 'O' : 'F';
            const char *si = instructs[rnd(&rl) % 4], *sm = modes[rnd(&rl) % 7];
            /* cents * (100 + tax) * (100 - disc) / 10000, rounded half up */
            total += (qty * price * (100 + tax) * (100 - disc) + 5000) / 10000;
            nf += lstatus == 'F';
            put_int(li, orderkey);
            put_c(li, ',');
            put_int(li, pk);
            put_c(li, ',');
            put_int(li, sk);
            put_c(li, ',');
            put_int(li, ln);
            put_c(li, ',');
            put_cents(li, qty * 100);
            put_c(li, ',');
            put_cents(li, qty * price);
            put_c(li, ',');
            put_cents(li, disc);
            put_c(li, ',');
            put_cents(li, tax);
            put_c(li, ',');
            put_c(li, rflag);
            put_c(li, ',');
            put_c(li, lstatus);
            put_c(li, ',');
            put(li, date_text[ship], 10);
            put_c(li, ',');
            put(li, date_text[commit], 10);
            put_c(li, ',');
            put(li, date_text[receipt], 10);
            put_c(li, ',');
            put_s(li, si);
            put_c(li, ',');
            put_s(li, sm);
            put_c(li, ',');
            put_text(li, &rl, 10, 43);
            put_c(li, '\n');
        }
        if (!ord)
            continue;
        row_start(ord);
        int64_t k = uniform(&ro, 1, with_orders);
        put_int(ord, orderkey);
        put_c(ord, ',');
        put_int(ord, k + (k - 1) / 2); /* the k-th positive integer that is not a multiple of 3 */
        put_c(ord, ',');
        put_c(ord, nf == lines ? 'F' : nf == 0 ? 'O' : 'P');
        put_c(ord, ',');
        put_cents(ord, total);
        put_c(ord, ',');
        put(ord, date_text[orderdate], 10);
        put_c(ord, ',');
        put_s(ord, priorities[rnd(&ro) % N(priorities)]);
        put_s(ord, ",Clerk#");
        put_int9(ord, uniform(&ro, 1, clerks));
        put_s(ord, ",0,");
        put_text(ord, &ro, 19, 78);
        put_c(ord, '\n');
    }
}

int main(int argc, char **argv)
{
    double sf;
    gen_prog = "bench-tpch-gen";
    int tables = argc > 1 && !strcmp(argv[1], "--tables");
    if (tables ? argc != 4 || parse_sf(argv[2], &sf) : argc < 2 || argc > 3 || parse_sf(argv[1], &sf)) {
        fprintf(stderr, "usage: bench-tpch-gen SF [OUT]\n"
                        "       bench-tpch-gen --tables SF DIR\n"
                        "  SF: scale factor, a positive number up to 1000 (1 = about 6.0 million lineitem rows)\n"
                        "  OUT: output CSV file of lineitem alone (default: standard output)\n"
                        "  DIR: directory (created if missing) for region, nation, supplier, part, partsupp,\n"
                        "       customer, orders and lineitem .csv\n");
        return 2;
    }
    const char *sf_text = argv[tables ? 2 : 1];
    int64_t orders = (int64_t)(sf * 1500000 + 0.5), parts = (int64_t)(sf * 200000 + 0.5),
            supps = (int64_t)(sf * 10000 + 0.5), custs = (int64_t)(sf * 150000 + 0.5),
            clerks = (int64_t)(sf * 1000 + 0.5);
    if (orders < 1 || parts < 1 || supps < 4 || custs < 3 || clerks < 1) {
        fprintf(stderr, "bench-tpch-gen: scale factor %s is too small (it needs at least 4 suppliers: "
                        "use 0.0004 or more)\n", sf_text);
        return 2;
    }
    make_dates();
    sink li, ord;
    if (tables) {
        gen_out_dir = argv[3];
        gen_mkdir(gen_out_dir);
        gen_region_nation();
        gen_supplier(supps, sf);
        gen_part_partsupp(parts, supps);
        gen_customer(custs);
        sink_open(&ord, "orders", NULL);
        sink_open(&li, "lineitem", NULL);
    } else {
        sink_open(&li, "lineitem", argc == 3 ? argv[2] : NULL);
    }
    gen_orders_lineitem(&li, tables ? &ord : NULL, orders, parts, supps, custs, clerks);
    sink_close(&li);
    if (tables)
        sink_close(&ord);
    return 0;
}
