/* gen_csv.c: the helpers of the benchmark data generators (gen_csv.h): random streams, CSV output, the
 * day table and the TPC-H specification's word lists. */
#include "gen_csv.h"
#include <errno.h> /* messages use strerrordesc_np: English whatever the locale */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char date_text[NDAYS][11];
const char *gen_prog = "bench-gen";
const char *gen_out_dir;

uint64_t rnd(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

int64_t uniform(rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd(r) % (uint64_t)(hi - lo + 1));
}

int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

void make_dates(void)
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
int day_of(int y, int m, int d)
{
    static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int n = 0;
    for (int yy = START_YEAR; yy < y; yy++)
        n += 365 + leap(yy);
    return n + before[m - 1] + (m > 2 && leap(y)) + d - 1;
}

static void flush_out(sink *o)
{
    if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len) {
        fprintf(stderr, "%s: cannot write %s: %s\n", gen_prog, o->name, strerrordesc_np(errno));
        exit(1);
    }
    o->len = 0;
}

/* ensures room for one more row */
void row_start(sink *o)
{
    if (o->len > OUT_CAP - ROW_MAX)
        flush_out(o);
}

void put(sink *o, const char *s, size_t n)
{
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

void put_s(sink *o, const char *s)
{
    put(o, s, strlen(s));
}

void put_c(sink *o, char c)
{
    o->buf[o->len++] = c;
}

void put_int(sink *o, int64_t v)
{
    char tmp[24];
    int n = 0;
    if (v < 0) {
        put_c(o, '-');
        v = -v;
    }
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        o->buf[o->len++] = tmp[--n];
}

/* zero-padded to 9 digits, as in Supplier#000000042 */
void put_int9(sink *o, int64_t v)
{
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%09lld", (long long)v);
    put_s(o, tmp);
}

/* cents as d.dd (or -d.dd) */
void put_cents(sink *o, int64_t c)
{
    if (c < 0) {
        put_c(o, '-');
        c = -c;
    }
    put_int(o, c / 100);
    put_c(o, '.');
    put_c(o, (char)('0' + c / 10 % 10));
    put_c(o, (char)('0' + c % 10));
}

const char *const instructs[] = {"DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"};
const char *const modes[] = {"REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"};
const char *const words[] = {
    "furiously", "slyly", "carefully", "blithely", "quickly", "fluffily", "regular", "express", "final",
    "pending", "ironic", "even", "bold", "silent", "special", "unusual", "deposits", "requests",
    "packages", "accounts", "instructions", "theodolites", "foxes", "ideas", "pinto", "beans", "dolphins",
    "platelets", "sleep", "wake", "haggle", "nag", "use", "boost", "affix", "detect", "integrate", "cajole",
    "among", "about", "above", "across", "after", "against", "along", "the", "of", "to",
};

/* the specification's lists (clause 4.2.2.13 and 4.2.3); the header's sizes check each count (92 colors) */
const char *const colors[] = {
    "almond", "antique", "aquamarine", "azure", "beige", "bisque", "black", "blanched", "blue", "blush",
    "brown", "burlywood", "burnished", "chartreuse", "chiffon", "chocolate", "coral", "cornflower",
    "cornsilk", "cream", "cyan", "dark", "deep", "dim", "dodger", "drab", "firebrick", "floral", "forest",
    "frosted", "gainsboro", "ghost", "goldenrod", "green", "grey", "honeydew", "hot", "indian", "ivory",
    "khaki", "lace", "lavender", "lawn", "lemon", "light", "lime", "linen", "magenta", "maroon", "medium",
    "metallic", "midnight", "mint", "misty", "moccasin", "navajo", "navy", "olive", "orange", "orchid",
    "pale", "papaya", "peach", "peru", "pink", "plum", "powder", "puff", "purple", "red", "rose", "rosy",
    "royal", "saddle", "salmon", "sandy", "seashell", "sienna", "sky", "slate", "smoke", "snow", "spring",
    "steel", "tan", "thistle", "tomato", "turquoise", "violet", "wheat", "white", "yellow",
};
const char *const type1[] = {"STANDARD", "SMALL", "MEDIUM", "LARGE", "ECONOMY", "PROMO"};
const char *const type2[] = {"ANODIZED", "BURNISHED", "PLATED", "POLISHED", "BRUSHED"};
const char *const type3[] = {"TIN", "NICKEL", "BRASS", "STEEL", "COPPER"};
const char *const cont1[] = {"SM", "LG", "MED", "JUMBO", "WRAP"};
const char *const cont2[] = {"CASE", "BOX", "BAG", "JAR", "PKG", "PACK", "CAN", "DRUM"};
const char *const segments[] = {"AUTOMOBILE", "BUILDING", "FURNITURE", "MACHINERY", "HOUSEHOLD"};
const char *const priorities[] = {"1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"};
const char *const regions[] = {"AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"};
const nation_def nations[25] = {
    {"ALGERIA", 0}, {"ARGENTINA", 1}, {"BRAZIL", 1}, {"CANADA", 1}, {"EGYPT", 4}, {"ETHIOPIA", 0},
    {"FRANCE", 3}, {"GERMANY", 3}, {"INDIA", 2}, {"INDONESIA", 2}, {"IRAN", 4}, {"IRAQ", 4},
    {"JAPAN", 2}, {"JORDAN", 4}, {"KENYA", 0}, {"MOROCCO", 0}, {"MOZAMBIQUE", 0}, {"PERU", 1},
    {"CHINA", 2}, {"ROMANIA", 3}, {"SAUDI ARABIA", 4}, {"VIETNAM", 2}, {"RUSSIA", 3},
    {"UNITED KINGDOM", 3}, {"UNITED STATES", 1},
};

/* words of the list, cut to a length in [lo, hi] (hi < 256), into text; returns the length */
int make_text(rng *r, int lo, int hi, char *text)
{
    int want = (int)uniform(r, lo, hi), have = 0;
    while (have < want) {
        const char *w = words[rnd(r) % N(words)];
        if (have)
            text[have++] = ' ';
        for (; *w && have < want; w++)
            text[have++] = *w;
    }
    if (text[want - 1] == ' ') /* no trailing blank: some loaders trim it */
        text[want - 1] = 'x';
    return want;
}

void put_text(sink *o, rng *r, int lo, int hi)
{
    char text[256];
    put(o, text, (size_t)make_text(r, lo, hi, text));
}

/* the specification's v-string: random characters, here letters and digits only (CSV needs no quotes) */
void put_vstring(sink *o, rng *r, int lo, int hi)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    int n = (int)uniform(r, lo, hi);
    for (int i = 0; i < n; i++)
        put_c(o, alnum[rnd(r) % (sizeof alnum - 1)]);
}

