/* value.c: scalar values: 128-bit numeric arithmetic with PostgreSQL's division scale,
 * casts between every pair of types (PostgreSQL's rules and messages), comparison and output text. */
#include "exec.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- 128-bit numerics ---- */

static i128 p10(int k)
{
    i128 r = 1;
    while (k-- > 0)
        r *= 10;
    return r;
}

size_t exec_format_n128(i128 v, int scale, char *buf, size_t cap)
{
    /* at most 39 digits, or scale + 1 with the leading zeros: per-value scales reach 76 (eval.c caps
       products and quotients there), so a 64-byte buffer overflowed on chained divisions */
    char tmp[80];
    int n = 0;
    if (scale > (int)sizeof tmp - 2)
        scale = (int)sizeof tmp - 2;
    unsigned __int128 u = v < 0 ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    while (n <= scale)
        tmp[n++] = '0';
    size_t o = 0;
    if (v < 0 && o < cap - 1)
        buf[o++] = '-';
    for (int i = n - 1; i >= 0 && o < cap - 1; i--) {
        buf[o++] = tmp[i];
        if (i == scale && scale > 0 && o < cap - 1)
            buf[o++] = '.';
    }
    buf[o] = 0;
    return o;
}

static int ndigits(i128 v)
{
    unsigned __int128 u = v < 0 ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
    int d = 0;
    while (u) {
        d++;
        u /= 10;
    }
    return d;
}

/* PostgreSQL's NBASE (10000) weight and first digit of v / 10^s. */
static void nbase_weight(i128 v, int s, int *weight, int *first)
{
    if (v == 0) {
        *weight = 0;
        *first = 0;
        return;
    }
    int e = ndigits(v) - s;                    /* |x| in [10^(e-1), 10^e) */
    int w = (e - 1) >= 0 ? (e - 1) / 4 : -((3 - (e - 1)) / 4);
    int shift = s + 4 * w;                     /* first = |v| / 10^shift */
    i128 a = v < 0 ? -v : v;
    i128 f = shift >= 0 ? a / p10(shift) : a * p10(-shift);
    *weight = w;
    *first = (int)f;
}

int exec_div_scale(i128 a, int sa, i128 b, int sb)
{
    int w1, f1, w2, f2;
    nbase_weight(a, sa, &w1, &f1);
    nbase_weight(b, sb, &w2, &f2);
    int qw = w1 - w2;
    if (f1 <= f2)
        qw--;
    int rs = 16 - qw * 4;
    rs = MAX(rs, sa);
    rs = MAX(rs, sb);
    rs = MAX(rs, 0);
    return MIN(rs, 1000);
}

int exec_n128_div(i128 a, int sa, i128 b, int sb, int rs, i128 *out)
{
    /* q = a/10^sa / (b/10^sb) * 10^rs = a * 10^(rs - sa + sb) / b */
    int k = rs - sa + sb;
    i128 num = a, den = b;
    if (k > 38 || k < -38)
        return -1;
    if (k >= 0) {
        if (__builtin_mul_overflow(num, p10(k), &num))
            return -1;
    } else if (__builtin_mul_overflow(den, p10(-k), &den)) {
        *out = 0;
        return 0;
    }
    i128 q = num / den, r = num % den;
    i128 ar = r < 0 ? -r : r, ad = den < 0 ? -den : den;
    if (ar >= ad - ar)  /* half away from zero */
        q += ((num < 0) != (den < 0)) ? -1 : 1;
    *out = q;
    return 0;
}

/* Rounds (i128, s) to scale `to`, half away from zero; -1 on overflow. */
static int n128_rescale(i128 v, int s, int to, i128 *out)
{
    if (to >= s) {
        if (to - s > 38 || __builtin_mul_overflow(v, p10(to - s), out))
            return -1;
        return 0;
    }
    if (s - to > 38) {
        *out = 0;
        return 0;
    }
    i128 d = p10(s - to), q = v / d, r = v % d;
    if ((r < 0 ? -r : r) * 2 >= d)
        q += v < 0 ? -1 : 1;
    *out = q;
    return 0;
}

/* ---- reading vectors ---- */
void vec_get(const vec *v, size_t i, sql_value *out)
{
    memset(out, 0, sizeof *out);
    out->type = v->type;
    if (v->valid && !v->valid[i]) {
        out->null = true;
        return;
    }
    switch (exec_phys(v->type)) {
    case P_U8: out->i = ((const uint8_t *)v->data)[i]; break;
    case P_I64: out->i = ((const int64_t *)v->data)[i]; break;
    case P_F64: out->d = ((const double *)v->data)[i]; break;
    case P_STR: out->s = ((const sql_str *)v->data)[i]; break;
    case P_N128:
        out->n = ((const i128 *)v->data)[i];
        out->nscale = (int8_t)(v->scales ? v->scales[i] : 0);
        break;
    case P_IV: out->iv = ((const sql_interval *)v->data)[i]; break;
    }
}

