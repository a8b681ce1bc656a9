/* sqltype.c: what the SQL front end (src/sql) and the executor (src/exec) both use, kept below both so
 * that neither includes the other: the statement arena, SQL type names and their mapping to storage types,
 * interval literals, and errors carrying an SQL position. */
#include "sqltype.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---- */
/* In a sanitizer build each allocation is followed by a poisoned red zone and a block's unused tail stays
 * poisoned, so a write past the end of one arena object (into the next) is reported like a heap overflow
 * instead of silently changing a neighbour (a name, a literal). */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ARENA_REDZONE 16
#define ARENA_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define ARENA_REDZONE 0
#define ARENA_POISON(p, n) ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct sql_arena_block {
    sql_arena_block *next;
    size_t cap;
    _Alignas(16) unsigned char data[];
};

void sql_arena_init(sql_arena *a, size_t limit)
{
    memset(a, 0, sizeof *a);
    a->limit = limit;
}

void sql_arena_cleanup(sql_arena *a)
{
    sql_arena_block *b = a->head;
    while (b) {
        sql_arena_block *n = b->next;
        ARENA_UNPOISON(b->data, b->cap);
        free(b);
        b = n;
    }
    memset(a, 0, sizeof *a);
}

void *sql_arena_alloc(sql_arena *a, size_t n)
{
    size_t want = n;
    n = ((n + 15) & ~(size_t)15) + ARENA_REDZONE;
    if (!a->head || a->used + n > a->cap) {
        size_t cap = n > 32768 ? n : 32768;
        if (a->limit && a->total + cap > a->limit)
            return NULL;
        sql_arena_block *b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = a->head;
        b->cap = cap;
        a->head = b;
        a->cap = cap;
        a->used = 0;
        a->total += cap;
        ARENA_POISON(b->data, cap);
    }
    void *p = a->head->data + a->used;
    a->used += n;
    ARENA_UNPOISON(p, want);
    memset(p, 0, want);
    return p;
}

