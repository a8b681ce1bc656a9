/* gen.c: writes a sales-shaped fact CSV of N rows (deterministic) to stdout for the benchmarks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t s = 88172645463325252ull;
static uint64_t rnd(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; }

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 6000000;
    static const char *stores[] = {"Milano", "Cantù", "Bergamo", "Torino", "Genova", "Venezia", "Verona",
                                   "Bologna", "Forlì", "Firenze", "Roma", "Napoli", "Bari", "Palermo",
                                   "Canicattì", "Cagliari", "Aosta", "Trento", "Perugia", "Paternò"};
    static const char *regions[] = {"Lombardia", "Lombardia", "Lombardia", "Piemonte", "Liguria", "Veneto",
                                    "Veneto", "Emilia-Romagna", "Emilia-Romagna", "Toscana", "Lazio", "Campania",
                                    "Puglia", "Sicilia", "Sicilia", "Sardegna", "Valle d'Aosta", "Trentino",
                                    "Umbria", "Sicilia"};
    static const char *cats[] = {"Coffee", "Kitchen", "Grocery", "Wine", "Bakery", "Spirits"};
    static const char *channels[] = {"store", "web", "app", "phone"};
    char buf[1 << 16];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    printf("sold_at,store,region,product,category,channel,quantity,unit_price,amount,customer_id\n");
    const long long start = 1704067200LL;  /* 2024-01-01 */
    for (long i = 0; i < n; i++) {
        long long t = start + (long long)(63158400.0 * i / n) + (long long)(rnd() % 30);
        long long days = t / 86400, sec = t % 86400;
        /* civil from days (Hinnant) */
        long long z = days + 719468, era = z / 146097;
        unsigned doe = (unsigned)(z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
        long long y = (long long)yoe + era * 400 + (m <= 2);
        int st = (int)(rnd() % 20), p = (int)(rnd() % 500), q = 1 + (int)(rnd() % 9);
        double price = (double)(199 + (p * 37) % 9000) / 100.0;
        printf("%04lld-%02u-%02u %02lld:%02lld:%02lld,%s,%s,product-%03d,%s,%s,%d,%.2f,%.2f,%llu\n", y, m, d, sec / 3600,
               sec / 60 % 60, sec % 60, stores[st], regions[st], p, cats[p % 6], channels[rnd() % 4], q, price,
               price * q, (unsigned long long)(100000 + rnd() % 900000));
    }
    return 0;
}
