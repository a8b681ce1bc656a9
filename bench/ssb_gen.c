/* ssb_gen.c: the Star Schema Benchmark's tables as CSV with headers (P. O'Neil, E. O'Neil, X. Chen, "Star
 * Schema Benchmark", revision 3, 2009), written from the paper's table layouts with fixed seeds, so every
 * run at a scale factor gives the same bytes. SSB derives its tables from TPC-H's: lineorder joins
 * lineitem's rows to their order's columns, the dimensions drop TPC-H's comments and gain the
 * hierarchy columns (city, nation, region; category, brand) the 13 queries group by.
 *
 *   date        one row per day 1992-01-01 .. 1998-12-31 (2,557): d_datekey yyyymmdd, d_date "January 1,
 *               1992", d_dayofweek, d_month, d_year, d_yearmonthnum yyyymm, d_yearmonth "Jan1992",
 *               d_daynuminweek (Sunday 1), d_daynuminmonth, d_daynuminyear, d_monthnuminyear,
 *               d_weeknuminyear ((daynuminyear - 1) / 7 + 1: 1..53), d_sellingseason (Winter Jan-Feb,
 *               Spring Mar-May, Summer Jun-Aug, Fall Sep-Nov, Christmas Dec), flags 0/1: last day in week
 *               (Saturday), last day in month, holiday (Jan 1, Jul 4, Nov 11, Dec 25), weekday (Mon-Fri)
 *   customer    SF * 30,000: c_name Customer#000000001, c_address 10-25 alphanumerics, c_city (the
 *               nation's name cut or blank-padded to 9 characters, then a digit 0-9: "UNITED KI1"),
 *               c_nation, c_region (TPC-H's 25 nations and 5 regions), c_phone (country code nation + 10),
 *               c_mktsegment of TPC-H's 5
 *   supplier    SF * 2,000: s_name Supplier#000000001, s_address, s_city, s_nation, s_region, s_phone
 *   part        200,000 * floor(1 + log2 SF) (SF * 200,000 below SF 1, so that small test scales stay
 *               small): p_name 2 colors, p_mfgr MFGR#M, p_category MFGR#MC, p_brand1 MFGR#MCB (M, C in
 *               [1, 5], B in [1, 40]: 1,000 brands), p_color, p_type (TPC-H's 150), p_size [1, 50],
 *               p_container (TPC-H's 40)
 *   lineorder   SF * 1,500,000 orders of [1, 7] lines (about SF * 6,000,000 rows), order keys sparse as in
 *               TPC-H (the first 8 of each 32); per order lo_custkey [1, C], lo_orderdate uniform
 *               [1992-01-01, 1998-12-31 - 151 days] (a d_datekey), lo_orderpriority of 5, lo_shippriority
 *               0, lo_ordtotalprice the sum of its lines' extendedprice * (100 + tax) * (100 - discount) /
 *               10,000; per line lo_partkey [1, P], lo_suppkey [1, S], lo_quantity [1, 50],
 *               lo_extendedprice quantity * the part's TPC-H retail price (in cents, an integer),
 *               lo_discount [0, 10] and lo_tax [0, 8] (percent), lo_revenue extendedprice * (100 -
 *               discount) / 100, lo_supplycost 60% of the retail price (cents), lo_commitdate orderdate +
 *               [30, 90], lo_shipmode of TPC-H's 7
 *
 * Usage: bench-ssb-gen SF DIR   (SF a positive decimal such as 1 or 0.05; DIR created if missing) */
#include "gen_csv.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const months[12] = {"January", "February", "March", "April", "May", "June", "July",
                                       "August", "September", "October", "November", "December"};
static const char *const weekdays[7] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                        "Saturday"};

/* y, m (1-12), d of day number `day` (0 = 1992-01-01), from date_text */
static void ymd(int day, int *y, int *m, int *d)
{
    const char *t = date_text[day];
    *y = atoi(t);
    *m = atoi(t + 5);
    *d = atoi(t + 8);
}

static int64_t datekey(int day)
{
    int y, m, d;
    ymd(day, &y, &m, &d);
    return (int64_t)y * 10000 + m * 100 + d;
}