/* Value of a numeric-like scalar as (i128, scale). */
static void as_n128(const sql_value *v, i128 *n, int *s)
{
    if (v->type.id == TY_NUMERIC && v->type.scale < 0) {
        *n = v->n;
        *s = v->nscale;
    } else if (v->type.id == TY_NUMERIC) {
        *n = v->i;
        *s = v->type.scale;
    } else {
        *n = v->i;
        *s = 0;
    }
}

static double as_double(const sql_value *v)
{
    if (v->type.id == TY_DOUBLE)
        return v->d;
    i128 n;
    int s;
    as_n128(v, &n, &s);
    if (s == 0)
        return (double)n;
    char buf[64];
    exec_format_n128(n, s, buf, sizeof buf);
    return strtod(buf, NULL);
}

static int cmp3(i128 a, i128 b) { return a < b ? -1 : a > b; }

int exec_compare_values(const sql_value *a, const sql_value *b)
{
    switch (a->type.id) {
    case TY_DOUBLE: {
        double x = a->type.id == TY_DOUBLE ? a->d : as_double(a), y = b->type.id == TY_DOUBLE ? b->d : as_double(b);
        /* PostgreSQL orders NaN above every number and equal to itself */
        if (isnan(x) || isnan(y))
            return isnan(x) ? (isnan(y) ? 0 : 1) : -1;
        return x < y ? -1 : x > y;
    }
    case TY_TEXT:
    case TY_UNKNOWN: {
        size_t n = MIN(a->s.len, b->s.len);
        int c = n ? memcmp(a->s.p, b->s.p, n) : 0;
        return c ? (c < 0 ? -1 : 1) : (a->s.len < b->s.len ? -1 : a->s.len > b->s.len);
    }
    case TY_NUMERIC: {
        i128 x, y;
        int sx, sy;
        as_n128(a, &x, &sx);
        as_n128(b, &y, &sy);
        int s = MAX(sx, sy);
        i128 xs, ys;
        if (n128_rescale(x, sx, s, &xs) || n128_rescale(y, sy, s, &ys))
            return as_double(a) < as_double(b) ? -1 : as_double(a) > as_double(b);
        return cmp3(xs, ys);
    }
    case TY_INTERVAL: {
        /* PostgreSQL compares intervals as 30-day months */
        i128 x = ((i128)a->iv.months * 30 + a->iv.days) * 86400000000LL + a->iv.us;
        i128 y = ((i128)b->iv.months * 30 + b->iv.days) * 86400000000LL + b->iv.us;
        return cmp3(x, y);
    }
    default:
        return a->i < b->i ? -1 : a->i > b->i;
    }
}

/* ---- output ---- */
size_t exec_format_value(const sql_value *v, char *buf, size_t cap)
{
    if (v->null) {
        buf[0] = 0;
        return 0;
    }
    switch (v->type.id) {
    case TY_BOOL: return (size_t)snprintf(buf, cap, "%s", v->i ? "true" : "false");
    case TY_INT:
    case TY_BIGINT: return (size_t)snprintf(buf, cap, "%lld", (long long)v->i);
    case TY_DOUBLE: return base_format_double(v->d, buf, cap);
    case TY_NUMERIC:
        if (v->type.scale < 0)
            return exec_format_n128(v->n, v->nscale, buf, cap);
        return exec_format_n128(v->i, v->type.scale, buf, cap);
    case TY_DATE: return base_format_date((int32_t)v->i, buf, cap);
    case TY_TIMESTAMP: return base_format_timestamp(v->i, buf, cap);
    case TY_TIMESTAMPTZ: return base_format_timestamptz(v->i, buf, cap);
    case TY_INTERVAL: {
        int n = 0;
        int y = v->iv.months / 12, m = v->iv.months % 12;
        buf[0] = 0;
        if (y)
            n += snprintf(buf + n, cap - (size_t)n, "%d year%s ", y, y == 1 || y == -1 ? "" : "s");
        if (m)
            n += snprintf(buf + n, cap - (size_t)n, "%d mon%s ", m, m == 1 || m == -1 ? "" : "s");
        if (v->iv.days)
            n += snprintf(buf + n, cap - (size_t)n, "%d day%s ", v->iv.days, v->iv.days == 1 || v->iv.days == -1 ? "" : "s");
        if (v->iv.us || n == 0) {
            int64_t us = v->iv.us < 0 ? -v->iv.us : v->iv.us;
            n += snprintf(buf + n, cap - (size_t)n, "%s%02lld:%02lld:%02lld", v->iv.us < 0 ? "-" : "",
                          (long long)(us / 3600000000LL), (long long)(us / 60000000 % 60), (long long)(us / 1000000 % 60));
            if (us % 1000000)
                n += snprintf(buf + n, cap - (size_t)n, ".%06lld", (long long)(us % 1000000));
        } else {
            n--;  /* trailing space */
            buf[n] = 0;
        }
        return (size_t)n;
    }
    default: {
        size_t l = MIN(v->s.len, cap - 1);
        memcpy(buf, v->s.p, l);
        buf[l] = 0;
        return l;
    }
    }
}

