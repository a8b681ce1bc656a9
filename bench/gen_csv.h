/* gen_csv.h: what the benchmark data generators share (bench/tpch_gen.c for TPC-H, bench/ssb_gen.c for the
 * Star Schema Benchmark, which derives its tables from TPC-H's): seeded random streams, buffered CSV
 * output, the day table 1992-01-01 .. 1999-01, and the TPC-H specification's word lists (clause 4.2.2.13,
 * 4.2.3). Every generator is deterministic: a stream's draws depend only on its seed. */
#ifndef GEN_CSV_H
#define GEN_CSV_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* splitmix64 streams: small, fast, and good enough for uniform draws; one per table or column group so
 * that adding a column to one table never changes another's bytes */
typedef struct {
    uint64_t s;
} rng;
uint64_t rnd(rng *r);
int64_t uniform(rng *r, int64_t lo, int64_t hi); /* uniform in [lo, hi] */

/* days from START_YEAR-01-01; date_text[d] is day d as YYYY-MM-DD */
#define START_YEAR 1992
#define NDAYS (7 * 366 + 200) /* 1992-01-01 .. past 1998-12-31 */
extern char date_text[NDAYS][11];
void make_dates(void);
int leap(int y);
int day_of(int y, int m, int d); /* day number (0 = 1992-01-01) of a date in the table */

/* one output file: a 1 MB buffer, flushed by row_start whenever a row might not fit (rows stay under
 * ROW_MAX bytes). A write error ends the process with a message naming the file. */
typedef struct {
    char *buf;
    size_t len;
    FILE *f;
    const char *name;
} sink;
#define OUT_CAP (1 << 20)
#define ROW_MAX 1024
extern const char *gen_prog;     /* the program's name, for messages */
extern const char *gen_out_dir;  /* when set, sink_open writes DIR/NAME.csv */
void sink_open(sink *o, const char *name, const char *path); /* path NULL: standard output */
void sink_close(sink *o);
void row_start(sink *o);
void put(sink *o, const char *s, size_t n);
void put_s(sink *o, const char *s);
void put_c(sink *o, char c);
void put_int(sink *o, int64_t v);
void put_int9(sink *o, int64_t v);  /* zero-padded to 9 digits, as in Supplier#000000042 */
void put_cents(sink *o, int64_t c); /* cents as d.dd (or -d.dd) */
int make_text(rng *r, int lo, int hi, char *text); /* words cut to [lo, hi] (< 256) characters */
void put_text(sink *o, rng *r, int lo, int hi);
void put_vstring(sink *o, rng *r, int lo, int hi); /* letters and digits, length in [lo, hi] */
void put_phone(sink *o, rng *r, int nationkey);    /* clause 4.2.2.9: nationkey + 10, then 3-3-4 digits */
int parse_sf(const char *s, double *sf);           /* a positive decimal up to 1000; -1 if not */
void gen_mkdir(const char *dir);                   /* creates dir if missing, or exits with a message */

#define N(a) (sizeof a / sizeof *a)
extern const char *const instructs[4], *const modes[7], *const words[48], *const colors[92], *const type1[6],
    *const type2[5], *const type3[5], *const cont1[5], *const cont2[8], *const segments[5],
    *const priorities[5], *const regions[5];
typedef struct {
    const char *name;
    int region;
} nation_def;
extern const nation_def nations[25];
#endif
