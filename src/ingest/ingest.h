/* ingest.h: readers that turn external data into appended rows. CSV (RFC 4180 with a given or detected
 * delimiter) is parsed by hand over a memory-mapped input, because the load must outrun DuckDB's COPY;
 * other encodings are converted to UTF-8 with iconv first. */
#ifndef FACTDB_INGEST_H
#define FACTDB_INGEST_H

#include "base/base.h"

typedef struct ingest_input {
    const unsigned char *data;  /* the whole input, UTF-8 after conversion */
    size_t len;
    void *map;                  /* mmap'ed region to release, or NULL */
    size_t map_len;
    size_t released;            /* bytes of the map before this were dropped from the process (ingest_release) */
    const char *name;           /* for messages: the path or "standard input" */
} ingest_input;

/* Maps `path` ("-" = standard input, spooled to a temporary file) and converts it to UTF-8 from
 * `encoding` ("utf-8", "latin-1", "cp1252"). Errors: IO, ENCODING (with the byte offset), INVALID_ARGUMENT. */
int ingest_open(const char *path, const char *encoding, ingest_input *in, factdb_error *err);
void ingest_close(ingest_input *in);
/* Drops the mapped pages of input bytes [0, upto) from this process once at least 16 MiB are done with: they
 * stay in the page cache and fault back in if read again (an error message), so a load's resident memory
 * is what it holds, not the file it has read (a 2.3 GB CSV counted whole in its RSS). `rewind` after a
 * first pass lets a second one drop them again. */
void ingest_release(ingest_input *in, size_t upto);
void ingest_release_rewind(ingest_input *in);
/* For a SIGSEGV/SIGBUS handler: true when `addr` lies inside the mapped input of a load running in this
 * process (the file was truncated under the loader). Async-signal-safe. */
bool ingest_addr_in_input(const void *addr);

/* One CSV field, pointing into the input or into the reader's scratch when unescaped. */
typedef struct csv_field {
    const char *s;
    size_t len;
    size_t offset;   /* byte offset of the field's first byte in the input */
    int64_t line;    /* physical line where the field starts (1-based) */
    int quoted;
} csv_field;

typedef struct csv_reader {
    const unsigned char *p, *end, *base;
    char delim;
    int64_t line;
    csv_field *fields;
    size_t nfields, cap;
    base_buf scratch;
} csv_reader;

void csv_init(csv_reader *r, const ingest_input *in, char delim);
void csv_cleanup(csv_reader *r);
/* Reads the next record into r->fields/r->nfields. Returns 1 for a record, 0 at the end, or a negative
 * factdb code (BAD_CSV: unterminated quote, text after a closing quote; LIMIT) with err set. */
int csv_next(csv_reader *r, factdb_error *err);

typedef struct ingest_load_opts {
    bool create, header, progress;
    char delim;                    /* 0: detected with ingest_detect_delim */
    const char *encoding;
    const char *date_format;       /* NULL: dates are YYYY-MM-DD; else checked with ingest_format_check */
    const char *timestamp_format;  /* NULL: timestamps are YYYY-MM-DD HH:MM[:SS[.f]] */
    bool decimal_comma;            /* numbers are written 1.234,50 (see ingest_decimal_comma) */
} ingest_load_opts;

/* ---- sniff.c ---- */
#define INGEST_SNIFF_RECORDS 1000  /* records read per candidate delimiter */
/* Chooses the delimiter of `in` among , ; tab | : of the candidates that split the first record into two
 * fields or more, the one for which the most of the first INGEST_SNIFF_RECORDS records have as many fields
 * as the first, then the one with more fields, then the earlier in that list. With `decimal_comma` the
 * comma is no candidate. If none qualifies, ',' (';' with `decimal_comma`), unless `header` and the lines
 * after the first agree on two fields or more under some candidate: then BAD_CSV saying so (the header
 * has one field where the rows have several). */
int ingest_detect_delim(const ingest_input *in, bool header, bool decimal_comma, char *out, factdb_error *err);
/* For a field-count mismatch between the records at byte offsets `first_off` and `row_off` read with
 * `cur`: writes into buf (cap bytes) a sentence starting "; " naming the delimiter under which both
 * records have the same number (>= 2) of fields, or saying the first record has a single field; "" if
 * neither. */
void ingest_delim_hint(const ingest_input *in, size_t first_off, size_t row_off, char cur, char *buf, size_t cap);
/* For messages: "','", "tab (\\t)", ... (static storage). */
const char *ingest_delim_name(char d);

/* ---- format.c ---- */
#define INGEST_FORMAT_MAX 64
/* Checks a strptime-style format: %d %m %Y %y (and %H %M %S %f if `timestamp`), %% and literal
 * characters; each specifier at most once; %d, %m and %Y or %y required (and %H, %M for a timestamp).
 * Returns 0, or -1 with a sentence for the user in why (cap bytes). */
int ingest_format_check(const char *fmt, bool timestamp, char *why, size_t cap);
/* Parses s[0..len) by the checked format `fmt` into days since 1970-01-01 (or microseconds if
 * `timestamp`). %d %m %H %M %S read 1 or 2 digits, %Y 4, %y 2 (69..99 = 19xx, else 20xx), %f 1 to 6.
 * Returns 0, or -1 with what does not match (and where) in why. */
int ingest_format_parse(const char *fmt, const char *s, size_t len, int64_t *out, bool timestamp, char *why,
                        size_t cap);
/* Rewrites a number with a decimal comma ("-1.234,5") as the C form ("-1234.5") into out (cap bytes,
 * NUL-terminated), *outlen its length. '.' is accepted only as a thousands separator (a first group of 1 to
 * 3 digits, then groups of exactly 3, before the comma). Other characters pass through for the number
 * parser to judge. Returns 0, or -1 with the reason in why (wcap bytes). */
int ingest_decimal_comma(const char *s, size_t len, char *out, size_t cap, size_t *outlen, char *why, size_t wcap);

/* Loads CSV `path` into `table`, all or nothing; *rows receives the number stored. */
int ingest_load_csv(factdb *db, const char *table, const char *path, const ingest_load_opts *o, uint64_t *rows,
                    factdb_error *err);

#endif