/* ---- casts ---- */
static int cast_fail(factdb_error *err, int pos, sql_type to, const sql_value *in, const char *why)
{
    char tb[32], vb[80];
    size_t l = exec_format_value(in, vb, sizeof vb);
    (void)l;
    return sql_err(err, FACTDB_INVALID_VALUE, pos, "invalid input syntax for type %s: \"%s\"%s%s",
                   sql_type_name(to, tb, sizeof tb), vb, why ? ": " : "", why ? why : "");
}

static int range_fail(factdb_error *err, int pos, sql_type to)
{
    char tb[32];
    return sql_err(err, FACTDB_INVALID_VALUE, pos, "value out of range for type %s", sql_type_name(to, tb, sizeof tb));
}

/* PostgreSQL's messages for text that is a number too large for its type. */
static int text_range_fail(factdb_error *err, int pos, sql_type to, const char *s, size_t len)
{
    int l = (int)MIN(len, 60);
    if (to.id == TY_DOUBLE)
        return sql_err(err, FACTDB_INVALID_VALUE, pos, "\"%.*s\" is out of range for type double precision", l, s);
    if (to.id == TY_NUMERIC)
        return sql_err(err, FACTDB_INVALID_VALUE, pos,
                       "value \"%.*s\" is out of range for factdb's numeric (at most 38 digits; PostgreSQL's goes "
                       "further); cast to double precision for larger values", l, s);
    char tb[32];
    return sql_err(err, FACTDB_INVALID_VALUE, pos, "value \"%.*s\" is out of range for type %s", l, s,
                   sql_type_name(to, tb, sizeof tb));
}

