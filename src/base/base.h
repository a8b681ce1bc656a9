/* base.h: the bottom layer every other layer uses: errors, UTF-8, dates/times, number parsing,
 * hashing and growable buffers with limits. Nothing here knows about storage; sqltype.h, beside it, holds
 * the SQL types and arena that src/sql and src/exec share. */
#ifndef FACTDB_BASE_H
#define FACTDB_BASE_H

#include "factdb.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
/* Kernels over whole vectors that the baseline x86-64 instruction set cannot vectorize (64-bit compares
 * into byte masks need SSE4.2 or AVX2) get an AVX2 copy picked at load time, so the binary still runs on
 * any x86-64. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BASE_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define BASE_VECTOR_CLONES
#endif

/* ---- errors ---- */
/* Sets err (if non-NULL) to `code` with a printf-style message; returns code. Resets line/column/etc. */
int base_err(factdb_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like base_err but with an input location (line, column number, byte offset). */
int base_err_at(factdb_error *err, int code, int64_t line, int64_t column, int64_t offset,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Clears err to FACTDB_OK. */
void base_err_clear(factdb_error *err);
/* An English description of errno value `e` (never strerror: messages must not depend on locale). */
const char *base_errno_text(int e);
/* Maps an errno to a factdb code (EACCES -> PERMISSION, ENOSPC -> FULL, else IO). */
int base_errno_code(int e);

/* ---- UTF-8 ---- */
/* Returns the byte length of the longest valid UTF-8 prefix of s[0..len). == len when all valid.
 * A NUL byte ends the valid prefix too: text never holds NUL (as in PostgreSQL), and every path where text
 * enters (SQL literals and parameters, CSV and HTTP loads, appenders, names) validates with this. */
size_t base_utf8_valid_prefix(const unsigned char *s, size_t len);
/* Lower (upper = 0) or upper case of code point c, as PostgreSQL's lower()/upper() with a C.UTF-8 ctype
 * (Unicode simple case mapping: Latin, Greek, Cyrillic, ...); the same under any process locale. */
uint32_t base_case_map_char(uint32_t c, int upper);
/* Writes the case mapping of s[0..len) to out and returns its length. A character's mapping can be longer
 * than the character (U+023A -> U+2C65: 2 -> 3 bytes): out must hold BASE_CASE_MAP_MAX(len) bytes.
 * Bytes that are not valid UTF-8 are copied unchanged. */
size_t base_utf8_case_map(const char *s, size_t len, int upper, char *out);
#define BASE_CASE_MAP_MAX(len) ((len) * 2 + 4)

/* ---- dates and times ----
 * Supported range: 0001-01-01 .. 9999-12-31 (timestamps to 23:59:59.999999), exactly what the text form
 * YYYY-MM-DD can print and read back. Parsing, loading, casts and arithmetic all refuse values outside it
 * with "date out of range" / "timestamp out of range" (PostgreSQL goes further, into BC years, which the
 * text form here cannot express). */
#define BASE_DATE_MIN (-719162)                                   /* 0001-01-01 */
#define BASE_DATE_MAX 2932896                                     /* 9999-12-31 */
#define BASE_TS_MIN ((int64_t)BASE_DATE_MIN * 86400000000LL)
#define BASE_TS_MAX ((int64_t)(BASE_DATE_MAX + 1) * 86400000000LL - 1)
#define BASE_DATE_RANGE_ERROR "date out of range (factdb supports 0001-01-01 to 9999-12-31)"
#define BASE_TS_RANGE_ERROR "timestamp out of range (factdb supports 0001-01-01 00:00:00 to 9999-12-31 23:59:59.999999)"
static inline int base_date_in_range(int64_t days) { return days >= BASE_DATE_MIN && days <= BASE_DATE_MAX; }
static inline int base_ts_in_range(int64_t us) { return us >= BASE_TS_MIN && us <= BASE_TS_MAX; }
/* Division rounding toward minus infinity (b > 0): the day of a timestamp before 1970 is the one before. */
static inline int64_t base_floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-(a + 1)) / b) - 1; }
int64_t base_days_from_civil(int64_t y, unsigned m, unsigned d);
void base_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);
/* Parse YYYY-MM-DD (exactly) into days since epoch; returns 0 on success, -1 on bad form with
 * `why` set to a static reason. */