static void gen_date(void)
{
    sink o;
    sink_open(&o, "date", NULL);
    put_s(&o, "d_datekey,d_date,d_dayofweek,d_month,d_year,d_yearmonthnum,d_yearmonth,d_daynuminweek,"
              "d_daynuminmonth,d_daynuminyear,d_monthnuminyear,d_weeknuminyear,d_sellingseason,"
              "d_lastdayinweekfl,d_lastdayinmonthfl,d_holidayfl,d_weekdayfl\n");
    static const char *const season[12] = {"Winter", "Winter", "Spring", "Spring", "Spring", "Summer",
                                           "Summer", "Summer", "Fall", "Fall", "Fall", "Christmas"};
    for (int day = 0, end = day_of(1998, 12, 31); day <= end; day++) {
        int y, m, d, ny, nm, nd;
        ymd(day, &y, &m, &d);
        ymd(day + 1, &ny, &nm, &nd);
        int dow = (day + 3) % 7; /* 1992-01-01 was a Wednesday; 0 = Sunday */
        int doy = day - day_of(y, 1, 1) + 1;
        row_start(&o);
        put_int(&o, datekey(day));
        put_s(&o, ",\""); /* "January 1, 1992" holds a comma: quoted */
        put_s(&o, months[m - 1]);
        put_c(&o, ' ');
        put_int(&o, d);
        put_s(&o, ", ");
        put_int(&o, y);
        put_s(&o, "\",");
        put_s(&o, weekdays[dow]);
        put_c(&o, ',');
        put_s(&o, months[m - 1]);
        put_c(&o, ',');
        put_int(&o, y);
        put_c(&o, ',');
        put_int(&o, y * 100 + m);
        put_c(&o, ',');
        put(&o, months[m - 1], 3);
        put_int(&o, y);
        put_c(&o, ',');
        put_int(&o, dow + 1);
        put_c(&o, ',');
        put_int(&o, d);
        put_c(&o, ',');
        put_int(&o, doy);
        put_c(&o, ',');
        put_int(&o, m);
        put_c(&o, ',');
        put_int(&o, (doy - 1) / 7 + 1);
        put_c(&o, ',');
        put_s(&o, season[m - 1]);
        put_c(&o, ',');
        put_int(&o, dow == 6);
        put_c(&o, ',');
        put_int(&o, nm != m);
        put_c(&o, ',');
        put_int(&o, (m == 1 && d == 1) || (m == 7 && d == 4) || (m == 11 && d == 11) || (m == 12 && d == 25));
        put_c(&o, ',');
        put_int(&o, dow >= 1 && dow <= 5);
        put_c(&o, '\n');
    }
    sink_close(&o);
}

/* city: the nation's name cut or padded with blanks to 9 characters, then a digit */
static void put_city(sink *o, rng *r, int nation)
{
    char city[11];
    snprintf(city, sizeof city, "%-9.9s%d", nations[nation].name, (int)uniform(r, 0, 9));
    put_s(o, city);
}

/* customer and supplier share their layout but for the market segment */
static void gen_people(const char *table, const char *prefix, const char *header, int64_t count, uint64_t seed,
                       int segment)
{
    sink o;
    rng r = {seed};
    sink_open(&o, table, NULL);
    put_s(&o, header);
    for (int64_t k = 1; k <= count; k++) {
        row_start(&o);
        int nation = (int)uniform(&r, 0, 24);
        put_int(&o, k);
        put_c(&o, ',');
        put_s(&o, prefix);
        put_int9(&o, k);
        put_c(&o, ',');
        put_vstring(&o, &r, 10, 25);
        put_c(&o, ',');
        put_city(&o, &r, nation);
        put_c(&o, ',');
        put_s(&o, nations[nation].name);
        put_c(&o, ',');
        put_s(&o, regions[nations[nation].region]);
        put_c(&o, ',');
        put_phone(&o, &r, nation);
        if (segment) {
            put_c(&o, ',');
            put_s(&o, segments[rnd(&r) % N(segments)]);
        }
        put_c(&o, '\n');
    }
    sink_close(&o);
}

static void gen_part(int64_t parts)
{
    sink o;
    rng r = {0x55b9a27u};
    sink_open(&o, "part", NULL);
    put_s(&o, "p_partkey,p_name,p_mfgr,p_category,p_brand1,p_color,p_type,p_size,p_container\n");
    for (int64_t pk = 1; pk <= parts; pk++) {
        row_start(&o);
        int c1 = (int)(rnd(&r) % N(colors)), c2;
        do
            c2 = (int)(rnd(&r) % N(colors));
        while (c2 == c1);
        int m = (int)uniform(&r, 1, 5), c = (int)uniform(&r, 1, 5), b = (int)uniform(&r, 1, 40);
        put_int(&o, pk);
        put_c(&o, ',');
        put_s(&o, colors[c1]);
        put_c(&o, ' ');
        put_s(&o, colors[c2]);
        put_s(&o, ",MFGR#");
        put_int(&o, m);
        put_s(&o, ",MFGR#");
        put_int(&o, m * 10 + c);
        put_s(&o, ",MFGR#");
        put_int(&o, m * 10 + c);
        put_int(&o, b);
        put_c(&o, ',');
        put_s(&o, colors[rnd(&r) % N(colors)]);
        put_c(&o, ',');
        put_s(&o, type1[rnd(&r) % N(type1)]);
        put_c(&o, ' ');
        put_s(&o, type2[rnd(&r) % N(type2)]);
        put_c(&o, ' ');
        put_s(&o, type3[rnd(&r) % N(type3)]);
        put_c(&o, ',');
        put_int(&o, uniform(&r, 1, 50));
        put_c(&o, ',');
        put_s(&o, cont1[rnd(&r) % N(cont1)]);
        put_c(&o, ' ');
        put_s(&o, cont2[rnd(&r) % N(cont2)]);
        put_c(&o, '\n');
    }
    sink_close(&o);
}

typedef struct {
    int64_t partkey, suppkey, qty, price, disc, tax;
    int commit;
    const char *mode;
} line;

