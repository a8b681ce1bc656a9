/* test_base.c: UTF-8 validation, dates, numbers and formatting of the base layer. */
#include "base/base.h"
#include <criterion/criterion.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t valid(const char *s) { return base_utf8_valid_prefix((const unsigned char *)s, strlen(s)); }

Test(utf8, accepts_and_rejects)
{
    cr_expect_eq(valid("plain ascii text, longer than eight"), 35);
    cr_expect_eq(valid("Forl\xc3\xac"), 6);
    cr_expect_eq(valid("Forl\xec"), 4);             /* Latin-1 byte */
    cr_expect_eq(valid("\xc0\xaf"), 0);             /* overlong */
    cr_expect_eq(valid("a\xed\xa0\x80"), 1);        /* surrogate */
    cr_expect_eq(valid("\xf4\x90\x80\x80"), 0);     /* above U+10FFFF */
    cr_expect_eq(valid("ab\xe2\x82"), 2);           /* truncated sequence */
    cr_expect_eq(valid("\xf0\x9f\x98\x80!"), 5);    /* emoji */
}

Test(utf8, rejects_nul_bytes)
{
    /* text never holds NUL: at every position, in the 8-byte ASCII fast path and after it */
    char buf[40];
    for (size_t at = 0; at < sizeof buf; at++) {
        memset(buf, 'a', sizeof buf);
        buf[at] = 0;
        cr_expect_eq(base_utf8_valid_prefix((const unsigned char *)buf, sizeof buf), at, "NUL at %zu", at);
    }
    cr_expect_eq(base_utf8_valid_prefix((const unsigned char *)"\xc3\xac\0x", 4), 2);
}

static const char *cmap(const char *s, int upper)
{
    static char out[256];
    size_t n = base_utf8_case_map(s, strlen(s), upper, out);
    out[n] = 0;
    return out;
}

/* PostgreSQL 15 with a C.UTF-8 ctype gives these (lower()/upper()), under any process locale. */
Test(utf8, case_mapping_latin_greek_cyrillic)
{
    setlocale(LC_ALL, "C");
    cr_expect_str_eq(cmap("ÀÉÎŐŒΣΑΒΓДЖЯİK", 0), "àéîőœσαβγджяik");
    cr_expect_str_eq(cmap("àéîőœσςαβγджяıßÿ", 1), "ÀÉÎŐŒΣΣΑΒΓДЖЯIßŸ");
    cr_expect_str_eq(cmap("ǆⱥ", 1), "ǄȺ");
    cr_expect_str_eq(cmap("Ⱥ", 0), "ⱥ");    /* 2 bytes -> 3 bytes */
    cr_expect_str_eq(cmap("MiXeD 123 ×÷", 0), "mixed 123 ×÷");
    cr_expect_str_eq(cmap("bad \xff byte", 1), "BAD \xff BYTE");  /* not UTF-8: copied */
    cr_expect_str_eq(cmap("cut \xc3", 1), "CUT \xc3");
    cr_expect_eq(base_case_map_char(0x1F600, 1), 0x1F600);
}

Test(dates, supported_range_is_what_the_text_form_expresses)
{
    int32_t d;
    int64_t t;
    const char *why;
    char buf[40];
    cr_assert_eq(base_parse_date("0001-01-01", 10, &d, &why), 0);
    cr_expect_eq(d, BASE_DATE_MIN);
    cr_assert_eq(base_parse_date("9999-12-31", 10, &d, &why), 0);
    cr_expect_eq(d, BASE_DATE_MAX);
    cr_expect_neq(base_parse_date("0000-12-31", 10, &d, &why), 0);
    cr_expect(strstr(why, "date out of range"), "%s", why);
    cr_expect_neq(base_parse_timestamp("0000-12-31 23:59:59", 19, &t, &why), 0);
    cr_expect(strstr(why, "out of range"), "%s", why);
    cr_assert_eq(base_parse_timestamp("9999-12-31 23:59:59.999999", 26, &t, &why), 0);
    cr_expect_eq(t, BASE_TS_MAX);
    base_format_timestamp(BASE_TS_MIN, buf, sizeof buf);
    cr_expect_str_eq(buf, "0001-01-01 00:00:00");
    cr_expect(base_date_in_range(BASE_DATE_MAX) && !base_date_in_range(BASE_DATE_MAX + 1));
    cr_expect(base_date_in_range(BASE_DATE_MIN) && !base_date_in_range(BASE_DATE_MIN - 1));
    cr_expect(base_ts_in_range(BASE_TS_MIN) && !base_ts_in_range(BASE_TS_MIN - 1) && !base_ts_in_range(BASE_TS_MAX + 1));
}

