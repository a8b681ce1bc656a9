/* num.c: locale-independent number parsing and formatting. Decimals are parsed exactly into scaled
 * 64-bit integers; doubles go through strtod_l/snprintf in the C locale, so a host program that calls
 * setlocale() cannot change how factdb reads "3.5". */
#include "base.h"
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

const int64_t base_pow10[19] = {1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL,
                                100000000LL, 1000000000LL, 10000000000LL, 100000000000LL,
                                1000000000000LL, 10000000000000LL, 100000000000000LL,
                                1000000000000000LL, 10000000000000000LL, 100000000000000000LL,
                                1000000000000000000LL};

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

int base_parse_int64(const char *s, size_t len, int64_t *out, const char **why)
{
    size_t i = 0;
    int neg = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == len) {
        *why = "expected an integer";
        return -1;
    }
    uint64_t v = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9) {
            *why = "expected an integer";
            return -1;
        }
        if (v > (UINT64_MAX - d) / 10) {
            *why = "integer out of range";
            return -1;
        }
        v = v * 10 + d;
    }
    if ((!neg && v > (uint64_t)INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1)) {
        *why = "integer out of range for bigint";
        return -1;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int base_parse_decimal(const char *s, size_t len, int precision, int scale, int64_t *out, const char **why)
{
    size_t i = 0;
    int neg = 0, seen = 0, intdigits = 0, fracdigits = 0, dot = 0;
    int64_t v = 0;
    int round_up = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.' && !dot) {
            dot = 1;
            continue;
        }
        if (c < '0' || c > '9') {
            *why = "expected a number";
            return -1;
        }
        seen = 1;
        if (!dot) {
            if (v == 0 && c == '0')
                continue;  /* leading zeros do not count as digits */
            intdigits++;
            if (intdigits > precision - scale) {
                *why = "too many digits before the decimal point for this numeric(p,s)";
                return -1;
            }
            v = v * 10 + (c - '0');
        } else if (fracdigits < scale) {
            fracdigits++;
            v = v * 10 + (c - '0');
        } else if (fracdigits == scale) {
            /* PostgreSQL rounds extra fractional digits half away from zero. */
            round_up = c >= '5';
            fracdigits++;
        }
    }
    if (!seen) {
        *why = "expected a number";
        return -1;
    }
    for (int k = MIN(fracdigits, scale); k < scale; k++)
        v *= 10;
    if (round_up) {
        v++;
        if (v >= base_pow10[precision]) {
            *why = "value out of range for this numeric(p,s) after rounding";
            return -1;
        }
    }
    *out = neg ? -v : v;
    return 0;
}

int base_parse_double(const char *s, size_t len, double *out, const char **why)
{
    char tmp[64];
    *why = "expected a number";
    if (len == 0 || len >= sizeof tmp)
        return -1;
    /* Accept only decimal forms and the PostgreSQL spellings of the special values; strtod alone
     * would also take hex floats and "infinityxyz" prefixes. */
    size_t i = 0;
    if (s[0] == '+' || s[0] == '-')
        i++;
    size_t rest = len - i;
    if ((rest == 8 && !strncasecmp(s + i, "infinity", 8)) || (rest == 3 && !strncasecmp(s + i, "inf", 3))) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (rest == 3 && !strncasecmp(s + i, "nan", 3) && i == 0) {
        *out = NAN;
        return 0;
    }
    int digits = 0, dot = 0;
    for (; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits++;
        else if (s[i] == '.' && !dot)
            dot = 1;
        else if ((s[i] == 'e' || s[i] == 'E') && digits) {
            i++;
            if (i < len && (s[i] == '+' || s[i] == '-'))
                i++;
            if (i == len)
                return -1;
            for (; i < len; i++)
                if (s[i] < '0' || s[i] > '9')
                    return -1;
            break;
        } else
            return -1;
    }
    if (!digits)
        return -1;
    /* Clinger's fast path: a plain decimal with at most 15 significant digits is m / 10^k with m and
     * 10^k exact doubles, and IEEE division rounds correctly, so the result equals strtod's. */
    {
        const char *q = s;
        int neg = 0, k = 0, nd = 0, after = 0, simple = 1;
        uint64_t m = 0;
        if (*q == '+' || *q == '-')
            neg = *q++ == '-';
        for (; q < s + len; q++) {
            if (*q == '.') {
                after = 1;
            } else if (*q >= '0' && *q <= '9') {
                if (m || *q != '0')
                    nd++;
                m = m * 10 + (uint64_t)(*q - '0');
                k += after;
                if (nd > 15) {
                    simple = 0;
                    break;
                }
            } else {
                simple = 0;  /* an exponent: leave it to strtod */
                break;
            }
        }
        if (simple && k <= 22) {
            static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                         1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
            double d = (double)m / p10[k];
            *out = neg ? -d : d;
            return 0;
        }
    }
    memcpy(tmp, s, len);
    tmp[len] = 0;
    pthread_once(&c_locale_once, c_locale_init);
    errno = 0;
    *out = strtod_l(tmp, NULL, c_locale);
    /* as PostgreSQL: beyond the largest double, or so small that it rounds to zero (subnormals are kept) */
    if (isinf(*out) || (errno == ERANGE && *out == 0)) {
        *why = "number out of range for double precision";
        return -1;
    }
    return 0;
}