static void gen_lineorder(int64_t orders, int64_t custs, int64_t parts, int64_t supps)
{
    sink o;
    rng r = {0x11e0bde7u};
    const int end = day_of(1998, 12, 31);
    sink_open(&o, "lineorder", NULL);
    put_s(&o, "lo_orderkey,lo_linenumber,lo_custkey,lo_partkey,lo_suppkey,lo_orderdate,lo_orderpriority,"
              "lo_shippriority,lo_quantity,lo_extendedprice,lo_ordtotalprice,lo_discount,lo_revenue,"
              "lo_supplycost,lo_tax,lo_commitdate,lo_shipmode\n");
    for (int64_t n = 0; n < orders; n++) {
        int64_t orderkey = n / 8 * 32 + n % 8 + 1, cust = uniform(&r, 1, custs);
        int orderdate = (int)uniform(&r, 0, end - 151), lines = (int)uniform(&r, 1, 7);
        const char *prio = priorities[rnd(&r) % N(priorities)];
        line l[7];
        int64_t total = 0;
        for (int i = 0; i < lines; i++) { /* the order's total precedes its lines: draw them first */
            l[i].partkey = uniform(&r, 1, parts);
            l[i].suppkey = uniform(&r, 1, supps);
            l[i].qty = uniform(&r, 1, 50);
            l[i].price = 90000 + (l[i].partkey / 10) % 20001 + 100 * (l[i].partkey % 1000); /* TPC-H's */
            l[i].disc = uniform(&r, 0, 10);
            l[i].tax = uniform(&r, 0, 8);
            l[i].commit = orderdate + (int)uniform(&r, 30, 90);
            l[i].mode = modes[rnd(&r) % N(modes)];
            total += l[i].qty * l[i].price * (100 + l[i].tax) * (100 - l[i].disc) / 10000;
        }
        for (int i = 0; i < lines; i++) {
            int64_t ext = l[i].qty * l[i].price;
            row_start(&o);
            put_int(&o, orderkey);
            put_c(&o, ',');
            put_int(&o, i + 1);
            put_c(&o, ',');
            put_int(&o, cust);
            put_c(&o, ',');
            put_int(&o, l[i].partkey);
            put_c(&o, ',');
            put_int(&o, l[i].suppkey);
            put_c(&o, ',');
            put_int(&o, datekey(orderdate));
            put_c(&o, ',');
            put_s(&o, prio);
            put_s(&o, ",0,");
            put_int(&o, l[i].qty);
            put_c(&o, ',');
            put_int(&o, ext);
            put_c(&o, ',');
            put_int(&o, total);
            put_c(&o, ',');
            put_int(&o, l[i].disc);
            put_c(&o, ',');
            put_int(&o, ext * (100 - l[i].disc) / 100);
            put_c(&o, ',');
            put_int(&o, l[i].price * 6 / 10);
            put_c(&o, ',');
            put_int(&o, l[i].tax);
            put_c(&o, ',');
            put_int(&o, datekey(l[i].commit));
            put_c(&o, ',');
            put_s(&o, l[i].mode);
            put_c(&o, '\n');
        }
    }
    sink_close(&o);
}

int main(int argc, char **argv)
{
    double sf;
    gen_prog = "bench-ssb-gen";
    if (argc != 3 || parse_sf(argv[1], &sf)) {
        fprintf(stderr, "usage: bench-ssb-gen SF DIR\n"
                        "  SF: scale factor, a positive number up to 1000 (1 = about 6.0 million lineorder rows)\n"
                        "  DIR: directory (created if missing) for lineorder, date, customer, supplier and\n"
                        "       part .csv\n");
        return 2;
    }
    int64_t orders = (int64_t)(sf * 1500000 + 0.5), custs = (int64_t)(sf * 30000 + 0.5),
            supps = (int64_t)(sf * 2000 + 0.5),
            parts = sf < 1 ? (int64_t)(sf * 200000 + 0.5) : 200000 * (int64_t)floor(1 + log2(sf));
    if (orders < 1 || custs < 1 || supps < 1 || parts < 1) {
        fprintf(stderr, "bench-ssb-gen: scale factor %s is too small (use 0.001 or more)\n", argv[1]);
        return 2;
    }
    make_dates();
    gen_out_dir = argv[2];
    gen_mkdir(gen_out_dir);
    gen_date();
    gen_people("customer", "Customer#", "c_custkey,c_name,c_address,c_city,c_nation,c_region,c_phone,c_mktsegment\n",
               custs, 0xc5ce5u, 1);
    /* this seed (any fixed one would do) gives the 200 suppliers of the oracle test's SF 0.1 two in
     * 'UNITED KI1' or 'UNITED KI5', so that Q3.3 and Q3.4 have rows to compare at that scale */
    gen_people("supplier", "Supplier#", "s_suppkey,s_name,s_address,s_city,s_nation,s_region,s_phone\n", supps,
               0x5ce55u, 0);
    gen_part(parts);
    gen_lineorder(orders, custs, parts, supps);
    return 0;
}
