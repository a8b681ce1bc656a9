/* demo.c: factdb-demo create DB | summary DB. Creates the demo table `sales` (about a million rows over
 * 2024-2025, generated deterministically by a fixed-seed PRNG) through the appender API, and prints a few
 * summaries of it through snapshot scans. `make run` uses it until the SQL layer exists. */
#include "factdb.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct { const char *store, *region; } STORES[] = {
    {"Milano", "Lombardia"}, {"Cantù", "Lombardia"}, {"Bergamo", "Lombardia"}, {"Torino", "Piemonte"},
    {"Genova", "Liguria"}, {"Venezia", "Veneto"}, {"Verona", "Veneto"}, {"Bologna", "Emilia-Romagna"},
    {"Forlì", "Emilia-Romagna"}, {"Firenze", "Toscana"}, {"Roma", "Lazio"}, {"Napoli", "Campania"},
    {"Bari", "Puglia"}, {"Palermo", "Sicilia"}, {"Canicattì", "Sicilia"}, {"Cagliari", "Sardegna"},
    {"Aosta", "Valle d'Aosta"}, {"Trento", "Trentino-Alto Adige"}, {"Perugia", "Umbria"}, {"Paternò", "Sicilia"}};
static const struct { const char *product, *category; int cents; } PRODUCTS[] = {
    {"Espresso beans 1kg", "Coffee", 1890}, {"Moka pot", "Kitchen", 3450}, {"Olive oil 1l", "Grocery", 1290},
    {"Parmigiano 500g", "Grocery", 1150}, {"Pasta 1kg", "Grocery", 249}, {"Chianti", "Wine", 1599},
    {"Prosecco", "Wine", 1199}, {"Barolo", "Wine", 4900}, {"Cutting board", "Kitchen", 2290},
    {"Chef knife", "Kitchen", 7900}, {"Panettone", "Bakery", 1790}, {"Grissini", "Bakery", 320},
    {"Tiramisù kit", "Bakery", 1450}, {"Limoncello", "Spirits", 1890}, {"Grappa", "Spirits", 2590}};
static const char *CHANNELS[] = {"store", "web", "app", "phone"};

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define CHECK(call)                                                   \
    do {                                                              \
        if (call) {                                                   \
            fprintf(stderr, "factdb: %s\n", err.message);             \
            exit(1);                                                  \
        }                                                             \
    } while (0)

static int create(const char *path)
{
    factdb_error err;
    factdb *db;
    CHECK(factdb_open(path, NULL, &db, &err));
    factdb_column_def cols[] = {
        {"sold_at", FACTDB_TIMESTAMP, 0, 0, true}, {"store", FACTDB_TEXT, 0, 0, true},
        {"region", FACTDB_TEXT, 0, 0, true},       {"product", FACTDB_TEXT, 0, 0, true},
        {"category", FACTDB_TEXT, 0, 0, true},     {"channel", FACTDB_TEXT, 0, 0, true},
        {"quantity", FACTDB_INTEGER, 0, 0, true},  {"unit_price", FACTDB_DECIMAL, 10, 2, true},
        {"amount", FACTDB_DECIMAL, 12, 2, true},   {"customer_id", FACTDB_BIGINT, 0, 0, false}};
    CHECK(factdb_create_table(db, "sales", cols, N(cols), &err));
    factdb_appender *a;
    CHECK(factdb_appender_new(db, "sales", &a, &err));
    const int64_t start = 1704067200LL * 1000000;  /* 2024-01-01 00:00:00 */
    const int64_t span = 731LL * 86400 * 1000000;  /* two years (2024 is a leap year) */
    const int rows = 1000000;
    for (int i = 0; i < rows; i++) {
        /* Time grows with i, with jitter, and business hours weigh more than the night. */
        int64_t t = start + span / rows * i + (int64_t)(next_rand() % 60000000);
        size_t s = next_rand() % N(STORES);
        if (next_rand() % 4 == 0)
            s = next_rand() % 4;  /* the big northern stores sell more */
        size_t p = next_rand() % N(PRODUCTS);
        int q = 1 + (int)(next_rand() % 5) * (next_rand() % 8 == 0 ? 3 : 1);
        int64_t cents = PRODUCTS[p].cents;
        if (t >= start + span / 2)
            cents = cents * 105 / 100;  /* a price rise in the second year */
        CHECK(factdb_append_int64(a, 0, t, &err));
        CHECK(factdb_append_text(a, 1, STORES[s].store, strlen(STORES[s].store), &err));
        CHECK(factdb_append_text(a, 2, STORES[s].region, strlen(STORES[s].region), &err));
        CHECK(factdb_append_text(a, 3, PRODUCTS[p].product, strlen(PRODUCTS[p].product), &err));
        CHECK(factdb_append_text(a, 4, PRODUCTS[p].category, strlen(PRODUCTS[p].category), &err));
        const char *ch = CHANNELS[next_rand() % 10 < 6 ? 0 : 1 + next_rand() % 3];
        CHECK(factdb_append_text(a, 5, ch, strlen(ch), &err));
        CHECK(factdb_append_int64(a, 6, q, &err));
        CHECK(factdb_append_int64(a, 7, cents, &err));
        CHECK(factdb_append_int64(a, 8, cents * q, &err));
        if (next_rand() % 5 == 0)
            CHECK(factdb_append_null(a, 9, &err));  /* anonymous sale */
        else
            CHECK(factdb_append_int64(a, 9, 100000 + (int64_t)(next_rand() % 50000), &err));
        CHECK(factdb_append_row_end(a, &err));
    }
    CHECK(factdb_appender_commit(a, &err));
    factdb_appender_free(a);
    factdb_close(db);
    printf("created %s with %d rows in table sales\n", path, rows);
    return 0;
}

