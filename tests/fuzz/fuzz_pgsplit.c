/* fuzz_pgsplit.c: libFuzzer target for pg_split (src/pg/script.c), which cuts a /v1/sql script into the
 * statements the PostgreSQL backend sends one by one. The input is the script, in an exact-size buffer (not
 * NUL-terminated, so ASan sees any over-read), split with and without backslash escapes in plain strings.
 * Invariants: the statements lie inside the input, in order, without overlapping; each holds a byte that
 * is not white space; what lies between two statements starts with the `;` that ended the first. */
#include "fuzz_common.h"
#include "pg/pg_int.h"

static void check(const char *s, size_t len, bool backslash)
{
    pg_stmt *st;
    size_t n;
    if (pg_split(s, len, backslash, &st, &n))
        return;  /* out of memory */
    size_t end = 0;
    for (size_t i = 0; i < n; i++) {
        if (st[i].start < end || st[i].start > len || st[i].len > len - st[i].start || !st[i].len)
            abort();
        if (i && s[end] != ';')
            abort();
        bool token = false;
        for (size_t k = st[i].start; k < st[i].start + st[i].len && !token; k++)
            token = !strchr(" \t\n\r\f\v", s[k]) || !s[k];
        if (!token)
            abort();
        end = st[i].start + st[i].len;
    }
    free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_copy(data, size);
    if (!s)
        return 0;
    check(s, size, false);
    check(s, size, true);
    free(s);
    return 0;
}