/* Parses text into `to`. */
static int cast_from_text(const sql_value *in, sql_type to, int pos, sql_arena *a, sql_value *out, factdb_error *err)
{
    const char *s = in->s.p;
    size_t len = in->s.len;
    /* PostgreSQL ignores leading and trailing white space in numeric, boolean and date input */
    while (len && (*s == ' ' || *s == '\t' || *s == '\n'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n'))
        len--;
    const char *why = NULL;
    switch (to.id) {
    case TY_BOOL: {
        uint8_t b;
        if (base_parse_bool(s, len, &b))
            return cast_fail(err, pos, to, in, NULL);
        out->i = b;
        return 0;
    }
    case TY_INT:
    case TY_BIGINT: {
        int64_t v;
        if (base_parse_int64(s, len, &v, &why))
            return strstr(why, "range") ? text_range_fail(err, pos, to, s, len) : cast_fail(err, pos, to, in, NULL);
        if (to.id == TY_INT && (v < INT32_MIN || v > INT32_MAX))
            return text_range_fail(err, pos, to, s, len);
        out->i = v;
        return 0;
    }
    case TY_DOUBLE: {
        char tmp[128];
        if (len >= sizeof tmp)
            return cast_fail(err, pos, to, in, NULL);
        memcpy(tmp, s, len);
        tmp[len] = 0;
        for (char *c = tmp; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c + 32);
        if (!strcmp(tmp, "nan")) { out->d = NAN; return 0; }
        if (!strcmp(tmp, "infinity") || !strcmp(tmp, "inf") || !strcmp(tmp, "+infinity")) { out->d = INFINITY; return 0; }
        if (!strcmp(tmp, "-infinity") || !strcmp(tmp, "-inf")) { out->d = -INFINITY; return 0; }
        if (base_parse_double(s, len, &out->d, &why))
            return why && strstr(why, "out of range") ? text_range_fail(err, pos, to, s, len)
                                                      : cast_fail(err, pos, to, in, NULL);
        return 0;
    }
    case TY_NUMERIC: {
        /* parse exactly with up to 38 digits, then round to the target scale */
        i128 v = 0;
        int scale = 0, digits = 0;
        bool neg = false, dot = false, any = false;
        size_t i = 0;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            neg = s[i++] == '-';
        for (; i < len; i++) {
            if (s[i] == '.' && !dot) {
                dot = true;
                continue;
            }
            if (s[i] < '0' || s[i] > '9')
                break;
            any = true;
            if (digits || s[i] != '0')
                digits++;
            if (digits > 38)
                return text_range_fail(err, pos, to, s, len);
            v = v * 10 + (s[i] - '0');
            if (dot)
                scale++;
        }
        int exp = 0;
        if (i < len && (s[i] == 'e' || s[i] == 'E')) {
            int64_t e;
            if (base_parse_int64(s + i + 1, len - i - 1, &e, &why))
                return cast_fail(err, pos, to, in, NULL);
            if (e > 100 || e < -100)
                return text_range_fail(err, pos, to, s, len);
            exp = (int)e;
            i = len;
        }
        if (!any || i != len)
            return cast_fail(err, pos, to, in, NULL);
        if (neg)
            v = -v;
        scale -= exp;
        if (scale < 0) {
            if (n128_rescale(v, scale, 0, &v))
                return text_range_fail(err, pos, to, s, len);
            scale = 0;
        }
        sql_value tmpv = {.type = {TY_NUMERIC, -1, 0}, .n = v, .nscale = (int8_t)MIN(scale, 127)};
        return exec_cast_value(&tmpv, to, pos, a, out, err);
    }
    case TY_DATE: {
        int32_t d;
        if (base_parse_date(s, len, &d, &why)) {
            int64_t ts;
            if (strstr(why, "out of range (factdb"))
                return sql_err(err, FACTDB_INVALID_VALUE, pos, "date out of range: \"%.*s\" (factdb supports "
                               "0001-01-01 to 9999-12-31)", (int)MIN(len, 40), s);
            /* the date of the wall-clock time written; an offset is ignored, as PostgreSQL does */
            if (base_parse_timestamp(s, len, &ts, &why))
                return cast_fail(err, pos, to, in, "expected YYYY-MM-DD");
            d = (int32_t)base_floor_div(ts, 86400000000LL);
        }
        out->i = d;
        return 0;
    }
    case TY_TIMESTAMP:
    case TY_TIMESTAMPTZ: {
        int rc = to.id == TY_TIMESTAMP ? base_parse_timestamp(s, len, &out->i, &why)
                                       : base_parse_timestamptz(s, len, &out->i, NULL, &why);
        if (rc) {
            if (strstr(why, "out of range (factdb"))
                return sql_err(err, FACTDB_INVALID_VALUE, pos, "timestamp out of range: \"%.*s\" (factdb supports "
                               "0001-01-01 00:00:00 to 9999-12-31 23:59:59.999999%s)", (int)MIN(len, 40), s,
                               to.id == TY_TIMESTAMPTZ ? " UTC" : "");
            return cast_fail(err, pos, to, in, why);
        }
        return 0;
    }
    case TY_INTERVAL:
        if (sql_parse_interval(s, len, NULL, &out->iv, &why))
            return cast_fail(err, pos, to, in, why);
        return 0;
    case TY_TEXT:
    case TY_UNKNOWN:
        out->s = in->s;
        return 0;
    }
    return cast_fail(err, pos, to, in, NULL);
}

/* Stores (v, s) into out as `to` (a numeric type with static or per-value scale, or integer). */
static int numeric_to(i128 v, int s, sql_type to, int pos, sql_value *out, factdb_error *err)
{
    switch (to.id) {
    case TY_NUMERIC:
        if (to.scale < 0) {
            out->n = v;
            out->nscale = (int8_t)s;
            return 0;
        } else {
            i128 r;
            if (n128_rescale(v, s, to.scale, &r))
                return range_fail(err, pos, to);
            int prec = to.prec ? to.prec : 18;
            i128 lim = p10(prec);
            if (r >= lim || r <= -lim)
                return sql_err(err, FACTDB_INVALID_VALUE, pos,
                               "numeric field overflow: a field with precision %d, scale %d must round to an absolute "
                               "value less than 10^%d",
                               prec, to.scale, prec - to.scale);
            out->i = (int64_t)r;
            return 0;
        }
    case TY_INT:
    case TY_BIGINT: {
        i128 r;
        if (n128_rescale(v, s, 0, &r))
            return range_fail(err, pos, to);
        if (to.id == TY_INT ? (r < INT32_MIN || r > INT32_MAX) : (r < INT64_MIN || r > INT64_MAX))
            return sql_err(err, FACTDB_INVALID_VALUE, pos, "%s out of range", to.id == TY_INT ? "integer" : "bigint");
        out->i = (int64_t)r;
        return 0;
    }
    }
    return FACTDB_INTERNAL;
}

int exec_cast_value(const sql_value *in, sql_type to, int pos, sql_arena *a, sql_value *out, factdb_error *err)
{
    sql_value r;
    memset(&r, 0, sizeof r);
    r.type = to;
    if (in->null) {
        r.null = true;
        *out = r;
        return 0;
    }
    int rc = 0;
    uint8_t from = in->type.id;
    char tb[32], fb[32];
    if (to.id == TY_TEXT || to.id == TY_UNKNOWN) {
        if (from == TY_TEXT || from == TY_UNKNOWN) {
            r.s = in->s;
        } else {
            char buf[128];
            size_t l = exec_format_value(in, buf, sizeof buf);
            char *p = sql_arena_strndup(a, buf, l);
            if (!p)
                return sql_err(err, FACTDB_LIMIT, pos, "out of memory for text values");
            r.s.p = p;
            r.s.len = l;
        }
        *out = r;
        return 0;
    }
    if (from == TY_TEXT || from == TY_UNKNOWN) {
        rc = cast_from_text(in, to, pos, a, &r, err);
        if (!rc)
            *out = r;
        return rc;
    }
    switch (to.id) {
    case TY_BOOL:
        if (from == TY_BOOL) r.i = in->i;
        else if (from == TY_INT || from == TY_BIGINT) r.i = in->i != 0;
        else goto nocast;
        break;
    case TY_INT:
    case TY_BIGINT:
    case TY_NUMERIC:
        if (from == TY_BOOL) {
            if (to.id == TY_NUMERIC)
                goto nocast;
            r.i = in->i;
        } else if (from == TY_INT || from == TY_BIGINT || from == TY_NUMERIC) {
            i128 n;
            int s;
            as_n128(in, &n, &s);
            rc = numeric_to(n, s, to, pos, &r, err);
        } else if (from == TY_DOUBLE) {
            double d = in->d;
            if (isnan(d) || isinf(d)) {
                if (to.id == TY_NUMERIC)
                    return sql_err(err, FACTDB_INVALID_VALUE, pos, "cannot convert %s to numeric in factdb", isnan(d) ? "NaN" : "infinity");
                return range_fail(err, pos, to);
            }
            if (to.id != TY_NUMERIC) {
                double rd = rint(d);  /* PostgreSQL rounds half to even here */
                if (to.id == TY_INT ? (rd < -2147483648.0 || rd > 2147483647.0) : (rd < -9223372036854775808.0 || rd >= 9223372036854775808.0))
                    return sql_err(err, FACTDB_INVALID_VALUE, pos, "%s out of range", to.id == TY_INT ? "integer" : "bigint");
                r.i = (int64_t)rd;
            } else {
                /* through 15 significant digits, as PostgreSQL's float8 -> numeric */
                char buf[64];
                snprintf(buf, sizeof buf, "%.15g", d);
                sql_value t = {.type = {TY_TEXT, 0, 0}, .s = {buf, strlen(buf)}};
                rc = cast_from_text(&t, to, pos, a, &r, err);
            }
        } else {
            goto nocast;
        }
        break;
    case TY_DOUBLE:
        if (from == TY_INT || from == TY_BIGINT || from == TY_NUMERIC || from == TY_DOUBLE) r.d = as_double(in);
        else goto nocast;
        break;
    case TY_DATE:
        if (from == TY_DATE) r.i = in->i;
        else if (from == TY_TIMESTAMP || from == TY_TIMESTAMPTZ) r.i = base_floor_div(in->i, 86400000000LL);
        else goto nocast;
        break;
    case TY_TIMESTAMP:
    case TY_TIMESTAMPTZ:
        /* with the session time zone UTC, timestamp <-> timestamptz keeps the microseconds */
        if (from == TY_TIMESTAMP || from == TY_TIMESTAMPTZ) r.i = in->i;
        else if (from == TY_DATE) r.i = in->i * 86400000000LL;
        else goto nocast;
        break;
    case TY_INTERVAL:
        if (from == TY_INTERVAL) r.iv = in->iv;
        else goto nocast;
        break;
    default:
        goto nocast;
    }
    if (!rc)
        *out = r;
    return rc;
nocast:
    return sql_err(err, FACTDB_INVALID_ARGUMENT, pos, "cannot cast type %s to %s", sql_type_name(in->type, fb, sizeof fb),
                   sql_type_name(to, tb, sizeof tb));
}
