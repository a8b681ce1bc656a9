/* sqltype.h: the vocabulary the SQL front end (src/sql) and the executor (src/exec) share, below both so
 * that the dependency runs one way (sql -> exec -> base): the statement arena, PostgreSQL's types and
 * intervals, their mapping to storage types, window frame bounds, and errors carrying an SQL position.
 * The names keep their sql_ prefix: they are SQL's types, wherever they are declared. */
#ifndef FACTDB_SQLTYPE_H
#define FACTDB_SQLTYPE_H

#include "base.h"

/* ---- arena: bump allocator, freed all at once ---- */
typedef struct sql_arena_block sql_arena_block;
typedef struct sql_arena {
    sql_arena_block *head;
    size_t used, cap, total, limit;
} sql_arena;
void sql_arena_init(sql_arena *a, size_t limit);
void sql_arena_cleanup(sql_arena *a);
/* Zeroed memory, 16-byte aligned; NULL when out of memory or over the limit. */
void *sql_arena_alloc(sql_arena *a, size_t n);
char *sql_arena_strndup(sql_arena *a, const char *s, size_t n);

/* ---- SQL types (PostgreSQL's) ---- */
typedef enum sql_tid {
    TY_UNKNOWN = 0, /* NULL literal or untyped string literal before coercion */
    TY_BOOL,
    TY_INT,       /* integer (int4) */
    TY_BIGINT,    /* bigint (int8) */
    TY_DOUBLE,    /* double precision */
    TY_NUMERIC,   /* numeric: scale >= 0 static, 64-bit scaled; scale < 0: per-value scale, 128-bit */
    TY_TEXT,
    TY_DATE,
    TY_TIMESTAMP,
    TY_INTERVAL,
    TY_TIMESTAMPTZ  /* timestamp with time zone: UTC microseconds (the session time zone is UTC) */
} sql_tid;

typedef struct sql_type {
    uint8_t id;
    int8_t scale;     /* NUMERIC */
    uint8_t prec;     /* NUMERIC declared precision (0 = none) */
} sql_type;

typedef struct sql_interval {
    int32_t months, days;
    int64_t us;
} sql_interval;

/* PostgreSQL's name for the type ("numeric(12,2)"). */
const char *sql_type_name(sql_type t, char *buf, size_t cap);
sql_type sql_type_from_store(int store_type, int prec, int scale);
/* Maps an SQL type to a storage type; returns 0 if the type cannot be stored. */
int sql_type_to_store(sql_type t, int *prec, int *scale);

/* Parses an interval literal ("90 days", "3 months 2 hours", "1 year") with an optional unit keyword
 * applying to a bare number. Returns 0 or -1 with *why. */
int sql_parse_interval(const char *s, size_t len, const char *unit, sql_interval *out, const char **why);

/* Sets an error with a SQL position. */
int sql_err(factdb_error *err, int code, int pos, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- window frames (written by the parser, run by src/exec/window.c) ---- */
/* A window frame bound (ROWS / RANGE BETWEEN start AND end). */
typedef enum win_bound {
    WB_UNBOUNDED_PRECEDING, WB_PRECEDING, WB_CURRENT_ROW, WB_FOLLOWING, WB_UNBOUNDED_FOLLOWING
} win_bound;

/* EXCLUDE NO OTHERS (none), CURRENT ROW, GROUP (the row's peers), TIES (its peers but not itself) */
enum { WX_NONE = 0, WX_CURRENT_ROW, WX_GROUP, WX_TIES };

#endif
