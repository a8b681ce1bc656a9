/* test_enc.c: every encoding round-trips, is chosen where it is smallest, and detects damage. */
#include "enc/enc.h"
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void roundtrip(factdb_type type, const int64_t *vals, const uint8_t *valid, uint32_t n, int want_enc)
{
    base_buf b;
    base_buf_init(&b, 1 << 26);
    enc_header h, h2;
    cr_assert_eq(enc_encode(type, vals, valid, n, &b, &h), 0);
    if (want_enc)
        cr_expect_eq(h.encoding, want_enc, "encoding %d, wanted %d", h.encoding, want_enc);
    const char *why;
    cr_assert_eq(enc_read_header(b.data, b.len, &h2, &why), 0);
    cr_assert_eq(enc_verify(b.data, b.len), 0);
    int64_t *out = malloc(n * 8 + 8);
    uint8_t *ov = malloc(n + 1);
    enc_decode_wide(b.data, &h2, out, ov);
    for (uint32_t i = 0; i < n; i++) {
        int v = valid ? valid[i] : 1;
        cr_assert_eq(ov[i], v, "validity of row %u", i);
        if (v)
            cr_assert_eq(out[i], vals[i], "row %u: %lld != %lld", i, (long long)out[i], (long long)vals[i]);
    }
    /* Flip one payload byte: the checksum must notice. */
    if (b.len > ENC_HEADER_BYTES) {
        b.data[b.len - 1] ^= 0x40;
        cr_expect_neq(enc_verify(b.data, b.len), 0);
    }
    free(out);
    free(ov);
    base_buf_cleanup(&b);
}

Test(enc, constant_rle_bitpack_plain)
{
    enum { N = 65536 };
    int64_t *v = malloc(N * 8);
    uint8_t *valid = malloc(N);
    for (int i = 0; i < N; i++)
        v[i] = 42;
    roundtrip(FACTDB_BIGINT, v, NULL, N, ENC_CONST);
    for (int i = 0; i < N; i++)
        v[i] = i / 5000;
    roundtrip(FACTDB_INTEGER, v, NULL, N, ENC_RLE);
    for (int i = 0; i < N; i++)
        v[i] = 1000000 + (i * 7919) % 1000;
    roundtrip(FACTDB_DECIMAL, v, NULL, N, ENC_BITPACK);
    for (int i = 0; i < N; i++)
        v[i] = (int64_t)((uint64_t)i * 0x9E3779B97F4A7C15ull);
    roundtrip(FACTDB_BIGINT, v, NULL, N, 0);
    for (int i = 0; i < N; i++) {
        double d = i * 0.37;
        memcpy(&v[i], &d, 8);
        valid[i] = i % 3 != 0;
    }
    roundtrip(FACTDB_DOUBLE, v, valid, N, ENC_PLAIN);
    for (int i = 0; i < N; i++) {
        double d = (double)(199 + i % 9000) / 100.0;  /* prices: exactly cents */
        memcpy(&v[i], &d, 8);
    }
    roundtrip(FACTDB_DOUBLE, v, valid, N, ENC_SCALED);
    roundtrip(FACTDB_DOUBLE, v, NULL, N, ENC_SCALED);
    for (int i = 0; i < N; i++)
        v[i] = 19000 + i % 700;
    roundtrip(FACTDB_DATE, v, valid, N, ENC_BITPACK);
    for (int i = 0; i < N; i++)
        v[i] = i % 2;
    roundtrip(FACTDB_BOOLEAN, v, NULL, N, ENC_BITPACK);
    for (int i = 0; i < N; i++)
        v[i] = i % 2 ? INT64_MAX : INT64_MIN;
    roundtrip(FACTDB_BIGINT, v, NULL, N, 0);
    memset(valid, 0, N);
    roundtrip(FACTDB_TEXT, v, valid, N, ENC_CONST);
    free(v);
    free(valid);
}

Test(enc, small_and_odd_sizes)
{
    int64_t v[130];
    for (uint32_t n = 1; n < 130; n += 7) {
        for (uint32_t i = 0; i < n; i++)
            v[i] = (int64_t)(i * i) - 50;
        roundtrip(FACTDB_BIGINT, v, NULL, n, 0);
        roundtrip(FACTDB_TIMESTAMP, v, NULL, n, 0);
    }
}