Test(dates, roundtrip_and_errors)
{
    int32_t d;
    const char *why;
    cr_assert_eq(base_parse_date("1970-01-01", 10, &d, &why), 0);
    cr_expect_eq(d, 0);
    cr_assert_eq(base_parse_date("2024-02-29", 10, &d, &why), 0);
    char buf[32];
    base_format_date(d, buf, sizeof buf);
    cr_expect_str_eq(buf, "2024-02-29");
    cr_expect_neq(base_parse_date("2023-02-29", 10, &d, &why), 0);
    cr_expect_neq(base_parse_date("2024-13-45", 10, &d, &why), 0);
    cr_expect_neq(base_parse_date("2024-1-5", 8, &d, &why), 0);
    for (int32_t x = -719000; x < 2900000; x += 997) /* years 0..9999 */ {
        base_format_date(x, buf, sizeof buf);
        cr_assert_eq(base_parse_date(buf, strlen(buf), &d, &why), 0, "%s", buf);
        cr_assert_eq(d, x);
    }
}

Test(timestamps, parse_and_format)
{
    int64_t t;
    const char *why;
    const char *s = "2024-01-31 12:34:56.5";
    cr_assert_eq(base_parse_timestamp(s, strlen(s), &t, &why), 0);
    char buf[40];
    base_format_timestamp(t, buf, sizeof buf);
    cr_expect_str_eq(buf, "2024-01-31 12:34:56.5");
    s = "1969-12-31 23:59:59";
    cr_assert_eq(base_parse_timestamp(s, strlen(s), &t, &why), 0);
    cr_expect_eq(t, -1000000);
    base_format_timestamp(t, buf, sizeof buf);
    cr_expect_str_eq(buf, "1969-12-31 23:59:59");
    s = "2024-01-31T25:00:00";
    cr_expect_neq(base_parse_timestamp(s, strlen(s), &t, &why), 0);
    s = "2024-01-31";
    cr_assert_eq(base_parse_timestamp(s, strlen(s), &t, &why), 0);
}

Test(timestamps, iso_8601_as_apps_write_it)
{
    /* Python isoformat(), JavaScript toISOString(), PostgreSQL's offset forms */
    static const struct { const char *s; int64_t tz_us, ts_us; bool off; } ok[] = {
        {"2026-11-29T18:40:00.123456+00:00", 1795977600123456LL, 1795977600123456LL, true},
        {"2026-11-29T18:40:00.123Z", 1795977600123000LL, 1795977600123000LL, true},
        {"2026-11-29T18:40:00", 1795977600000000LL, 1795977600000000LL, false},
        {"2026-11-29T18:40:00+02", 1795970400000000LL, 1795977600000000LL, true},
        {"2026-11-29 18:40:00-0130", 1795983000000000LL, 1795977600000000LL, true},
        {"2026-11-29t18:40:00 +02:30:15", 1795968585000000LL, 1795977600000000LL, true},
        {"2026-11-29 18:40:00.0000015z", 1795977600000002LL, 1795977600000002LL, true},  /* half to even */
        {"2026-11-29 18:40:00.0000025", 1795977600000002LL, 1795977600000002LL, false},
        {"2026-11-29 23:59:59.99999951", 1795996800000000LL, 1795996800000000LL, false},
    };
    for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
        int64_t t;
        bool off = !ok[i].off;
        const char *why = NULL;
        cr_assert_eq(base_parse_timestamptz(ok[i].s, strlen(ok[i].s), &t, &off, &why), 0, "%s: %s", ok[i].s, why);
        cr_expect_eq(t, ok[i].tz_us, "%s", ok[i].s);
        cr_expect_eq(off, ok[i].off, "%s", ok[i].s);
        cr_assert_eq(base_parse_timestamp(ok[i].s, strlen(ok[i].s), &t, &why), 0, "%s: %s", ok[i].s, why);
        cr_expect_eq(t, ok[i].ts_us, "%s", ok[i].s);
    }
    static const char *bad[] = {"2026-11-29T18:40:00+", "2026-11-29T18:40:00+16", "2026-11-29T18:40:00+02:60",
                                "2026-11-29T18:40:00 CET", "2026-11-29T18:40:00+2", "2026-11-29T18:40:00Zz",
                                "2026-11-29T18:40:00+02:0", "2026-11-29X18:40:00", "9999-12-31 23:00:00-02",
                                "9999-12-31 23:59:59.9999999"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int64_t t;
        const char *why = NULL;
        cr_expect_neq(base_parse_timestamptz(bad[i], strlen(bad[i]), &t, NULL, &why), 0, "%s", bad[i]);
        cr_expect(why != NULL, "%s", bad[i]);
    }
    char buf[48];
    base_format_timestamptz(1795977600123000LL, buf, sizeof buf);
    cr_expect_str_eq(buf, "2026-11-29 18:40:00.123+00");
    cr_expect_eq(base_floor_div(-1, 86400000000LL), -1);
    cr_expect_eq(base_floor_div(-86400000000LL, 86400000000LL), -1);
    cr_expect_eq(base_floor_div(0, 86400000000LL), 0);
}