int base_parse_date(const char *s, size_t len, int32_t *out, const char **why);
int base_days_in_month(int y, int m);  /* m in 1..12, proleptic Gregorian */
/* The accepted text forms of a timestamp, in every "expected ..." message (SQL, CSV, HTTP). */
#define BASE_TS_FORMS "expected a timestamp as YYYY-MM-DD[ HH:MM[:SS[.ffffff]]] with T or a space before the time " \
                      "and an optional offset Z, +HH, +HH:MM or +HHMM (or -), e.g. 2026-11-29T18:40:00.123Z"
/* Parse YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][offset] (a bare date means midnight) into microseconds of wall
 * time; an offset (Z, +HH, +HH:MM, +HHMM, +HH:MM:SS, or -) is checked and ignored, as PostgreSQL's
 * timestamp does. More than 6 fractional digits round (half to even). Out of range: BASE_TS_RANGE_ERROR. */
int base_parse_timestamp(const char *s, size_t len, int64_t *out, const char **why);
/* The same form for timestamptz: into UTC microseconds, the offset subtracted (none means UTC, the only
 * session time zone). *has_offset (may be NULL) says whether the text carried one. */
int base_parse_timestamptz(const char *s, size_t len, int64_t *out, bool *has_offset, const char **why);
size_t base_format_date(int32_t days, char *buf, size_t cap);
size_t base_format_timestamp(int64_t us, char *buf, size_t cap);
/* "YYYY-MM-DD HH:MM:SS[.ffffff]+00": PostgreSQL's output with TimeZone=UTC. */
size_t base_format_timestamptz(int64_t us, char *buf, size_t cap);

/* ---- numbers ---- */
int base_parse_int64(const char *s, size_t len, int64_t *out, const char **why);
/* Exact decimal parse into an integer scaled by 10^scale with at most `precision` digits. */
int base_parse_decimal(const char *s, size_t len, int precision, int scale, int64_t *out, const char **why);
int base_parse_double(const char *s, size_t len, double *out, const char **why);
int base_parse_bool(const char *s, size_t len, uint8_t *out);
size_t base_format_decimal(int64_t v, int scale, char *buf, size_t cap);
/* Shortest text that reads back to the same double. */
size_t base_format_double(double v, char *buf, size_t cap);
extern const int64_t base_pow10[19];

/* ---- hashing (xxHash XXH3) ---- */
uint64_t base_hash(const void *p, size_t len);

/* ---- growable byte buffer with a hard limit ---- */
typedef struct base_buf {
    unsigned char *data;
    size_t len, cap, limit;
} base_buf;
void base_buf_init(base_buf *b, size_t limit);
void base_buf_cleanup(base_buf *b);
/* Ensures room for `extra` more bytes; may reallocate (pointers into data become invalid).
 * Returns FACTDB_OK, NOMEM, or LIMIT when len+extra would exceed the limit. */
int base_buf_reserve(base_buf *b, size_t extra);
int base_buf_append(base_buf *b, const void *p, size_t n);

/* ---- reusable large buffers ----
 * Queries need the same large scratch buffers again and again (decoded chunks, vectors). Fresh memory
 * costs a page fault per 4 KiB on first touch, so freed buffers are kept (up to a quarter of physical
 * memory, at least 256 MiB, per process; those of 2 MiB or more as MADV_FREE pages the kernel may reclaim
 * under memory pressure) and handed out again; new ones of 2 MiB or more are huge pages (a fault per
 * 2 MiB). A request with no block of its size may get a pooled one of up to twice the size. Contents are
 * undefined. */
void *base_pool_get(size_t size);
void base_pool_put(void *p, size_t size);

/* ---- big-endian key helpers ---- */
static inline void base_put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}
static inline uint32_t base_get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void base_put_be64(unsigned char *p, uint64_t v)
{
    base_put_be32(p, (uint32_t)(v >> 32));
    base_put_be32(p + 4, (uint32_t)v);
}
static inline uint64_t base_get_be64(const unsigned char *p)
{
    return (uint64_t)base_get_be32(p) << 32 | base_get_be32(p + 4);
}
static inline void base_put_be16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v;
}
static inline uint16_t base_get_be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

#endif