Test(enc, rejects_bad_headers)
{
    unsigned char junk[64] = {9};
    enc_header h;
    const char *why;
    cr_expect_neq(enc_read_header(junk, sizeof junk, &h, &why), 0);
    cr_expect_neq(enc_read_header(junk, 10, &h, &why), 0);
}

Test(enc, doubles_never_bitpacked_raw)
{
    /* Exact decimals whose scaled form is not small enough must stay plain, never raw bit-packed. */
    enum { N = 4096 };
    int64_t v[N];
    for (int i = 0; i < N; i++) {
        double d = (double)((int64_t)i * 7777777777LL % 100000000000LL) / 1000.0;
        memcpy(&v[i], &d, 8);
    }
    roundtrip(FACTDB_DOUBLE, v, NULL, N, ENC_PLAIN);
}

/* The per-width unpacking (64 generated functions per output width) for every width, with the
 * extremes present so the width is exactly w, block-aligned and ragged lengths, and NULLs. */
Test(enc, bitpack_every_width)
{
    enum { N = 1000 };
    int64_t *v = malloc(N * sizeof *v);
    uint8_t valid[N];
    uint64_t seed = 88172645463325252ull;
    for (unsigned w = 1; w <= 63; w++) {
        const int64_t ref = w < 40 ? -12345 : -((int64_t)1 << 40);
        const uint64_t span = (w == 64 ? ~0ull : (1ull << w) - 1);
        for (uint32_t i = 0; i < N; i++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            v[i] = (int64_t)((uint64_t)ref + seed % (span + 1));
            valid[i] = (seed >> 40) % 11 != 0;
        }
        v[3] = ref;
        v[700] = (int64_t)((uint64_t)ref + span);
        valid[3] = valid[700] = 1;
        for (uint32_t n = 192; n <= N; n += N - 192) {
            roundtrip(FACTDB_BIGINT, v, NULL, n, ENC_BITPACK);
            roundtrip(FACTDB_BIGINT, v, valid, n, 0);
            if (w <= 31 && ref >= INT32_MIN) {
                roundtrip(FACTDB_INTEGER, v, NULL, n, ENC_BITPACK);
                roundtrip(FACTDB_DATE, v, valid, n, 0);
            }
        }
    }
    free(v);
}

/* Doubles that are exact decimals are stored scaled; every width of the scaled integers reads back. */
Test(enc, scaled_doubles_every_width)
{
    enum { N = 777 };
    int64_t *v = malloc(N * sizeof *v);
    uint64_t seed = 1234567;
    for (unsigned w = 2; w <= 40; w++) {
        for (uint32_t i = 0; i < N; i++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            double d = (double)((int64_t)(seed % ((1ull << w) - 1)) - 1000) / 100.0;
            memcpy(&v[i], &d, 8);
        }
        roundtrip(FACTDB_DOUBLE, v, NULL, N, 0);
    }
    free(v);
}

/* Ascending integers without NULLs are stored as steps; every width of step, steps that wrap past the
 * ends of int64 and of int32, and a constant step (width 0) come back exactly. */
Test(enc, delta_every_width_and_wrapping_steps)
{
    enum { N = 65536 };
    int64_t *v = malloc(N * 8);
    srand(11);
    for (unsigned width = 0; width <= 40; width++) {
        int64_t x = -5000000000LL;
        for (int i = 0; i < N; i++) {
            v[i] = x;
            x += 3 + (width ? (int64_t)((((uint64_t)rand() << 31) ^ (uint64_t)rand()) & ((1ull << width) - 1)) : 0);
        }
        roundtrip(FACTDB_BIGINT, v, NULL, N, ENC_DELTA);
    }
    /* sorted keys that repeat, as a fact table's order key: steps 0..25 */
    for (int i = 0; i < N; i++)
        v[i] = 1000000 + (i / 4) * 26 + (i % 4 == 0 ? i % 26 : 0);
    roundtrip(FACTDB_BIGINT, v, NULL, N, ENC_DELTA);
    /* 32-bit types (dates) and dictionary codes */
    for (int i = 0; i < N; i++)
        v[i] = 18000 + i / 30;
    roundtrip(FACTDB_DATE, v, NULL, N, ENC_DELTA);
    for (int i = 0; i < N; i++)
        v[i] = 3000000000LL + i;
    roundtrip(FACTDB_TEXT, v, NULL, N, 0);
    /* steps that overflow: INT64_MIN, INT64_MAX, back, in turns; and the same for int32 */
    for (int i = 0; i < 1000; i++)
        v[i] = i % 3 == 0 ? INT64_MIN : i % 3 == 1 ? INT64_MAX : 0;
    roundtrip(FACTDB_BIGINT, v, NULL, 1000, 0);
    for (int i = 0; i < 1000; i++)
        v[i] = i % 2 ? INT32_MIN : INT32_MAX;
    roundtrip(FACTDB_INTEGER, v, NULL, 1000, 0);
    /* two rows; with a NULL it is never chosen */
    int64_t two[2] = {5, 9};
    roundtrip(FACTDB_BIGINT, two, NULL, 2, 0);
    uint8_t valid[N];
    for (int i = 0; i < N; i++) {
        v[i] = i;
        valid[i] = i != 77;
    }
    base_buf b;
    base_buf_init(&b, 1 << 26);
    enc_header h;
    cr_assert_eq(enc_encode(FACTDB_BIGINT, v, valid, N, &b, &h), 0);
    cr_assert_neq(h.encoding, ENC_DELTA);
    base_buf_cleanup(&b);
    free(v);
}