char *sql_arena_strndup(sql_arena *a, const char *s, size_t n)
{
    char *p = sql_arena_alloc(a, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ---- errors with an SQL position ---- */
int sql_err(factdb_error *err, int code, int pos, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    char msg[sizeof err->message];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    base_err(err, code, "%s", msg);
    err->position = pos;
    return code;
}

/* ---- SQL types ---- */
const char *sql_type_name(sql_type t, char *buf, size_t cap)
{
    switch (t.id) {
    case TY_BOOL: return "boolean";
    case TY_INT: return "integer";
    case TY_BIGINT: return "bigint";
    case TY_DOUBLE: return "double precision";
    case TY_NUMERIC:
        if (t.scale < 0 || !t.prec)
            return "numeric";
        snprintf(buf, cap, "numeric(%d,%d)", t.prec, t.scale);
        return buf;
    case TY_TEXT: return "text";
    case TY_DATE: return "date";
    case TY_TIMESTAMP: return "timestamp without time zone";
    case TY_INTERVAL: return "interval";
    case TY_TIMESTAMPTZ: return "timestamp with time zone";
    default: return "unknown";
    }
}

sql_type sql_type_from_store(int st, int prec, int scale)
{
    sql_type t = {0, 0, 0};
    switch (st) {
    case FACTDB_BOOLEAN: t.id = TY_BOOL; break;
    case FACTDB_INTEGER: t.id = TY_INT; break;
    case FACTDB_BIGINT: t.id = TY_BIGINT; break;
    case FACTDB_DOUBLE: t.id = TY_DOUBLE; break;
    case FACTDB_DECIMAL: t.id = TY_NUMERIC; t.prec = (uint8_t)prec; t.scale = (int8_t)scale; break;
    case FACTDB_TEXT: t.id = TY_TEXT; break;
    case FACTDB_DATE: t.id = TY_DATE; break;
    case FACTDB_TIMESTAMP: t.id = TY_TIMESTAMP; break;
    case FACTDB_TIMESTAMPTZ: t.id = TY_TIMESTAMPTZ; break;
    }
    return t;
}

int sql_type_to_store(sql_type t, int *prec, int *scale)
{
    *prec = *scale = 0;
    switch (t.id) {
    case TY_BOOL: return FACTDB_BOOLEAN;
    case TY_INT: return FACTDB_INTEGER;
    case TY_BIGINT: return FACTDB_BIGINT;
    case TY_DOUBLE: return FACTDB_DOUBLE;
    case TY_NUMERIC:
        *prec = t.scale < 0 ? 18 : t.prec;
        *scale = t.scale < 0 ? 6 : t.scale;
        return FACTDB_DECIMAL;
    case TY_TEXT: return FACTDB_TEXT;
    case TY_DATE: return FACTDB_DATE;
    case TY_TIMESTAMP: return FACTDB_TIMESTAMP;
    case TY_TIMESTAMPTZ: return FACTDB_TIMESTAMPTZ;
    default: return 0;
    }
}

/* ---- intervals ---- */
int sql_parse_interval(const char *s, size_t len, const char *unit, sql_interval *out, const char **why)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    bool any = false;
    *why = "expected a number followed by a unit (years, months, weeks, days, hours, minutes, seconds)";
    while (i < len) {
        while (i < len && s[i] == ' ')
            i++;
        if (i == len)
            break;
        size_t st = i;
        if (s[i] == '-' || s[i] == '+')
            i++;
        while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
            i++;
        if (i == st)
            return -1;
        char num[40];
        if (i - st >= sizeof num)
            return -1;
        memcpy(num, s + st, i - st);
        num[i - st] = 0;
        char *end;
        double v = strtod(num, &end);
        if (*end)
            return -1;
        while (i < len && s[i] == ' ')
            i++;
        size_t us = i;
        while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
            i++;
        char u[16] = "";
        if (i - us >= sizeof u)
            return -1;
        for (size_t k = us; k < i; k++)
            u[k - us] = (char)(s[k] | 0x20);
        const char *uu = u[0] ? u : unit;
        if (!uu) {
            /* a bare number or hh:mm:ss */
            if (i < len && s[i] == ':') {
                *why = "time-of-day intervals (hh:mm:ss) are not supported; write '2 hours 30 minutes'";
                return -1;
            }
            uu = "second";
        }
        size_t ul = strlen(uu);
        if (ul > 1 && uu[ul - 1] == 's')
            ul--;
        int32_t *f32 = NULL;
        int64_t *f64 = NULL;
        double factor;
        if (!strncmp(uu, "year", ul) || !strncmp(uu, "yr", ul) || (ul == 1 && uu[0] == 'y'))
            f32 = &out->months, factor = 12;
        else if (!strncmp(uu, "month", ul) || !strncmp(uu, "mon", ul))
            f32 = &out->months, factor = 1;
        else if (!strncmp(uu, "week", ul) || (ul == 1 && uu[0] == 'w'))
            f32 = &out->days, factor = 7;
        else if (!strncmp(uu, "day", ul) || (ul == 1 && uu[0] == 'd'))
            f32 = &out->days, factor = 1;
        else if (!strncmp(uu, "hour", ul) || (ul == 1 && uu[0] == 'h'))
            f64 = &out->us, factor = 3600e6;
        else if (!strncmp(uu, "minute", ul) || !strncmp(uu, "min", ul) || (ul == 1 && uu[0] == 'm'))
            f64 = &out->us, factor = 60e6;
        else if (!strncmp(uu, "second", ul) || !strncmp(uu, "sec", ul) || (ul == 1 && uu[0] == 's'))
            f64 = &out->us, factor = 1e6;
        else
            return -1;
        /* a double converted to an integer it does not fit is undefined behaviour: check first */
        double nv = (f32 ? (double)*f32 : (double)*f64) + (f32 ? trunc(v * factor) : round(v * factor));
        if (!(fabs(nv) <= (f32 ? 2147483647.0 : 9.2e18))) {
            *why = "interval out of range";
            return -1;
        }
        if (f32)
            *f32 = (int32_t)nv;
        else
            *f64 = (int64_t)nv;
        any = true;
    }
    if (!any)
        return -1;
    return 0;
}
