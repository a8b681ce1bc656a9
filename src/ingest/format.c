/* format.c: the value forms of European CSV exports: dates and timestamps in a user-given strptime-style
 * format (--date-format, --timestamp-format) and numbers with a decimal comma (--decimal-comma). A
 * format is checked once (ingest_format_check) and then interpreted directly for every value: it is a
 * handful of characters, so there is nothing to gain from compiling it. */
#include "ingest.h"
#include <stdio.h>
#include <string.h>

/* The specifiers a format may use, what each reads, and how many digits (min..max). */
typedef struct spec {
    char c;
    const char *what;
    int min, max;
    bool time;
} spec;

static const spec SPECS[] = {
    {'d', "day", 1, 2, false},    {'m', "month", 1, 2, false},  {'Y', "4-digit year", 4, 4, false},
    {'y', "2-digit year", 2, 2, false}, {'H', "hour", 1, 2, true}, {'M', "minute", 1, 2, true},
    {'S', "second", 1, 2, true},  {'f', "fraction of a second", 1, 6, true},
};

static const spec *find_spec(char c)
{
    for (size_t i = 0; i < sizeof SPECS / sizeof SPECS[0]; i++)
        if (SPECS[i].c == c)
            return &SPECS[i];
    return NULL;
}

int ingest_format_check(const char *fmt, bool timestamp, char *why, size_t cap)
{
    const char *opt = timestamp ? "--timestamp-format" : "--date-format";
    unsigned seen = 0;  /* bit per SPECS entry */
    size_t n = strlen(fmt);
    if (n == 0 || n > INGEST_FORMAT_MAX) {
        snprintf(why, cap, "%s must be 1 to %d characters long", opt, INGEST_FORMAT_MAX);
        return -1;
    }
    if (base_utf8_valid_prefix((const unsigned char *)fmt, n) != n) {
        snprintf(why, cap, "%s is not valid UTF-8 text", opt);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (fmt[i] != '%')
            continue;
        if (i + 1 == n) {
            snprintf(why, cap, "%s \"%s\" ends with a lone %%; write %%%% for a literal %%", opt, fmt);
            return -1;
        }
        char c = fmt[++i];
        if (c == '%')
            continue;
        const spec *s = find_spec(c);
        if (!s) {
            snprintf(why, cap,
                     "%s \"%s\": %%%c is not supported; use %%d %%m %%Y %%y%s and literal characters", opt, fmt,
                     (unsigned char)c >= 0x20 && (unsigned char)c < 0x7f ? c : '?',
                     timestamp ? " %H %M %S %f" : "");
            return -1;
        }
        if (s->time && !timestamp) {
            snprintf(why, cap, "%s \"%s\": %%%c is a time of day; a date has none (use --timestamp-format for "
                     "timestamp columns)", opt, fmt, c);
            return -1;
        }
        unsigned bit = 1u << (s - SPECS);
        if (seen & bit) {
            snprintf(why, cap, "%s \"%s\" has %%%c twice", opt, fmt, c);
            return -1;
        }
        seen |= bit;
    }
#define HAS(c) (seen & (1u << (find_spec(c) - SPECS)))
    if (!HAS('d') || !HAS('m') || !(HAS('Y') || HAS('y')) || (HAS('Y') && HAS('y'))) {
        snprintf(why, cap, "%s \"%s\" needs %%d, %%m and one of %%Y or %%y", opt, fmt);
        return -1;
    }
    if (timestamp && (!HAS('H') || !HAS('M'))) {
        snprintf(why, cap, "%s \"%s\" needs %%H and %%M (a timestamp has a time of day)", opt, fmt);
        return -1;
    }
    if (HAS('f') && !HAS('S')) {
        snprintf(why, cap, "%s \"%s\" has %%f without %%S", opt, fmt);
        return -1;
    }
#undef HAS
    return 0;
}