/* clause 4.2.2.9: country code (nationkey + 10), then local number 3-3-4 */
void put_phone(sink *o, rng *r, int nationkey)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%02d-%03d-%03d-%04d", nationkey + 10, (int)uniform(r, 100, 999),
             (int)uniform(r, 100, 999), (int)uniform(r, 1000, 9999));
    put_s(o, tmp);
}

int parse_sf(const char *s, double *sf)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v > 0) || v > 1000)
        return -1;
    *sf = v;
    return 0;
}

void sink_open(sink *o, const char *name, const char *path)
{
    o->buf = malloc(OUT_CAP);
    if (!o->buf) {
        fprintf(stderr, "%s: out of memory\n", gen_prog);
        exit(1);
    }
    o->len = 0;
    if (gen_out_dir) {
        size_t n = strlen(gen_out_dir) + strlen(name) + 6;
        char *p = malloc(n);
        if (!p) {
            fprintf(stderr, "%s: out of memory\n", gen_prog);
            exit(1);
        }
        snprintf(p, n, "%s/%s.csv", gen_out_dir, name);
        path = p; /* kept for messages until the process ends */
    }
    o->name = path ? path : "standard output";
    o->f = path ? fopen(path, "w") : stdout;
    if (!o->f) {
        fprintf(stderr, "%s: cannot create %s: %s\n", gen_prog, path, strerrordesc_np(errno));
        exit(1);
    }
}

void sink_close(sink *o)
{
    flush_out(o);
    free(o->buf);
    if (fflush(o->f) || (o->f != stdout && fclose(o->f))) {
        fprintf(stderr, "%s: cannot write %s: %s\n", gen_prog, o->name, strerrordesc_np(errno));
        exit(1);
    }
}

void gen_mkdir(const char *dir)
{
    if (mkdir(dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create %s: %s\n", gen_prog, dir, strerrordesc_np(errno));
        exit(1);
    }
}