Test(numbers, decimal_exact)
{
    int64_t v;
    const char *why;
    cr_assert_eq(base_parse_decimal("123.45", 6, 10, 2, &v, &why), 0);
    cr_expect_eq(v, 12345);
    cr_assert_eq(base_parse_decimal("-0.5", 4, 10, 2, &v, &why), 0);
    cr_expect_eq(v, -50);
    cr_assert_eq(base_parse_decimal("1.005", 5, 10, 2, &v, &why), 0);
    cr_expect_eq(v, 101);  /* rounds half away from zero, as PostgreSQL */
    cr_expect_neq(base_parse_decimal("123456789.123", 13, 10, 2, &v, &why), 0);
    cr_expect_neq(base_parse_decimal("12a", 3, 10, 2, &v, &why), 0);
    char buf[40];
    base_format_decimal(-5, 2, buf, sizeof buf);
    cr_expect_str_eq(buf, "-0.05");
}

Test(numbers, integers_and_doubles)
{
    int64_t v;
    double d;
    const char *why;
    cr_assert_eq(base_parse_int64("-9223372036854775808", 20, &v, &why), 0);
    cr_expect_eq(v, INT64_MIN);
    cr_expect_neq(base_parse_int64("9223372036854775808", 19, &v, &why), 0);
    cr_expect_neq(base_parse_int64("12x", 3, &v, &why), 0);
    cr_assert_eq(base_parse_double("1e3", 3, &d, &why), 0);
    cr_expect_eq(d, 1000.0);
    cr_expect_neq(base_parse_double("0x10", 4, &d, &why), 0);
    cr_expect_neq(base_parse_double("1e999", 5, &d, &why), 0);
    /* as PostgreSQL's float8in: a value that rounds to zero is out of range too; subnormals are kept */
    why = NULL;
    cr_expect_neq(base_parse_double("1e-400", 6, &d, &why), 0);
    cr_expect(why && strstr(why, "out of range"));
    cr_assert_eq(base_parse_double("4e-320", 6, &d, &why), 0);
    cr_expect(d > 0 && d < 1e-307);
    cr_assert_eq(base_parse_double("0e-400", 6, &d, &why), 0);
    cr_expect_eq(d, 0.0);
    char buf[40];
    base_format_double(0.1, buf, sizeof buf);
    cr_expect_str_eq(buf, "0.1");
    base_format_double(1.0 / 3, buf, sizeof buf);
    cr_assert_eq(base_parse_double(buf, strlen(buf), &d, &why), 0);
    cr_expect_eq(d, 1.0 / 3);
}

Test(numbers, double_fast_path_matches_strtod)
{
    const char *cases[] = {"0.1", "123.45", "-7.05", "99999.99", "0.000001", "123456789012345", "1.2345678901234",
                           "-0.0", "3", "12345678901234567", "0.30000000000000004"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double d;
        const char *why;
        cr_assert_eq(base_parse_double(cases[i], strlen(cases[i]), &d, &why), 0);
        cr_expect_eq(d, strtod(cases[i], NULL), "%s", cases[i]);
    }
    char buf[32];
    for (int i = 0; i < 200000; i++) {
        snprintf(buf, sizeof buf, "%d.%02d", i * 37 % 100000, i % 100);
        double d;
        const char *why;
        cr_assert_eq(base_parse_double(buf, strlen(buf), &d, &why), 0);
        cr_assert_eq(d, strtod(buf, NULL), "%s", buf);
    }
}

Test(pool, big_buffers_come_back_and_stay_usable)
{
    /* a grouping's arrays of 2 MiB or more return to the pool with MADV_FREE; the next query of the same
     * size gets the same block back, and it must read and write like fresh memory */
    size_t size = (size_t)6 << 20;
    unsigned char *p = base_pool_get(size);
    cr_assert(p);
    cr_expect_eq((uintptr_t)p % ((uintptr_t)2 << 20), 0, "2 MiB-aligned");
    memset(p, 0xab, size);
    base_pool_put(p, size);
    unsigned char *q = base_pool_get(size);
    cr_expect_eq(q, p, "the same block is handed out again");
    memset(q, 0x5c, size);
    for (size_t i = 0; i < size; i += 4096)
        cr_assert_eq(q[i], 0x5c);
    base_pool_put(q, size);
    unsigned char *small = base_pool_get(1000);
    cr_assert(small);
    memset(small, 1, 1000);
    base_pool_put(small, 1000);
}

Test(pool, a_smaller_request_reuses_a_block_up_to_twice_its_size)
{
    size_t big = (size_t)8 << 20, half = (size_t)5 << 20, tiny = (size_t)3 << 20;
    unsigned char *p = base_pool_get(big);
    cr_assert(p);
    memset(p, 1, big);
    base_pool_put(p, big);
    unsigned char *t = base_pool_get(tiny);  /* more than twice smaller: a block of its own */
    cr_expect_neq(t, p);
    unsigned char *q = base_pool_get(half);
    cr_expect_eq(q, p, "5 MiB reuses the 8 MiB block");
    memset(q, 2, half);
    base_pool_put(q, half);
    base_pool_put(t, tiny);
}