int base_parse_bool(const char *s, size_t len, uint8_t *out)
{
    static const char *const t[] = {"true", "t", "yes", "y", "on", "1"};
    static const char *const f[] = {"false", "f", "no", "n", "off", "0"};
    for (size_t i = 0; i < ARRAY_LEN(t); i++) {
        if (strlen(t[i]) == len && !strncasecmp(s, t[i], len)) {
            *out = 1;
            return 0;
        }
        if (strlen(f[i]) == len && !strncasecmp(s, f[i], len)) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

size_t base_format_decimal(int64_t v, int scale, char *buf, size_t cap)
{
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    uint64_t ip = u / (uint64_t)base_pow10[scale], fp = u % (uint64_t)base_pow10[scale];
    int n;
    if (scale)
        n = snprintf(buf, cap, "%s%llu.%0*llu", v < 0 ? "-" : "", (unsigned long long)ip, scale,
                     (unsigned long long)fp);
    else
        n = snprintf(buf, cap, "%s%llu", v < 0 ? "-" : "", (unsigned long long)ip);
    return n < 0 ? 0 : MIN((size_t)n, cap - 1);
}

size_t base_format_double(double v, char *buf, size_t cap)
{
    if (isnan(v))
        return (size_t)snprintf(buf, cap, "NaN");
    if (isinf(v))
        return (size_t)snprintf(buf, cap, v < 0 ? "-Infinity" : "Infinity");
    pthread_once(&c_locale_once, c_locale_init);
    locale_t old = uselocale(c_locale);
    /* The fewest significant digits that read back exactly, printed as PostgreSQL does: positional
     * notation for decimal exponents -4..14, else d.ddde+XX. */
    int prec = 1;
    char tmp[64];
    for (; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod_l(tmp, NULL, c_locale) == v)
            break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
    int exp10 = atoi(strchr(tmp, 'e') + 1);
    int n;
    if (exp10 >= -4 && exp10 < 15)
        n = snprintf(buf, cap, "%.*f", prec - 1 - exp10 > 0 ? prec - 1 - exp10 : 0, v);
    else
        n = snprintf(buf, cap, "%s", tmp);
    uselocale(old);
    return n < 0 ? 0 : MIN((size_t)n, cap - 1);
}

uint64_t base_hash(const void *p, size_t len) { return XXH3_64bits(p, len); }

void base_buf_init(base_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->limit = limit;
}

void base_buf_cleanup(base_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int base_buf_reserve(base_buf *b, size_t extra)
{
    if (extra > b->limit || b->len > b->limit - extra)
        return FACTDB_LIMIT;
    if (b->len + extra <= b->cap)
        return FACTDB_OK;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + extra)
        nc *= 2;
    if (nc > b->limit)
        nc = b->limit;
    unsigned char *p = realloc(b->data, nc);
    if (!p)
        return FACTDB_NOMEM;
    b->data = p;
    b->cap = nc;
    return FACTDB_OK;
}

int base_buf_append(base_buf *b, const void *p, size_t n)
{
    int rc = base_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return FACTDB_OK;
}
