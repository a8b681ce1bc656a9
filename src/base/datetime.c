/* datetime.c: proleptic Gregorian dates as days since 1970-01-01 and timestamps as microseconds
 * since 1970-01-01 00:00:00: wall-clock time for timestamp, UTC for timestamptz (the session time zone
 * is always UTC, so the two differ only in how offsets in their text are read and in the "+00" printed). The civil<->days conversions follow Howard Hinnant's
 * published algorithms (public domain description, written here from the paper). */
#include "base.h"
#include <stdio.h>
#include <string.h>

int64_t base_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void base_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static int digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int base_days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int base_parse_date(const char *s, size_t len, int32_t *out, const char **why)
{
    unsigned y, m, d;
    if (len != 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) || digits(s + 5, 2, &m) ||
        digits(s + 8, 2, &d)) {
        *why = "expected a date as YYYY-MM-DD";
        return -1;
    }
    if (m < 1 || m > 12) {
        *why = "month out of range 1..12";
        return -1;
    }
    if (d < 1 || (int)d > base_days_in_month((int)y, (int)m)) {
        *why = "day out of range for its month";
        return -1;
    }
    if (y == 0) {
        *why = BASE_DATE_RANGE_ERROR;  /* year 0 does not exist (1 BC) and BC is not supported */
        return -1;
    }
    *out = (int32_t)base_days_from_civil(y, m, d);
    return 0;
}

/* Parses an offset after a timestamp: Z, +HH, +HH:MM, +HHMM or +HH:MM:SS (or -), as PostgreSQL reads
 * them; *secs is east of UTC. Returns 0, or -1: with *why set when the offset is out of range, untouched
 * when it is not an offset at all (the caller then lists the accepted forms). */
static int parse_offset(const char *s, size_t len, int32_t *secs, const char **why)
{
    if (len == 1 && (s[0] == 'Z' || s[0] == 'z')) {
        *secs = 0;
        return 0;
    }
    unsigned hh, mm = 0, ss = 0;
    if (len < 3 || (s[0] != '+' && s[0] != '-') || digits(s + 1, 2, &hh))
        return -1;
    bool form = len == 3 || (len == 5 && !digits(s + 3, 2, &mm)) ||
                (len == 6 && s[3] == ':' && !digits(s + 4, 2, &mm)) ||
                (len == 9 && s[3] == ':' && s[6] == ':' && !digits(s + 4, 2, &mm) && !digits(s + 7, 2, &ss));
    if (!form)
        return -1;
    if (hh > 15 || mm > 59 || ss > 59) {
        *why = "time zone displacement out of range (offsets run from -15:59:59 to +15:59:59)";
        return -1;
    }
    int32_t v = (int32_t)(hh * 3600 + mm * 60 + ss);
    *secs = s[0] == '-' ? -v : v;
    return 0;
}

/* The one parser of the timestamp text form: *local_us is the wall-clock time as written (not range
 * checked: rounding the 7th fractional digit may carry past 9999-12-31), *offset the offset when
 * *has_offset. Fractional digits beyond 6 round half to even, as PostgreSQL's rint() does. */
