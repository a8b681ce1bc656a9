/* test_ingest.c: the loader's value forms (date/timestamp formats, decimal comma) and delimiter detection,
 * below the CLI: edge cases that a process-level test would only reach one by one. */
#include "ingest/ingest.h"
#include <criterion/criterion.h>
#include <string.h>

static int64_t date_of(const char *fmt, const char *s, int *bad, char *why)
{
    int64_t v = 0;
    *bad = ingest_format_parse(fmt, s, strlen(s), &v, false, why, 200);
    return v;
}

Test(format, dates_in_local_orders)
{
    char why[200];
    int bad;
    int64_t jan31 = base_days_from_civil(2024, 1, 31);
    cr_expect_eq(date_of("%d/%m/%Y", "31/01/2024", &bad, why), jan31);
    cr_expect_eq(bad, 0);
    cr_expect_eq(date_of("%d.%m.%Y", "31.1.2024", &bad, why), jan31);  /* one digit is fine */
    cr_expect_eq(bad, 0);
    cr_expect_eq(date_of("%m/%d/%Y", "01/31/2024", &bad, why), jan31);
    cr_expect_eq(date_of("%Y-%m-%d", "2024-01-31", &bad, why), jan31);
    cr_expect_eq(date_of("%Y%m%d", "20240131", &bad, why), jan31);
    cr_expect_eq(date_of("%d %% %m %y", "31 % 01 24", &bad, why), jan31);
    cr_expect_eq(bad, 0);
    cr_expect_eq(date_of("%d/%m/%y", "1/1/69", &bad, why), base_days_from_civil(1969, 1, 1));
    cr_expect_eq(date_of("%d/%m/%y", "1/1/68", &bad, why), base_days_from_civil(2068, 1, 1));
    cr_expect_eq(date_of("%d/%m/%Y", "29/02/2024", &bad, why), base_days_from_civil(2024, 2, 29));
    cr_expect_eq(bad, 0);
}