/* A delta header on a column it cannot describe (doubles, NULLs, one row) is damage, not a decoding. */
Test(enc, delta_headers_that_cannot_be)
{
    int64_t v[100];
    for (int i = 0; i < 100; i++)
        v[i] = i * 1000 + i % 7;
    base_buf b;
    base_buf_init(&b, 1 << 20);
    enc_header h;
    cr_assert_eq(enc_encode(FACTDB_BIGINT, v, NULL, 100, &b, &h), 0);
    cr_assert_eq(h.encoding, ENC_DELTA);
    const char *why;
    unsigned char *raw = b.data;
    raw[1] = FACTDB_DOUBLE;
    cr_assert_neq(enc_read_header(raw, b.len, &h, &why), 0);
    raw[1] = FACTDB_BOOLEAN;
    cr_assert_neq(enc_read_header(raw, b.len, &h, &why), 0);
    raw[1] = FACTDB_BIGINT;
    cr_assert_eq(enc_read_header(raw, b.len, &h, &why), 0);
    uint32_t one = 1;
    memcpy(raw + 8, &one, 4);  /* nulls */
    cr_assert_neq(enc_read_header(raw, b.len, &h, &why), 0);
    base_buf_cleanup(&b);
}

/* Values whose distances from the minimum share a factor are stored as multiples of it: whole quantities
 * in a numeric(15,2), timestamps at whole seconds, with NULLs, 4-byte types, and factors that wrap. */
Test(enc, factor_multiples_with_nulls_and_wrapping)
{
    enum { N = 65536 };
    int64_t *v = malloc(N * 8);
    uint8_t *valid = malloc(N);
    srand(12);
    for (int i = 0; i < N; i++) {
        v[i] = 100 * (1 + rand() % 50);  /* 1.00 .. 50.00 */
        valid[i] = i % 11 != 0;
    }
    roundtrip(FACTDB_DECIMAL, v, NULL, N, ENC_FACTOR);
    roundtrip(FACTDB_DECIMAL, v, valid, N, ENC_FACTOR);
    for (int i = 0; i < N; i++)
        v[i] = 1700000000000000LL + (int64_t)(rand() % 86400) * 1000000;  /* a day of whole seconds, in us */
    roundtrip(FACTDB_TIMESTAMP, v, NULL, N, ENC_FACTOR);
    for (int i = 0; i < N; i++)
        v[i] = -1000000 + (rand() % 1000) * 7;
    roundtrip(FACTDB_INTEGER, v, valid, N, ENC_FACTOR);
    /* INT64_MIN and INT64_MAX - 2^32 + 1: a distance above 2^63, a multiple of 2^32 - 1 */
    for (int i = 0; i < N; i++)
        v[i] = i % 3 ? INT64_MIN : (int64_t)((uint64_t)INT64_MIN + 0xFFFFFFFFull * (uint64_t)(0x80000000u + i % 5));
    roundtrip(FACTDB_BIGINT, v, NULL, N, 0);
    /* a factor of 1 in the last row spoils it */
    for (int i = 0; i < N; i++)
        v[i] = i == N - 1 ? 301 : 100 * (i % 40);
    roundtrip(FACTDB_BIGINT, v, NULL, N, ENC_BITPACK);
    free(v);
    free(valid);
}