static int parse_ts_parts(const char *s, size_t len, int64_t *local_us, int32_t *offset, bool *has_offset,
                          const char **why)
{
    int32_t days;
    *has_offset = false;
    *why = NULL;
    if (len < 10 || base_parse_date(s, 10, &days, why)) {
        if (len >= 10 && *why && (*why)[0] != 'e')
            return -1;
        goto bad;
    }
    int64_t us = (int64_t)days * 86400000000LL;
    if (len == 10) {
        *local_us = us;
        return 0;
    }
    unsigned hh, mi, ss = 0, frac = 0;
    size_t p;
    if ((s[10] != ' ' && s[10] != 'T' && s[10] != 't') || len < 16 || digits(s + 11, 2, &hh) || s[13] != ':' ||
        digits(s + 14, 2, &mi))
        goto bad;
    p = 16;
    bool round_up = false;
    if (p < len && s[p] == ':') {
        if (len < p + 3 || digits(s + p + 1, 2, &ss))
            goto bad;
        p += 3;
        if (p < len && s[p] == '.') {
            size_t k = 0;
            int first_extra = -1;  /* the 7th digit */
            bool more = false;     /* a non-zero digit after it */
            p++;
            while (p < len && s[p] >= '0' && s[p] <= '9') {
                if (k < 6) {
                    frac = frac * 10 + (unsigned)(s[p] - '0');
                    k++;
                } else if (first_extra < 0) {
                    first_extra = s[p] - '0';
                } else if (s[p] != '0') {
                    more = true;
                }
                p++;
            }
            if (k == 0)
                goto bad;
            for (; k < 6; k++)
                frac *= 10;
            round_up = first_extra > 5 || (first_extra == 5 && (more || frac % 2));
        }
    }
    while (p < len && s[p] == ' ')  /* PostgreSQL also reads "18:40:00 +02:00" */
        p++;
    if (p < len) {
        if (parse_offset(s + p, len - p, offset, why)) {
            if (*why)
                return -1;
            goto bad;
        }
        *has_offset = true;
    }
    if (hh > 23 || mi > 59 || ss > 59) {
        *why = "time of day out of range";
        return -1;
    }
    *local_us = us + ((int64_t)hh * 3600 + mi * 60 + ss) * 1000000LL + frac + round_up;
    return 0;
bad:
    *why = BASE_TS_FORMS;
    return -1;
}

int base_parse_timestamp(const char *s, size_t len, int64_t *out, const char **why)
{
    int32_t off;
    bool has_off;
    if (parse_ts_parts(s, len, out, &off, &has_off, why))
        return -1;
    if (!base_ts_in_range(*out)) {
        *why = BASE_TS_RANGE_ERROR;
        return -1;
    }
    return 0;
}

int base_parse_timestamptz(const char *s, size_t len, int64_t *out, bool *has_offset, const char **why)
{
    int32_t off = 0;
    bool has_off;
    if (parse_ts_parts(s, len, out, &off, &has_off, why))
        return -1;
    if (has_off)
        *out -= (int64_t)off * 1000000;
    if (has_offset)
        *has_offset = has_off;
    if (!base_ts_in_range(*out)) {
        *why = BASE_TS_RANGE_ERROR;
        return -1;
    }
    return 0;
}

size_t base_format_date(int32_t days, char *buf, size_t cap)
{
    int y;
    unsigned m, d;
    base_civil_from_days(days, &y, &m, &d);
    int n = snprintf(buf, cap, "%04d-%02u-%02u", y, m, d);
    return n < 0 ? 0 : MIN((size_t)n, cap - 1);
}

size_t base_format_timestamp(int64_t us, char *buf, size_t cap)
{
    int64_t days = us / 86400000000LL, rem = us % 86400000000LL;
    if (rem < 0) {
        rem += 86400000000LL;
        days--;
    }
    int y;
    unsigned m, d;
    base_civil_from_days(days, &y, &m, &d);
    int64_t secs = rem / 1000000, frac = rem % 1000000;
    int n = snprintf(buf, cap, "%04d-%02u-%02u %02d:%02d:%02d", y, m, d, (int)(secs / 3600),
                     (int)(secs / 60 % 60), (int)(secs % 60));
    if (n > 0 && frac && (size_t)n < cap) {
        char f[8];
        snprintf(f, sizeof f, "%06d", (int)frac);
        int k = 6;
        while (k > 0 && f[k - 1] == '0')
            k--;
        f[k] = 0;
        n += snprintf(buf + n, cap - (size_t)n, ".%s", f);
    }
    return n < 0 ? 0 : MIN((size_t)n, cap - 1);
}

size_t base_format_timestamptz(int64_t us, char *buf, size_t cap)
{
    size_t n = base_format_timestamp(us, buf, cap);
    if (n + 3 < cap) {
        memcpy(buf + n, "+00", 4);
        n += 3;
    }
    return n;
}