typedef struct agg {
    char key[64];
    int64_t count, amount;
} agg;

static agg *find(agg *a, int *n, const char *key)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(a[i].key, key))
            return &a[i];
    snprintf(a[*n].key, sizeof a[*n].key, "%s", key);
    return &a[(*n)++];
}

static int by_amount(const void *x, const void *y)
{
    const agg *a = x, *b = y;
    return a->amount < b->amount ? 1 : a->amount > b->amount ? -1 : strcmp(a->key, b->key);
}

static void money(int64_t cents, char *buf, size_t cap)
{
    factdb_format_value(FACTDB_DECIMAL, 2, cents, buf, cap);
}

static int summary(const char *path)
{
    factdb_error err;
    factdb *db;
    factdb_options o = {.busy_timeout_ms = -1, .read_only = true};
    CHECK(factdb_open(path, &o, &db, &err));
    const char *cols[] = {"sold_at", "region", "channel", "amount", "store"};
    factdb_scan *s;
    CHECK(factdb_scan_open(db, "sales", cols, 5, &s, &err));
    agg regions[64], months[64], channels[16], stores[64];
    int nr = 0, nm = 0, nc = 0, ns = 0;
    memset(regions, 0, sizeof regions);
    memset(months, 0, sizeof months);
    memset(channels, 0, sizeof channels);
    memset(stores, 0, sizeof stores);
    factdb_batch b;
    factdb_batch_init(&b);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t total = 0, n = 0;
    for (;;) {
        CHECK(factdb_scan_next(s, &b, &err));
        if (!b.count)
            break;
        const int64_t *ts = b.cols[0].data, *amt = b.cols[3].data;
        const uint32_t *reg = b.cols[1].data, *chn = b.cols[2].data, *st = b.cols[4].data;
        for (size_t i = 0; i < b.count; i++) {
            size_t len;
            char month[16];
            factdb_format_value(FACTDB_TIMESTAMP, 0, ts[i], month, sizeof month);
            month[7] = 0;
            agg *g = find(regions, &nr, factdb_scan_text(s, 1, reg[i], &len));
            g->count++, g->amount += amt[i];
            g = find(months, &nm, month);
            g->count++, g->amount += amt[i];
            g = find(channels, &nc, factdb_scan_text(s, 2, chn[i], &len));
            g->count++, g->amount += amt[i];
            g = find(stores, &ns, factdb_scan_text(s, 4, st[i], &len));
            g->count++, g->amount += amt[i];
            total += amt[i];
            n++;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char m[32];
    money(total, m, sizeof m);
    printf("\nsales: %lld rows, revenue %s EUR (snapshot data_version %llu, scanned in %.0f ms)\n", (long long)n, m,
           (unsigned long long)factdb_scan_data_version(s),
           ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6));
    qsort(regions, (size_t)nr, sizeof *regions, by_amount);
    printf("\nrevenue by region\n");
    for (int i = 0; i < nr; i++) {
        money(regions[i].amount, m, sizeof m);
        printf("  %-22s %8lld sales %16s\n", regions[i].key, (long long)regions[i].count, m);
    }
    qsort(stores, (size_t)ns, sizeof *stores, by_amount);
    printf("\ntop 5 stores\n");
    for (int i = 0; i < 5 && i < ns; i++) {
        money(stores[i].amount, m, sizeof m);
        printf("  %-22s %8lld sales %16s\n", stores[i].key, (long long)stores[i].count, m);
    }
    printf("\nsales by channel\n");
    qsort(channels, (size_t)nc, sizeof *channels, by_amount);
    for (int i = 0; i < nc; i++)
        printf("  %-8s %5.1f%%\n", channels[i].key, 100.0 * (double)channels[i].count / (double)n);
    printf("\nrevenue by month (first and last three)\n");
    for (int i = 0; i < nm; i++) {
        if (i >= 3 && i < nm - 3)
            continue;
        money(months[i].amount, m, sizeof m);
        printf("  %s %16s\n", months[i].key, m);
    }
    factdb_batch_cleanup(&b);
    factdb_scan_free(s);
    factdb_close(db);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "create") && strcmp(argv[1], "summary"))) {
        fprintf(stderr, "usage: factdb-demo create|summary DB\n");
        return 2;
    }
    return !strcmp(argv[1], "create") ? create(argv[2]) : summary(argv[2]);
}
