/* func.c: scalar functions, value by value (strings, rounding, dates). The binder has already cast every
 * argument to the type the kernel expects and rejected NULL-unsafe calls; strict functions never see
 * NULL arguments here. date_trunc and extract on timestamps also have vector loops in eval.c's caller. */
#include "exec.h"
#include <math.h>
#include <string.h>

static int ferr(eval_thread *t, bexpr *e, int code, const char *msg)
{
    return sql_err(&t->err, code, e->pos, "%s", msg);
}

static size_t u8len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

static int64_t char_count(sql_str s)
{
    int64_t n = 0;
    for (size_t i = 0; i < s.len; i++)
        n += ((unsigned char)s.p[i] & 0xC0) != 0x80;
    return n;
}

/* Byte offset of character number `k` (0-based), clamped to the end. */
static size_t char_offset(sql_str s, int64_t k)
{
    size_t i = 0;
    while (k > 0 && i < s.len) {
        i += u8len((unsigned char)s.p[i]);
        k--;
    }
    return MIN(i, s.len);
}

static int case_map(eval_thread *t, bexpr *e, sql_str s, bool upper, sql_value *out)
{
    char *p = sql_arena_alloc(&t->tmp, BASE_CASE_MAP_MAX(s.len));
    if (!p)
        return ferr(t, e, FACTDB_LIMIT, "out of memory for text values");
    out->s.p = p;
    out->s.len = base_utf8_case_map(s.p, s.len, upper, p);
    return 0;
}

static bool in_set(sql_str set, const char *c, size_t cl)
{
    for (size_t i = 0; i < set.len;) {
        size_t l = u8len((unsigned char)set.p[i]);
        if (l == cl && !memcmp(set.p + i, c, cl))
            return true;
        i += l;
    }
    return false;
}

static sql_str do_trim(sql_str s, sql_str set, bool left, bool right)
{
    if (left)
        while (s.len) {
            size_t l = MIN(u8len((unsigned char)s.p[0]), s.len);
            if (!in_set(set, s.p, l))
                break;
            s.p += l;
            s.len -= l;
        }
    if (right)
        while (s.len) {
            size_t st = s.len - 1;
            while (st > 0 && ((unsigned char)s.p[st] & 0xC0) == 0x80)
                st--;
            if (!in_set(set, s.p + st, s.len - st))
                break;
            s.len = st;
        }
    return s;
}

/* ---- dates ---- */
static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

int64_t exec_date_trunc(int unit, int64_t us)
{
    const int64_t day = 86400000000LL;
    int64_t days = floor_div(us, day);
    int y;
    unsigned m, d;
    switch (unit) {
    case 0: return floor_div(us, 1000000) * 1000000;            /* second */
    case 1: return floor_div(us, 60000000) * 60000000;          /* minute */
    case 2: return floor_div(us, 3600000000LL) * 3600000000LL;  /* hour */
    case 3: return days * day;                                   /* day */
    case 4: {                                                    /* week: Monday */
        int64_t dow = ((days % 7) + 7 + 3) % 7;                  /* 1970-01-01 was a Thursday: dow 3 (Mon=0) */
        return (days - dow) * day;
    }
    default:
        base_civil_from_days(days, &y, &m, &d);
        if (unit == 5)  /* the first of the month is d - 1 days back */
            return (days - (int64_t)(d - 1)) * day;
        if (unit == 6)
            return base_days_from_civil(y, (m - 1) / 3 * 3 + 1, 1) * day;
        if (unit == 7)
            return base_days_from_civil(y, 1, 1) * day;
        if (unit == 8)
            return base_days_from_civil(y - ((y % 10) + 10) % 10, 1, 1) * day;
        return base_days_from_civil(y > 0 ? (y - 1) / 100 * 100 + 1 : y, 1, 1) * day;
    }
}

/* extract(field FROM timestamp), as (value scaled by 10^6 for second/epoch, else plain). */
static int extract_field(int field, int64_t us, bool is_date, i128 *out)
{
    const int64_t day = 86400000000LL;
    int64_t days = floor_div(us, day), tod = us - days * day;
    int y;
    unsigned m, d;
    base_civil_from_days(days, &y, &m, &d);
    switch (field) {
    case 0: *out = y; return 0;                                       /* year */
    case 1: *out = (m - 1) / 3 + 1; return 0;                         /* quarter */
    case 2: *out = m; return 0;                                       /* month */
    case 3: {                                                         /* ISO week */
        int64_t dow = ((days % 7) + 7 + 3) % 7;                       /* Monday = 0 */
        int64_t thursday = days - dow + 3;
        int ty;
        unsigned tm, td;
        base_civil_from_days(thursday, &ty, &tm, &td);
        *out = (thursday - base_days_from_civil(ty, 1, 1)) / 7 + 1;
        return 0;
    }
    case 4: *out = d; return 0;                                       /* day */
    case 5: *out = ((days % 7) + 7 + 4) % 7; return 0;                /* dow: Sunday = 0 */
    case 6: *out = ((days % 7) + 7 + 3) % 7 + 1; return 0;            /* isodow: Monday = 1 */
    case 7: *out = days - base_days_from_civil(y, 1, 1) + 1; return 0; /* doy */
    case 8: *out = tod / 3600000000LL; return 0;                      /* hour */
    case 9: *out = tod / 60000000 % 60; return 0;                     /* minute */
    case 10: *out = tod % 60000000; return 0;                         /* second, scaled by 1e6 */
    case 11: *out = is_date ? days * 86400 : us; return 0;            /* epoch */
    case 12: *out = y > 0 ? (y + 999) / 1000 : -((999 - y) / 1000); return 0; /* millennium */
    case 13: *out = y > 0 ? (y + 99) / 100 : -((99 - y) / 100); return 0;    /* century */
    case 14: *out = y >= 0 ? y / 10 : -((9 - y) / 10); return 0;    /* decade */
    case 15: case 16: case 17: *out = 0; return 0;                  /* timezone[_hour|_minute]: always UTC */
    }
    return -1;
}