int ingest_format_parse(const char *fmt, const char *s, size_t len, int64_t *out, bool timestamp, char *why,
                        size_t cap)
{
    int v[128] = {0};  /* value per specifier character */
    int yy = -1;
    size_t p = 0;
    for (const char *f = fmt; *f; f++) {
        if (*f != '%' || f[1] == '%') {
            if (*f == '%')
                f++;
            if (p >= len || s[p] != *f) {
                /* Quote the expected character only when it is one byte of UTF-8 on its own. */
                bool ascii = (unsigned char)*f >= 0x20 && (unsigned char)*f < 0x7f;
                if (p >= len)
                    snprintf(why, cap, "the value ends where the format has more text");
                else if (ascii)
                    snprintf(why, cap, "expected '%c' at character %zu", *f, p + 1);
                else
                    snprintf(why, cap, "the text at character %zu differs from the format", p + 1);
                return -1;
            }
            p++;
            continue;
        }
        const spec *sp = find_spec(*++f);
        int k = 0, x = 0;
        while (k < sp->max && p + (size_t)k < len && s[p + (size_t)k] >= '0' && s[p + (size_t)k] <= '9') {
            x = x * 10 + (s[p + (size_t)k] - '0');
            k++;
        }
        if (k < sp->min) {
            if (sp->min == sp->max)
                snprintf(why, cap, "expected the %s (%%%c, %d digits) at character %zu", sp->what, sp->c, sp->min,
                         p + 1);
            else
                snprintf(why, cap, "expected the %s (%%%c) at character %zu", sp->what, sp->c, p + 1);
            return -1;
        }
        if (sp->c == 'f')
            for (int j = k; j < 6; j++)
                x *= 10;
        p += (size_t)k;
        v[(unsigned char)sp->c] = x;
        if (sp->c == 'y')
            yy = x;
    }
    if (p != len) {
        snprintf(why, cap, "unexpected text at character %zu", p + 1);
        return -1;
    }
    /* POSIX strptime's pivot for %y: 69..99 are 1969..1999, 00..68 are 2000..2068. */
    int y = yy >= 0 ? (yy >= 69 ? 1900 + yy : 2000 + yy) : v['Y'];
    int m = v['m'], d = v['d'];
    if (m < 1 || m > 12) {
        snprintf(why, cap, "month %d is out of range 1..12", m);
        return -1;
    }
    if (y == 0) {
        snprintf(why, cap, "%s", BASE_DATE_RANGE_ERROR);
        return -1;
    }
    if (d < 1 || d > base_days_in_month(y, m)) {
        snprintf(why, cap, "day %d is out of range for month %d of %d", d, m, y);
        return -1;
    }
    int64_t days = base_days_from_civil(y, (unsigned)m, (unsigned)d);
    if (!timestamp) {
        *out = days;
        return 0;
    }
    if (v['H'] > 23 || v['M'] > 59 || v['S'] > 59) {
        snprintf(why, cap, "time of day %02d:%02d:%02d is out of range (00:00:00 to 23:59:59)", v['H'], v['M'],
                 v['S']);
        return -1;
    }
    *out = days * 86400000000LL + ((int64_t)v['H'] * 3600 + v['M'] * 60 + v['S']) * 1000000LL + v['f'];
    return 0;
}

int ingest_decimal_comma(const char *s, size_t len, char *out, size_t cap, size_t *outlen, char *why, size_t wcap)
{
    size_t i = 0, o = 0;
    if (len >= cap) {
        snprintf(why, wcap, "longer than %zu characters", cap - 1);
        return -1;
    }
    if (i < len && (s[i] == '-' || s[i] == '+'))
        out[o++] = s[i++];
    /* The integer part: digits, or groups of three digits separated by '.' after a first group of 1 to 3
     * (1.234.567). Anything else with a '.' is refused: with a decimal comma a '.' can only group. */
    size_t group = 0, ngroups = 0, last_dot = 0;
    bool dotted = false;
    for (; i < len && s[i] != ','; i++) {
        char c = s[i];
        if (c == '.') {
            if (group == 0 || (ngroups == 0 && group > 3) || (ngroups > 0 && group != 3))
                goto not_grouping;
            dotted = true;
            ngroups++;
            group = 0;
            last_dot = i;
            continue;
        }
        if (c >= '0' && c <= '9')
            group++;
        else if (dotted) {
            snprintf(why, wcap, "a thousands-grouped number has a character other than a digit at character %zu",
                     i + 1);
            return -1;
        }
        out[o++] = c;
    }
    if (dotted && group != 3) {
        i = last_dot;
        goto not_grouping;
    }
    if (i < len) {  /* the decimal comma */
        out[o++] = '.';
        for (i++; i < len; i++) {
            if (s[i] == ',' || s[i] == '.') {
                snprintf(why, wcap, "unexpected '%c' at character %zu after the decimal comma", s[i], i + 1);
                return -1;
            }
            out[o++] = s[i];
        }
    }
    out[o] = 0;
    *outlen = o;
    return 0;
not_grouping:
    snprintf(why, wcap, "the '.' at character %zu is not a decimal point with --decimal-comma (write 12,50): '.' "
             "may only separate groups of three digits, as in 1.234,50", i + 1);
    return -1;
}
