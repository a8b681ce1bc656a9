/* tpch_gen.c: TPC-H lineitem as CSV with a header, written from the TPC-H specification's column
 * definitions (clause 4.2.3) with a fixed seed, so every run at a scale factor gives the same bytes.
 *
 *   orders        SF * 1,500,000, keys sparse: of each group of 32 keys only the first 8 are used
 *   lines/order   uniform [1, 7], l_linenumber 1..n
 *   o_orderdate   uniform [STARTDATE 1992-01-01, ENDDATE 1998-12-31 - 151 days]
 *   l_partkey     uniform [1, SF * 200,000]
 *   l_suppkey     (partkey + i * (S / 4 + (partkey - 1) / S)) mod S + 1, i uniform [0, 3], S = SF * 10,000
 *   l_quantity    uniform [1, 50]
 *   l_extendedprice  l_quantity * p_retailprice,
 *                 p_retailprice = (90000 + (partkey / 10) mod 20001 + 100 * (partkey mod 1000)) / 100
 *   l_discount    uniform [0.00, 0.10], l_tax uniform [0.00, 0.08]
 *   l_shipdate    orderdate + [1, 121], l_commitdate orderdate + [30, 90], l_receiptdate shipdate + [1, 30]
 *   l_returnflag  'R' or 'A' (uniform) if receiptdate <= CURRENTDATE 1995-06-17, else 'N'
 *   l_linestatus  'O' if shipdate > CURRENTDATE, else 'F'
 *   l_shipinstruct, l_shipmode  uniform from the specification's lists
 *   l_comment     10-43 characters of text (words of a fixed list; the specification's text grammar is
 *                 not reproduced, only its length range)
 *
 * Usage: bench-tpch-gen SF [OUT]   (SF a positive decimal such as 1, 3 or 0.01; OUT a file, default stdout) */
#include <errno.h> /* messages use strerrordesc_np: English whatever the locale */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define START_YEAR 1992
#define NDAYS (7 * 366 + 200) /* 1992-01-01 .. past 1998-12-31 */

static char date_text[NDAYS][11];

static uint64_t rng_state = 0x7c15ea5eu;

/* splitmix64: small, fast, and good enough for uniform draws */
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* uniform in [lo, hi] */
static int64_t uniform(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static void make_dates(void)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = START_YEAR, m = 0, d = 1;
    for (int i = 0; i < NDAYS; i++) {
        char *t = date_text[i];
        t[0] = (char)('0' + y / 1000);
        t[1] = (char)('0' + y / 100 % 10);
        t[2] = (char)('0' + y / 10 % 10);
        t[3] = (char)('0' + y % 10);
        t[4] = t[7] = '-';
        t[5] = (char)('0' + (m + 1) / 10);
        t[6] = (char)('0' + (m + 1) % 10);
        t[8] = (char)('0' + d / 10);
        t[9] = (char)('0' + d % 10);
        t[10] = 0;
        int len = mdays[m] + (m == 1 && leap(y));
        if (++d > len) {
            d = 1;
            if (++m == 12) {
                m = 0;
                y++;
            }
        }
    }
}

/* day number (0 = 1992-01-01) of a date in our table */
static int day_of(int y, int m, int d)
{
    static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int n = 0;
    for (int yy = START_YEAR; yy < y; yy++)
        n += 365 + leap(yy);
    return n + before[m - 1] + (m > 2 && leap(y)) + d - 1;
}

static char *out_buf;
static size_t out_len;
#define OUT_CAP (1 << 20)
static FILE *out;
static const char *out_name;

static void flush_out(void)
{
    if (out_len && fwrite(out_buf, 1, out_len, out) != out_len) {
        fprintf(stderr, "bench-tpch-gen: cannot write %s: %s\n", out_name, strerrordesc_np(errno));
        exit(1);
    }
    out_len = 0;
}

static void put(const char *s, size_t n)
{
    memcpy(out_buf + out_len, s, n);
    out_len += n;
}

static void put_int(int64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        out_buf[out_len++] = tmp[--n];
}

/* cents as d.dd */
static void put_cents(int64_t c)
{
    put_int(c / 100);
    out_buf[out_len++] = '.';
    out_buf[out_len++] = (char)('0' + c / 10 % 10);
    out_buf[out_len++] = (char)('0' + c % 10);
}

static const char *const instructs[] = {"DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"};
static const char *const modes[] = {"REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"};
static const char *const words[] = {
    "furiously", "slyly", "carefully", "blithely", "quickly", "fluffily", "regular", "express", "final",
    "pending", "ironic", "even", "bold", "silent", "special", "unusual", "deposits", "requests",
    "packages", "accounts", "instructions", "theodolites", "foxes", "ideas", "pinto", "beans", "dolphins",
    "platelets", "sleep", "wake", "haggle", "nag", "use", "boost", "affix", "detect", "integrate", "cajole",
    "among", "about", "above", "across", "after", "against", "along", "the", "of", "to",
};