int64_t exec_add_interval(int64_t us, sql_interval iv, int sign, bool *bad)
{
    const int64_t day = 86400000000LL;
    int64_t days = floor_div(us, day), tod = us - days * day;
    if (iv.months) {
        int y;
        unsigned m, d;
        base_civil_from_days(days, &y, &m, &d);
        int64_t total = (int64_t)y * 12 + (m - 1) + (int64_t)sign * iv.months;
        int ny = (int)floor_div(total, 12);
        unsigned nm = (unsigned)(total - (int64_t)ny * 12) + 1;
        static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        unsigned lim = mdays[nm - 1] + (nm == 2 && ((ny % 4 == 0 && ny % 100 != 0) || ny % 400 == 0));
        days = base_days_from_civil(ny, nm, MIN(d, lim));
    }
    days += (int64_t)sign * iv.days;
    int64_t r;
    if (__builtin_mul_overflow(days, day, &r) || __builtin_add_overflow(r, tod, &r) ||
        __builtin_add_overflow(r, sign * iv.us, &r))
        *bad = true;
    return r;
}

int exec_func_scalar(eval_thread *t, bexpr *e, sql_value *a, sql_value *out)
{
    switch ((func_id)e->op) {
    case F_LOWER:
    case F_UPPER: return case_map(t, e, a[0].s, e->op == F_UPPER, out);
    case F_LENGTH: out->i = char_count(a[0].s); return 0;
    case F_SUBSTR: {
        int64_t start = a[1].i, cnt = e->nargs > 2 ? a[2].i : INT64_MAX / 4;
        if (e->nargs > 2 && cnt < 0)
            return ferr(t, e, FACTDB_INVALID_VALUE, "negative substring length not allowed");
        int64_t end;  /* exclusive, 1-based; start + cnt past 2^63 means "to the end", as in PostgreSQL */
        if (__builtin_add_overflow(start, cnt, &end))
            end = INT64_MAX;
        if (start < 1)
            start = 1;
        if (end <= start) {
            out->s.p = "";
            out->s.len = 0;
            return 0;
        }
        size_t b = char_offset(a[0].s, start - 1), f = char_offset(a[0].s, end - 1);
        out->s.p = a[0].s.p + b;
        out->s.len = f - b;
        return 0;
    }
    case F_TRIM:
    case F_LTRIM:
    case F_RTRIM: {
        sql_str set = e->nargs > 1 ? a[1].s : (sql_str){" ", 1};
        out->s = do_trim(a[0].s, set, e->op != F_RTRIM, e->op != F_LTRIM);
        return 0;
    }
    case F_REPLACE: {
        sql_str s = a[0].s, f = a[1].s, r = a[2].s;
        if (!f.len) {
            out->s = s;
            return 0;
        }
        size_t cnt = 0;
        for (size_t i = 0; i + f.len <= s.len;)
            if (!memcmp(s.p + i, f.p, f.len)) {
                cnt++;
                i += f.len;
            } else {
                i++;
            }
        size_t len = s.len + cnt * r.len - cnt * f.len;
        if (len > FACTDB_TEXT_MAX)
            return ferr(t, e, FACTDB_LIMIT, "text value longer than 1 MiB");
        char *p = sql_arena_alloc(&t->tmp, len + 1);
        if (!p)
            return ferr(t, e, FACTDB_LIMIT, "out of memory for text values");
        size_t o = 0;
        for (size_t i = 0; i < s.len;)
            if (i + f.len <= s.len && !memcmp(s.p + i, f.p, f.len)) {
                memcpy(p + o, r.p, r.len);
                o += r.len;
                i += f.len;
            } else {
                p[o++] = s.p[i++];
            }
        out->s.p = p;
        out->s.len = o;
        return 0;
    }
    case F_ABS:
        if (e->type.id == TY_DOUBLE) {
            out->d = fabs(a[0].d);
        } else if (exec_phys(e->type) == P_N128) {
            out->n = a[0].n < 0 ? -a[0].n : a[0].n;
            out->nscale = a[0].nscale;
        } else {
            if (a[0].i == INT64_MIN || (e->type.id == TY_INT && a[0].i == INT32_MIN))
                return ferr(t, e, FACTDB_INVALID_VALUE, e->type.id == TY_INT ? "integer out of range" : "bigint out of range");
            out->i = a[0].i < 0 ? -a[0].i : a[0].i;
        }
        return 0;
    case F_SIGN:
        if (e->type.id == TY_DOUBLE)
            out->d = a[0].d > 0 ? 1 : a[0].d < 0 ? -1 : 0;
        else {
            i128 v = exec_phys(a[0].type) == P_N128 ? a[0].n : a[0].i;
            out->i = (v > 0) - (v < 0);
        }
        return 0;
    case F_SQRT:
        if (a[0].d < 0)
            return ferr(t, e, FACTDB_INVALID_VALUE, "cannot take square root of a negative number");
        out->d = sqrt(a[0].d);
        return 0;
    case F_POWER:
        if (a[0].d == 0 && a[1].d < 0)
            return ferr(t, e, FACTDB_INVALID_VALUE, "zero raised to a negative power is undefined");
        if (a[0].d < 0 && a[1].d != floor(a[1].d))
            return ferr(t, e, FACTDB_INVALID_VALUE, "a negative number raised to a non-integer power yields a complex result");
        out->d = pow(a[0].d, a[1].d);
        if (isinf(out->d) && !isinf(a[0].d) && !isinf(a[1].d))
            return ferr(t, e, FACTDB_INVALID_VALUE, "value out of range: overflow");
        return 0;
    case F_ROUND:
    case F_TRUNC:
    case F_FLOOR:
    case F_CEIL:
        if (e->type.id == TY_DOUBLE) {
            double x = a[0].d;
            out->d = e->op == F_ROUND ? rint(x) : e->op == F_TRUNC ? trunc(x) : e->op == F_FLOOR ? floor(x) : ceil(x);
            return 0;
        } else {
            /* numeric: (v, s) -> scale e->aux (>= 0) */
            i128 v;
            int s;
            if (exec_phys(a[0].type) == P_N128) {
                v = a[0].n;
                s = a[0].nscale;
            } else {
                v = a[0].i;
                s = a[0].type.id == TY_NUMERIC ? a[0].type.scale : 0;
            }
            int to = e->aux;
            i128 r = v;
            if (to >= s) {
                for (int k = s; k < to; k++)
                    if (__builtin_mul_overflow(r, 10, &r))
                        return ferr(t, e, FACTDB_INVALID_VALUE, "numeric value out of range");
            } else {
                i128 d = 1;
                for (int k = to; k < s && k < to + 38; k++)
                    d *= 10;
                i128 q = v / d, rem = v % d;
                if (rem) {
                    if (e->op == F_ROUND) {
                        if ((rem < 0 ? -rem : rem) * 2 >= d)
                            q += v < 0 ? -1 : 1;
                    } else if (e->op == F_FLOOR && v < 0) {
                        q -= 1;
                    } else if (e->op == F_CEIL && v > 0) {
                        q += 1;
                    }
                }
                r = q;
            }
            if (exec_phys(e->type) == P_N128) {
                out->n = r;
                out->nscale = (int8_t)to;
            } else {
                if (r > INT64_MAX || r < INT64_MIN)
                    return ferr(t, e, FACTDB_INVALID_VALUE,
                                "numeric value out of range (factdb's numeric holds 18 digits; cast to double precision for larger values)");
                out->i = (int64_t)r;
            }
            return 0;
        }
    case F_GREATEST:
    case F_LEAST: {
        int best = -1;
        for (int k = 0; k < e->nargs; k++) {
            if (a[k].null)
                continue;
            if (best < 0) {
                best = k;
                continue;
            }
            int c = exec_compare_values(&a[k], &a[best]);
            if (e->op == F_GREATEST ? c > 0 : c < 0)
                best = k;
        }
        if (best < 0)
            out->null = true;
        else
            *out = a[best];
        return 0;
    }
    case F_DATE_TRUNC:
        out->i = exec_date_trunc(e->aux, a[0].i);
        return 0;
    case F_EXTRACT: {
        bool is_date = a[0].type.id == TY_DATE;
        int64_t us = is_date ? a[0].i * 86400000000LL : a[0].i;
        i128 v = 0;
        extract_field(e->aux, us, is_date, &v);
        if (e->type.id == TY_DOUBLE) {
            bool scaled = e->aux == 10 || (e->aux == 11 && !is_date);
            out->d = scaled ? (double)v / 1e6 : (double)v;
        } else {
            out->i = (int64_t)v;
        }
        return 0;
    }
    case F_DATE_ADD_IV: {
        bool bad = false;
        out->i = exec_add_interval(a[0].i, a[1].iv, e->aux, &bad);
        if (bad || !base_ts_in_range(out->i))
            return ferr(t, e, FACTDB_INVALID_VALUE, BASE_TS_RANGE_ERROR);
        return 0;
    }
    case F_DATE_SUB_DATE:
        out->i = a[0].i - a[1].i;
        return 0;
    }
    return ferr(t, e, FACTDB_INTERNAL, "unknown function");
}