Test(format, dates_that_do_not_match)
{
    char why[200];
    int bad;
    static const struct {
        const char *fmt, *s, *why;
    } cases[] = {
        {"%d/%m/%Y", "2024-01-31", "expected '/' at character 3"},
        {"%d/%m/%Y", "31/01/24", "expected the 4-digit year (%Y, 4 digits) at character 7"},
        {"%d/%m/%Y", "31/01/2024x", "unexpected text at character 11"},
        {"%d/%m/%Y", "31/01", "the value ends where the format has more text"},
        {"%d/%m/%Y", "/01/2024", "expected the day (%d) at character 1"},
        {"%d/%m/%Y", "29/02/2023", "day 29 is out of range for month 2 of 2023"},
        {"%d/%m/%Y", "01/13/2024", "month 13 is out of range 1..12"},
        {"%d/%m/%Y", "01/01/0000", "date out of range"},
        {"%d/%m/%Y", "", "expected the day (%d) at character 1"},
        {"%d\xc2\xb7%m\xc2\xb7%Y", "01.01.2024", "the text at character 3 differs from the format"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        date_of(cases[i].fmt, cases[i].s, &bad, why);
        cr_expect_eq(bad, -1, "%s", cases[i].s);
        cr_expect(strstr(why, cases[i].why) != NULL, "%s: %s", cases[i].s, why);
    }
}

Test(format, timestamps)
{
    char why[200];
    int64_t v;
    const char *f = "%d/%m/%Y %H:%M:%S.%f";
    cr_assert_eq(ingest_format_parse(f, "31/01/2024 10:30:15.25", 22, &v, true, why, sizeof why), 0, "%s", why);
    cr_expect_eq(v, base_days_from_civil(2024, 1, 31) * 86400000000LL + (10 * 3600 + 30 * 60 + 15) * 1000000LL + 250000);
    cr_expect_eq(ingest_format_parse(f, "31/01/2024 24:00:00.0", 21, &v, true, why, sizeof why), -1);
    cr_expect(strstr(why, "out of range") != NULL, "%s", why);
    cr_expect_eq(ingest_format_parse(f, "31/01/2024 10:30:15.1234567", 27, &v, true, why, sizeof why), -1);
}

Test(format, checks)
{
    char why[300];
    cr_expect_eq(ingest_format_check("%d/%m/%Y", false, why, sizeof why), 0);
    cr_expect_eq(ingest_format_check("%d/%m/%Y %H:%M", true, why, sizeof why), 0);
    cr_expect_eq(ingest_format_check("%d/%m/%Y %H:%M:%S.%f", true, why, sizeof why), 0);
    static const struct {
        const char *fmt;
        bool ts;
        const char *why;
    } bad[] = {
        {"", false, "1 to 64 characters"},
        {"%d/%m", false, "needs %d, %m and one of %Y or %y"},
        {"%d/%m/%Y/%y", false, "needs %d, %m and one of %Y or %y"},
        {"%d/%m/%Y%H", false, "is a time of day"},
        {"%d/%m/%Y %j", false, "%j is not supported"},
        {"%d/%m/%Y\xff", false, "not valid UTF-8"},
        {"%d/%m/%Y %H", true, "needs %H and %M"},
        {"%d/%m/%Y %H:%M:%M", true, "has %M twice"},
        {"%d/%m/%Y %H:%M%", true, "lone %"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(ingest_format_check(bad[i].fmt, bad[i].ts, why, sizeof why), -1, "%s", bad[i].fmt);
        cr_expect(strstr(why, bad[i].why) != NULL, "%s: %s", bad[i].fmt, why);
    }
}

static const char *dc(const char *s, char *out)
{
    size_t n;
    char why[200];
    if (ingest_decimal_comma(s, strlen(s), out, 64, &n, why, sizeof why))
        return NULL;
    cr_expect_eq(n, strlen(out));
    return out;
}

Test(decimal_comma, accepted_and_refused)
{
    char out[64];
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"12,50", "12.50"}, {"-0,25", "-0.25"}, {"1.234,5", "1234.5"}, {"1.234.567", "1234567"},
        {"+999.000,001", "+999000.001"}, {"7", "7"}, {"1,5e3", "1.5e3"}, {"abc", "abc"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const char *got = dc(ok[i].in, out);
        cr_expect(got && !strcmp(got, ok[i].out), "%s -> %s", ok[i].in, got ? got : "(refused)");
    }
    static const char *const refused[] = {"12.50", "1234.567", "1.23,4", ".5", "1.234.56", "1,2,3", "1,2.3",
                                          "1.234x"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cr_expect(dc(refused[i], out) == NULL, "%s", refused[i]);
    char big[300];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cr_expect(dc(big, out) == NULL);  /* longer than the output */
}

static char detect(const char *text, bool header, bool decimal_comma, int *rc)
{
    ingest_input in = {.data = (const unsigned char *)text, .len = strlen(text), .name = "test"};
    factdb_error err;
    char d = 0;
    *rc = ingest_detect_delim(&in, header, decimal_comma, &d, &err);
    return d;
}

Test(sniff, delimiters)
{
    int rc;
    cr_expect_eq(detect("a,b\n1,2\n", true, false, &rc), ',');
    cr_expect_eq(detect("a;b\n1;2,5\n", true, false, &rc), ';');
    cr_expect_eq(detect("a\tb\n1\t2\n", true, false, &rc), '\t');
    cr_expect_eq(detect("a|b\n1|2\n", true, false, &rc), '|');
    cr_expect_eq(detect("\"a;b\",c\n\"x;y\",1\n", true, false, &rc), ',');  /* quotes respected */
    cr_expect_eq(detect("a;b,c;d\n1;2,3;4\n", true, false, &rc), ';');      /* more fields win a tie */
    cr_expect_eq(detect("a,b;c\n1,2;3\n4,5\n", true, false, &rc), ',');     /* consistency first */
    cr_expect_eq(detect("word\nhello\n", true, false, &rc), ',');
    cr_expect_eq(rc, 0);
    cr_expect_eq(detect("", true, false, &rc), ',');
    cr_expect_eq(detect("1,5;2,5\n3,5;4,5\n", false, true, &rc), ';');
    cr_expect_eq(detect("x\n1,5\n", true, true, &rc), ';');
    detect("name\n1;2\n3;4\n", true, false, &rc);
    cr_expect_eq(rc, FACTDB_BAD_CSV);
    cr_expect_eq(detect("name\n1;2\n3;4\n", false, false, &rc), ',');  /* no header: nothing to blame */
    cr_expect_eq(rc, 0);
}