static void put_comment(void)
{
    int want = (int)uniform(10, 43), have = 0;
    char text[64];
    while (have < want) {
        const char *w = words[rnd() % (sizeof words / sizeof *words)];
        if (have)
            text[have++] = ' ';
        for (; *w && have < want; w++)
            text[have++] = *w;
    }
    if (text[want - 1] == ' ') /* no trailing blank: some loaders trim it */
        text[want - 1] = 'x';
    put(text, (size_t)want);
}

static int parse_sf(const char *s, double *sf)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v > 0) || v > 1000)
        return -1;
    *sf = v;
    return 0;
}

int main(int argc, char **argv)
{
    double sf;
    if (argc < 2 || argc > 3 || parse_sf(argv[1], &sf)) {
        fprintf(stderr, "usage: bench-tpch-gen SF [OUT]\n"
                        "  SF: scale factor, a positive number up to 1000 (1 = about 6.0 million lineitem rows)\n"
                        "  OUT: output CSV file (default: standard output)\n");
        return 2;
    }
    int64_t orders = (int64_t)(sf * 1500000 + 0.5), parts = (int64_t)(sf * 200000 + 0.5),
            supps = (int64_t)(sf * 10000 + 0.5);
    if (orders < 1 || parts < 1 || supps < 4) {
        fprintf(stderr, "bench-tpch-gen: scale factor %s is too small (it needs at least 4 suppliers: "
                        "use 0.0004 or more)\n", argv[1]);
        return 2;
    }
    out_name = argc == 3 ? argv[2] : "standard output";
    out = argc == 3 ? fopen(argv[2], "w") : stdout;
    if (!out) {
        fprintf(stderr, "bench-tpch-gen: cannot create %s: %s\n", argv[2], strerrordesc_np(errno));
        return 1;
    }
    out_buf = malloc(OUT_CAP);
    if (!out_buf) {
        fprintf(stderr, "bench-tpch-gen: out of memory\n");
        return 1;
    }
    make_dates();
    const int start = 0, end = day_of(1998, 12, 31), current = day_of(1995, 6, 17);
    static const char header[] = "l_orderkey,l_partkey,l_suppkey,l_linenumber,l_quantity,l_extendedprice,"
                                 "l_discount,l_tax,l_returnflag,l_linestatus,l_shipdate,l_commitdate,"
                                 "l_receiptdate,l_shipinstruct,l_shipmode,l_comment\n";
    put(header, sizeof header - 1);
    for (int64_t o = 0; o < orders; o++) {
        int64_t orderkey = o / 8 * 32 + o % 8 + 1;
        int orderdate = (int)uniform(start, end - 151);
        int lines = (int)uniform(1, 7);
        for (int ln = 1; ln <= lines; ln++) {
            if (out_len > OUT_CAP - 512)
                flush_out();
            int64_t pk = uniform(1, parts);
            int64_t i = uniform(0, 3);
            int64_t sk = (pk + i * (supps / 4 + (pk - 1) / supps)) % supps + 1;
            int64_t qty = uniform(1, 50);
            int64_t price = 90000 + (pk / 10) % 20001 + 100 * (pk % 1000); /* cents */
            int64_t disc = uniform(0, 10), tax = uniform(0, 8);
            int ship = orderdate + (int)uniform(1, 121);
            int commit = orderdate + (int)uniform(30, 90);
            int receipt = ship + (int)uniform(1, 30);
            char rflag = receipt <= current ? (rnd() & 1 ? 'R' : 'A') : 'N';
            char lstatus = ship > current ? 'O' : 'F';
            const char *si = instructs[rnd() % 4], *sm = modes[rnd() % 7];
            put_int(orderkey);
            out_buf[out_len++] = ',';
            put_int(pk);
            out_buf[out_len++] = ',';
            put_int(sk);
            out_buf[out_len++] = ',';
            put_int(ln);
            out_buf[out_len++] = ',';
            put_cents(qty * 100);
            out_buf[out_len++] = ',';
            put_cents(qty * price);
            out_buf[out_len++] = ',';
            put_cents(disc);
            out_buf[out_len++] = ',';
            put_cents(tax);
            out_buf[out_len++] = ',';
            out_buf[out_len++] = rflag;
            out_buf[out_len++] = ',';
            out_buf[out_len++] = lstatus;
            out_buf[out_len++] = ',';
            put(date_text[ship], 10);
            out_buf[out_len++] = ',';
            put(date_text[commit], 10);
            out_buf[out_len++] = ',';
            put(date_text[receipt], 10);
            out_buf[out_len++] = ',';
            put(si, strlen(si));
            out_buf[out_len++] = ',';
            put(sm, strlen(sm));
            out_buf[out_len++] = ',';
            put_comment();
            out_buf[out_len++] = '\n';
        }
    }
    flush_out();
    free(out_buf);
    if (fflush(out) || (out != stdout && fclose(out))) {
        fprintf(stderr, "bench-tpch-gen: cannot write %s: %s\n", out_name, strerrordesc_np(errno));
        return 1;
    }
    return 0;
}
