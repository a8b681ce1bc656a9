/* enc.c: plain, constant, run-length and frame-of-reference bit-packed column encodings. Invariant: a
 * blob's checksum (XXH3 over header bytes 0..47 and the payload) is computed last, so a torn or
 * modified blob never verifies. */
#include "enc.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

size_t enc_type_width(factdb_type type)
{
    switch (type) {
    case FACTDB_BOOLEAN: return 1;
    case FACTDB_INTEGER: case FACTDB_DATE: case FACTDB_TEXT: return 4;
    default: return 8;
    }
}

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static unsigned bits_for(uint64_t range)
{
    unsigned w = 0;
    while (w < 64 && (range >> w))
        w++;
    return w;
}

static const double P10[] = {1e0, 1e1, 1e2, 1e3, 1e4};

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Finds the smallest k <= 4 such that every valid double is exactly some integer / 10^k; fills ints
 * (NULL slots get the minimum) and returns k, or -1. */
static int find_scale(const int64_t *vals, const uint8_t *valid, uint32_t n, int64_t *ints, int64_t *imin,
                      int64_t *imax)
{
    for (int k = 0; k < 5; k++) {
        int ok = 1, seen = 0;
        int64_t mn = 0, mx = 0;
        for (uint32_t i = 0; i < n && ok; i++) {
            if (valid && !valid[i])
                continue;
            double d, back;
            memcpy(&d, &vals[i], 8);
            double x = d * P10[k];
            if (!(x > -4e15 && x < 4e15)) {
                ok = 0;
                break;
            }
            int64_t iv = llround(x);
            back = (double)iv / P10[k];
            if (memcmp(&back, &d, 8) != 0) {
                ok = 0;
                break;
            }
            ints[i] = iv;
            if (!seen || iv < mn) mn = iv;
            if (!seen || iv > mx) mx = iv;
            seen = 1;
        }
        if (ok && seen) {
            for (uint32_t i = 0; valid && i < n; i++)
                if (!valid[i])
                    ints[i] = mn;
            *imin = mn;
            *imax = mx;
            return k;
        }
    }
    return -1;
}

static uint64_t checksum(const unsigned char *blob, size_t payload)
{
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, blob, 48);
    XXH3_64bits_update(&st, blob + ENC_HEADER_BYTES, payload);
    return XXH3_64bits_digest(&st);
}

static void store_plain(factdb_type type, const int64_t *vals, const uint8_t *valid, uint32_t n,
                        unsigned char *p)
{
    size_t w = enc_type_width(type);
    for (uint32_t i = 0; i < n; i++) {
        int64_t v = valid && !valid[i] ? 0 : vals[i];
        if (w == 1) {
            p[i] = (unsigned char)v;
        } else if (w == 4) {
            int32_t x = (int32_t)v;
            memcpy(p + 4 * (size_t)i, &x, 4);
        } else {
            memcpy(p + 8 * (size_t)i, &v, 8);
        }
    }
}

int enc_encode(factdb_type type, const int64_t *vals, const uint8_t *valid, uint32_t n, base_buf *out,
               enc_header *hdr)
{
    memset(hdr, 0, sizeof *hdr);
    const uint8_t *orig_valid = valid;
    hdr->type = (uint8_t)type;
    hdr->rows = n;
    int is_double = type == FACTDB_DOUBLE;
    int has_minmax = 0, has_nan = 0;
    int64_t mn = 0, mx = 0;
    double dmn = 0, dmx = 0;
    uint32_t nulls = 0, runs = 0;
    int64_t prev = 0;
    int prev_set = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (valid && !valid[i]) {
            nulls++;
            continue;
        }
        int64_t v = vals[i];
        if (!prev_set || v != prev)
            runs++;
        prev = v;
        prev_set = 1;
        if (is_double) {
            double d;
            memcpy(&d, &v, 8);
            if (isnan(d)) {
                has_nan = 1;
                continue;
            }
            if (!has_minmax || d < dmn) dmn = d;
            if (!has_minmax || d > dmx) dmx = d;
        } else {
            if (!has_minmax || v < mn) mn = v;
            if (!has_minmax || v > mx) mx = v;
        }
        has_minmax = 1;
    }
    if (is_double) {
        memcpy(&mn, &dmn, 8);
        memcpy(&mx, &dmx, 8);
    }
    hdr->nulls = nulls;
    hdr->min = mn;
    hdr->max = mx;
    hdr->flags = (uint8_t)((nulls ? ENC_FLAG_NULLS : 0) | (has_minmax && !has_nan ? ENC_FLAG_MINMAX : 0));
    size_t bitmap = nulls ? ((size_t)n + 63) / 64 * 8 : 0;
    size_t w = enc_type_width(type);
    size_t plain = (size_t)n * w;
    size_t rle = (size_t)runs * 12;
    unsigned width = 64;
    size_t packed = SIZE_MAX;
    if (!is_double && has_minmax) {
        width = bits_for((uint64_t)mx - (uint64_t)mn);
        packed = ((size_t)n * width + 63) / 64 * 8;
    }
    int64_t *ints = NULL;
    int scale_k = -1;
    int64_t imin = 0, imax = 0;
    if (is_double && has_minmax && !has_nan && runs > 1 && (ints = malloc((size_t)n * 8)) != NULL) {
        scale_k = find_scale(vals, valid, n, ints, &imin, &imax);
    }
    /* ENC_DELTA: integers without NULLs that mostly ascend (sorted keys, ids, times) as the first value, the
     * smallest step, then each step minus it bit-packed; steps wrap modulo 2^64 like the decoder's sums. */
    unsigned dwidth = 64;
    size_t dpacked = SIZE_MAX;
    int64_t dmin = 0;
    if (!is_double && !nulls && n >= 2 && w >= 4 && runs > 1) {
        int64_t dmax = INT64_MIN;
        dmin = INT64_MAX;
        for (uint32_t i = 1; i < n; i++) {
            int64_t d = (int64_t)((uint64_t)vals[i] - (uint64_t)vals[i - 1]);
            dmin = d < dmin ? d : dmin;
            dmax = d > dmax ? d : dmax;
        }
        dwidth = bits_for((uint64_t)dmax - (uint64_t)dmin);
        dpacked = 8 + ((size_t)(n - 1) * dwidth + 63) / 64 * 8;
    }
    /* ENC_FACTOR: integers whose distances from the minimum share a factor g > 1 (whole quantities in a
     * numeric(15,2): multiples of 100; timestamps at whole seconds: of 10^6) as bit-packed distance / g. */
    unsigned gwidth = 64;
    size_t gpacked = SIZE_MAX;
    uint64_t g = 0;
    if (!is_double && has_minmax && width > 1 && w >= 4) {
        for (uint32_t i = 0; i < n && g != 1; i++)
            if (!valid || valid[i])
                g = gcd64(g, (uint64_t)vals[i] - (uint64_t)mn);
        if (g > 1) {
            gwidth = bits_for(((uint64_t)mx - (uint64_t)mn) / g);
            gpacked = 8 + ((size_t)n * gwidth + 63) / 64 * 8;
        }
    }
    unsigned swidth = scale_k >= 0 ? bits_for((uint64_t)imax - (uint64_t)imin) : 64;
    size_t spacked = ((size_t)n * swidth + 63) / 64 * 8;
    size_t payload;
    if (scale_k >= 0 && spacked < plain / 2 && spacked <= rle) {
        hdr->encoding = ENC_SCALED;
        width = swidth;
        hdr->width = (uint8_t)width;
        hdr->reference = imin;
        hdr->exponent = (uint32_t)scale_k;
        payload = spacked;
        vals = ints;  /* packed below like integers */
        valid = NULL;
        mn = imin;
    } else if (runs <= 1) {
        hdr->encoding = ENC_CONST;
        hdr->reference = prev_set ? prev : 0;
        payload = 0;
    } else if (gpacked < packed && gpacked < dpacked && gpacked <= plain && gpacked <= rle) {
        hdr->encoding = ENC_FACTOR;
        width = gwidth;
        hdr->width = (uint8_t)width;
        hdr->reference = mn;
        payload = gpacked;
    } else if (dpacked < packed && dpacked <= plain && dpacked <= rle) {
        hdr->encoding = ENC_DELTA;
        width = dwidth;
        hdr->width = (uint8_t)width;
        hdr->reference = vals[0];
        payload = dpacked;
    } else if (packed <= plain && packed <= rle) {
        hdr->encoding = ENC_BITPACK;
        hdr->width = (uint8_t)width;
        hdr->reference = mn;
        payload = packed;
    } else if (rle < plain / 2) {
        hdr->encoding = ENC_RLE;
        payload = rle;
    } else {
        hdr->encoding = ENC_PLAIN;
        payload = (plain + 7) / 8 * 8;
    }
    payload += bitmap;
    hdr->payload_bytes = (uint32_t)payload;
    int rc = base_buf_reserve(out, ENC_HEADER_BYTES + payload);
    if (rc) {
        free(ints);
        return rc;
    }
    unsigned char *b = out->data + out->len;
    memset(b, 0, ENC_HEADER_BYTES + payload);
    unsigned char *p = b + ENC_HEADER_BYTES;
    if (nulls) {
        const uint8_t *vv = hdr->encoding == ENC_SCALED ? orig_valid : valid;
        for (uint32_t i = 0; i < n; i++)
            if (vv[i])
                p[i / 8] |= (unsigned char)(1u << (i % 8));
        p += bitmap;
    }
    if (hdr->encoding == ENC_DELTA || hdr->encoding == ENC_FACTOR) {
        put64(p, hdr->encoding == ENC_DELTA ? (uint64_t)dmin : g);
        p += 8;
    }
    if ((hdr->encoding == ENC_BITPACK || hdr->encoding == ENC_SCALED || hdr->encoding == ENC_DELTA ||
         hdr->encoding == ENC_FACTOR) && width) {
        uint64_t *words = (uint64_t *)(void *)p;  /* p is 8-aligned within the fresh buffer */
        bool delta = hdr->encoding == ENC_DELTA;
        uint64_t div = hdr->encoding == ENC_FACTOR ? g : 1;
        for (uint32_t i = 0; i < n - delta; i++) {
            uint64_t v = delta ? (uint64_t)vals[i + 1] - (uint64_t)vals[i] - (uint64_t)dmin
                         : valid && !valid[i] ? 0 : ((uint64_t)vals[i] - (uint64_t)mn) / div;
            size_t bit = (size_t)i * width, wi = bit / 64, off = bit % 64;
            uint64_t lo, hi;
            memcpy(&lo, &words[wi], 8);
            lo |= v << off;
            memcpy(&words[wi], &lo, 8);
            if (off + width > 64) {
                memcpy(&hi, &words[wi + 1], 8);
                hi |= v >> (64 - off);
                memcpy(&words[wi + 1], &hi, 8);
            }
        }
    } else if (hdr->encoding == ENC_RLE) {
        uint32_t r = 0;
        unsigned char *vp = p, *ep = p + (size_t)runs * 8;
        prev_set = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (valid && !valid[i])
                continue;
            if (!prev_set || vals[i] != prev) {
                if (prev_set)
                    put32(ep + 4 * (size_t)(r - 1), i);
                put64(vp + 8 * (size_t)r, (uint64_t)vals[i]);
                r++;
                prev = vals[i];
                prev_set = 1;
            }
        }
        put32(ep + 4 * (size_t)(r - 1), n);
        hdr->nruns = runs;
    } else if (hdr->encoding == ENC_PLAIN) {
        store_plain(type, vals, valid, n, p);
    }
    b[0] = hdr->encoding;
    b[1] = hdr->type;
    b[2] = hdr->width;
    b[3] = hdr->flags;
    put32(b + 4, hdr->rows);
    put32(b + 8, hdr->nulls);
    put32(b + 12, hdr->payload_bytes);
    put64(b + 16, (uint64_t)hdr->min);
    put64(b + 24, (uint64_t)hdr->max);
    put64(b + 32, (uint64_t)hdr->reference);
    put32(b + 40, hdr->nruns);
    put32(b + 44, hdr->exponent);
    free(ints);
    hdr->checksum = checksum(b, payload);
    put64(b + 48, hdr->checksum);
    out->len += ENC_HEADER_BYTES + payload;
    return FACTDB_OK;
}

int enc_read_header(const void *blob, size_t len, enc_header *hdr, const char **why)
{
    const unsigned char *b = blob;
    if (len < ENC_HEADER_BYTES) {
        *why = "column value shorter than its header";
        return -1;
    }
    hdr->encoding = b[0];
    hdr->type = b[1];
    hdr->width = b[2];
    hdr->flags = b[3];
    hdr->rows = get32(b + 4);
    hdr->nulls = get32(b + 8);
    hdr->payload_bytes = get32(b + 12);
    hdr->min = (int64_t)get64(b + 16);
    hdr->max = (int64_t)get64(b + 24);
    hdr->reference = (int64_t)get64(b + 32);
    hdr->nruns = get32(b + 40);
    hdr->exponent = get32(b + 44);
    hdr->checksum = get64(b + 48);
    if (hdr->type < FACTDB_BOOLEAN || hdr->type > FACTDB_TIMESTAMPTZ || hdr->rows > FACTDB_CHUNK_ROWS ||
        hdr->nulls > hdr->rows || hdr->width > 64) {
        *why = "column header has impossible values";
        return -1;
    }
    if ((size_t)hdr->payload_bytes != len - ENC_HEADER_BYTES) {
        *why = "column payload length differs from its header";
        return -1;
    }
    size_t bitmap = hdr->nulls ? ((size_t)hdr->rows + 63) / 64 * 8 : 0;
    size_t need;
    switch (hdr->encoding) {
    case ENC_PLAIN: need = ((size_t)hdr->rows * enc_type_width(hdr->type) + 7) / 8 * 8; break;
    case ENC_CONST: need = 0; break;
    case ENC_RLE: need = (size_t)hdr->nruns * 12; break;
    case ENC_BITPACK: need = ((size_t)hdr->rows * hdr->width + 63) / 64 * 8; break;
    case ENC_DELTA:
        if (hdr->type == FACTDB_DOUBLE || enc_type_width(hdr->type) < 4 || hdr->nulls || hdr->rows < 2) {
            *why = "delta encoding on a column it cannot hold";
            return -1;
        }
        need = 8 + ((size_t)(hdr->rows - 1) * hdr->width + 63) / 64 * 8;
        break;
    case ENC_FACTOR:
        if (hdr->type == FACTDB_DOUBLE || enc_type_width(hdr->type) < 4) {
            *why = "factor encoding on a column it cannot hold";
            return -1;
        }
        need = 8 + ((size_t)hdr->rows * hdr->width + 63) / 64 * 8;
        break;
    case ENC_SCALED:
        if (hdr->type != FACTDB_DOUBLE || hdr->exponent > 4) {
            *why = "scaled encoding on a non-double column or with a bad exponent";
            return -1;
        }
        need = ((size_t)hdr->rows * hdr->width + 63) / 64 * 8;
        break;
    default: *why = "unknown column encoding"; return -1;
    }
    if (need + bitmap != hdr->payload_bytes) {
        *why = "column payload size does not match its encoding";
        return -1;
    }
    return 0;
}

int enc_verify(const void *blob, size_t len)
{
    const unsigned char *b = blob;
    if (len < ENC_HEADER_BYTES)
        return -1;
    return checksum(b, len - ENC_HEADER_BYTES) == get64(b + 48) ? 0 : -1;
}

static void decode_valid(const unsigned char *bm, uint32_t n, uint8_t *valid)
{
    for (uint32_t i = 0; i < n; i++)
        valid[i] = (bm[i / 8] >> (i % 8)) & 1;
}

/* Writes value v at index i of out in the type's width. */
static inline void put_w(void *out, size_t w, size_t i, int64_t v)
{
    if (w == 8)
        ((int64_t *)out)[i] = v;
    else if (w == 4)
        ((int32_t *)out)[i] = (int32_t)v;
    else
        ((uint8_t *)out)[i] = (uint8_t)v;
}

/* Unpacking 64 values of a compile-time width: 64 values fill exactly `W` words, every shift is a
 * constant and the loop unrolls into straight-line code (about 4x faster than the generic loop). */
#define UNPACK_BODY(T)                                                                    \
    _Pragma("GCC unroll 64") for (unsigned i = 0; i < 64; i++)                            \
    {                                                                                     \
        const unsigned bit = i * W, wi = bit >> 6, off = bit & 63;                        \
        uint64_t v = get64(p + wi * 8) >> off;                                            \
        if (off + W > 64)                                                                 \
            v |= get64(p + wi * 8 + 8) << ((64 - off) & 63);                              \
        o[i] = (T)((uint64_t)ref + (v & (W == 64 ? ~0ull : ((1ull << (W & 63)) - 1))));   \
    }

static inline __attribute__((always_inline)) void unpack64_i64(const unsigned char *p, int64_t ref, int64_t *o,
                                                               const unsigned W)
{
    UNPACK_BODY(int64_t)
}

static inline __attribute__((always_inline)) void unpack64_i32(const unsigned char *p, int64_t ref, int32_t *o,
                                                               const unsigned W)
{
    UNPACK_BODY(int32_t)
}

#define UNPACK_FNS(W)                                                                                   \
    static void unpack_i64_##W(const unsigned char *p, int64_t ref, int64_t *o) { unpack64_i64(p, ref, o, W); } \
    static void unpack_i32_##W(const unsigned char *p, int64_t ref, int32_t *o) { unpack64_i32(p, ref, o, W); }
UNPACK_FNS(1)
UNPACK_FNS(2)
UNPACK_FNS(3)
UNPACK_FNS(4)
UNPACK_FNS(5)
UNPACK_FNS(6)
UNPACK_FNS(7)
UNPACK_FNS(8)
UNPACK_FNS(9)
UNPACK_FNS(10)
UNPACK_FNS(11)
UNPACK_FNS(12)
UNPACK_FNS(13)
UNPACK_FNS(14)
UNPACK_FNS(15)
UNPACK_FNS(16)
UNPACK_FNS(17)
UNPACK_FNS(18)
UNPACK_FNS(19)
UNPACK_FNS(20)
UNPACK_FNS(21)
UNPACK_FNS(22)
UNPACK_FNS(23)
UNPACK_FNS(24)
UNPACK_FNS(25)
UNPACK_FNS(26)
UNPACK_FNS(27)
UNPACK_FNS(28)
UNPACK_FNS(29)
UNPACK_FNS(30)
UNPACK_FNS(31)
UNPACK_FNS(32)
UNPACK_FNS(33)
UNPACK_FNS(34)
UNPACK_FNS(35)
UNPACK_FNS(36)
UNPACK_FNS(37)
UNPACK_FNS(38)
UNPACK_FNS(39)
UNPACK_FNS(40)
UNPACK_FNS(41)
UNPACK_FNS(42)
UNPACK_FNS(43)
UNPACK_FNS(44)
UNPACK_FNS(45)
UNPACK_FNS(46)
UNPACK_FNS(47)
UNPACK_FNS(48)
UNPACK_FNS(49)
UNPACK_FNS(50)
UNPACK_FNS(51)
UNPACK_FNS(52)
UNPACK_FNS(53)
UNPACK_FNS(54)
UNPACK_FNS(55)
UNPACK_FNS(56)
UNPACK_FNS(57)
UNPACK_FNS(58)
UNPACK_FNS(59)
UNPACK_FNS(60)
UNPACK_FNS(61)
UNPACK_FNS(62)
UNPACK_FNS(63)
UNPACK_FNS(64)
static void (*const UNPACK_I64[65])(const unsigned char *, int64_t, int64_t *) = {
    NULL,
    unpack_i64_1, unpack_i64_2, unpack_i64_3, unpack_i64_4, unpack_i64_5, unpack_i64_6, unpack_i64_7, unpack_i64_8,
    unpack_i64_9, unpack_i64_10, unpack_i64_11, unpack_i64_12, unpack_i64_13, unpack_i64_14, unpack_i64_15, unpack_i64_16,
    unpack_i64_17, unpack_i64_18, unpack_i64_19, unpack_i64_20, unpack_i64_21, unpack_i64_22, unpack_i64_23, unpack_i64_24,
    unpack_i64_25, unpack_i64_26, unpack_i64_27, unpack_i64_28, unpack_i64_29, unpack_i64_30, unpack_i64_31, unpack_i64_32,
    unpack_i64_33, unpack_i64_34, unpack_i64_35, unpack_i64_36, unpack_i64_37, unpack_i64_38, unpack_i64_39, unpack_i64_40,
    unpack_i64_41, unpack_i64_42, unpack_i64_43, unpack_i64_44, unpack_i64_45, unpack_i64_46, unpack_i64_47, unpack_i64_48,
    unpack_i64_49, unpack_i64_50, unpack_i64_51, unpack_i64_52, unpack_i64_53, unpack_i64_54, unpack_i64_55, unpack_i64_56,
    unpack_i64_57, unpack_i64_58, unpack_i64_59, unpack_i64_60, unpack_i64_61, unpack_i64_62, unpack_i64_63, unpack_i64_64};
static void (*const UNPACK_I32[65])(const unsigned char *, int64_t, int32_t *) = {
    NULL,
    unpack_i32_1, unpack_i32_2, unpack_i32_3, unpack_i32_4, unpack_i32_5, unpack_i32_6, unpack_i32_7, unpack_i32_8,
    unpack_i32_9, unpack_i32_10, unpack_i32_11, unpack_i32_12, unpack_i32_13, unpack_i32_14, unpack_i32_15, unpack_i32_16,
    unpack_i32_17, unpack_i32_18, unpack_i32_19, unpack_i32_20, unpack_i32_21, unpack_i32_22, unpack_i32_23, unpack_i32_24,
    unpack_i32_25, unpack_i32_26, unpack_i32_27, unpack_i32_28, unpack_i32_29, unpack_i32_30, unpack_i32_31, unpack_i32_32,
    unpack_i32_33, unpack_i32_34, unpack_i32_35, unpack_i32_36, unpack_i32_37, unpack_i32_38, unpack_i32_39, unpack_i32_40,
    unpack_i32_41, unpack_i32_42, unpack_i32_43, unpack_i32_44, unpack_i32_45, unpack_i32_46, unpack_i32_47, unpack_i32_48,
    unpack_i32_49, unpack_i32_50, unpack_i32_51, unpack_i32_52, unpack_i32_53, unpack_i32_54, unpack_i32_55, unpack_i32_56,
    unpack_i32_57, unpack_i32_58, unpack_i32_59, unpack_i32_60, unpack_i32_61, unpack_i32_62, unpack_i32_63, unpack_i32_64};

static void unpack_generic(const unsigned char *p, unsigned width, int64_t ref, uint32_t n, void *out, size_t w);

/* Scaled doubles: converts each block while it is still in L1 (the division is exact IEEE rounding). */
static void to_double(int64_t *v, uint32_t n, double div)
{
    double *d = (double *)(void *)v;
    for (uint32_t i = 0; i < n; i++)
        d[i] = (double)v[i] / div;
}

static void unpack_scaled(const unsigned char *p, unsigned width, int64_t ref, uint32_t n, double *out, double div)
{
    uint32_t full = width > 0 && width <= 64 ? n / 64 : 0;
    for (uint32_t b = 0; b < full; b++) {
        int64_t *o = (int64_t *)(void *)(out + (size_t)b * 64);
        UNPACK_I64[width](p + (size_t)b * width * 8, ref, o);
        to_double(o, 64, div);
    }
    int64_t *o = (int64_t *)(void *)(out + (size_t)full * 64);
    unpack_generic(p + (size_t)full * width * 8, width, ref, n - full * 64, o, 8);
    to_double(o, n - full * 64, div);
}

static void unpack(const unsigned char *p, unsigned width, int64_t ref, uint32_t n, void *out, size_t w)
{
    if (width > 0 && width <= 64 && (w == 8 || w == 4)) {
        uint32_t full = n / 64;
        for (uint32_t b = 0; b < full; b++) {
            if (w == 8)
                UNPACK_I64[width](p + (size_t)b * width * 8, ref, (int64_t *)out + (size_t)b * 64);
            else
                UNPACK_I32[width](p + (size_t)b * width * 8, ref, (int32_t *)out + (size_t)b * 64);
        }
        if (n % 64) {
            /* the last partial block: unpack from its own start with the generic loop */
            unsigned char *o = (unsigned char *)out + (size_t)full * 64 * w;
            unpack_generic(p + (size_t)full * width * 8, width, ref, n % 64, o, w);
        }
        return;
    }
    unpack_generic(p, width, ref, n, out, w);
}

static void unpack_generic(const unsigned char *p, unsigned width, int64_t ref, uint32_t n, void *out, size_t w)
{
    if (width == 0) {
        for (uint32_t i = 0; i < n; i++)
            put_w(out, w, i, ref);
        return;
    }
    uint64_t mask = width == 64 ? ~0ull : (1ull << width) - 1;
    size_t nwords = ((size_t)n * width + 63) / 64;
    size_t bit = 0;
    if (w == 4) {
        int32_t *o = out;
        for (uint32_t i = 0; i < n; i++, bit += width) {
            size_t wi = bit >> 6, off = bit & 63;
            uint64_t v = get64(p + wi * 8) >> off;
            if (off + width > 64 && wi + 1 < nwords)
                v |= get64(p + wi * 8 + 8) << (64 - off);
            o[i] = (int32_t)((uint64_t)ref + (v & mask));
        }
        return;
    }
    for (uint32_t i = 0; i < n; i++, bit += width) {
        size_t wi = bit >> 6, off = bit & 63;
        uint64_t v = get64(p + wi * 8) >> off;
        if (off + width > 64 && wi + 1 < nwords)
            v |= get64(p + wi * 8 + 8) << (64 - off);
        put_w(out, w, i, (int64_t)((uint64_t)ref + (v & mask)));
    }
}

int enc_decode(const void *blob, const enc_header *hdr, void *out, uint8_t *valid, const void **zero_copy)
{
    const unsigned char *p = (const unsigned char *)blob + ENC_HEADER_BYTES;
    uint32_t n = hdr->rows;
    size_t w = enc_type_width(hdr->type);
    int has_nulls = hdr->nulls > 0;
    if (zero_copy)
        *zero_copy = NULL;
    if (has_nulls) {
        decode_valid(p, n, valid);
        p += ((size_t)n + 63) / 64 * 8;
    }
    switch (hdr->encoding) {
    case ENC_PLAIN:
        if (zero_copy && ((uintptr_t)p % w) == 0)
            *zero_copy = p;
        else
            memcpy(out, p, (size_t)n * w);
        break;
    case ENC_CONST:
        if (w == 8) {
            int64_t *o = out;
            for (uint32_t i = 0; i < n; i++)
                o[i] = hdr->reference;
        } else {
            for (uint32_t i = 0; i < n; i++)
                put_w(out, w, i, hdr->reference);
        }
        break;
    case ENC_RLE: {
        const unsigned char *vp = p, *ep = p + (size_t)hdr->nruns * 8;
        uint32_t i = 0;
        for (uint32_t r = 0; r < hdr->nruns; r++) {
            int64_t v = (int64_t)get64(vp + 8 * (size_t)r);
            uint32_t end = MIN(get32(ep + 4 * (size_t)r), n);
            /* NULL slots inside a run carry the run's value; validity says they are NULL. */
            for (; i < end; i++)
                put_w(out, w, i, v);
        }
        for (; i < n; i++)
            put_w(out, w, i, 0);
        break;
    }
    case ENC_BITPACK:
        unpack(p, hdr->width, hdr->reference, n, out, w);
        break;
    case ENC_SCALED:
        unpack_scaled(p, hdr->width, hdr->reference, n, out, P10[hdr->exponent]);
        break;
    case ENC_FACTOR: {
        /* the packed multiples, then reference + multiple * factor (modulo 2^64 / 2^32, like the encoder) */
        uint64_t g = get64(p);
        unpack(p + 8, hdr->width, 0, n, out, w);
        if (w == 8) {
            uint64_t *o = out;
            for (uint32_t i = 0; i < n; i++)
                o[i] = (uint64_t)hdr->reference + o[i] * g;
        } else {
            uint32_t *o = out;
            for (uint32_t i = 0; i < n; i++)
                o[i] = (uint32_t)hdr->reference + o[i] * (uint32_t)g;
        }
        break;
    }
    case ENC_DELTA:
        /* the steps land one slot on, then a running sum (modulo 2^64 / 2^32, like the encoder) */
        unpack(p + 8, hdr->width, (int64_t)get64(p), n - 1, (unsigned char *)out + w, w);
        if (w == 8) {
            uint64_t *o = out;
            o[0] = (uint64_t)hdr->reference;
            for (uint32_t i = 1; i < n; i++)
                o[i] += o[i - 1];
        } else {
            uint32_t *o = out;
            o[0] = (uint32_t)hdr->reference;
            for (uint32_t i = 1; i < n; i++)
                o[i] += o[i - 1];
        }
        break;
    }
    return has_nulls;
}

void enc_decode_wide(const void *blob, const enc_header *hdr, int64_t *out, uint8_t *valid)
{
    size_t w = enc_type_width(hdr->type);
    if (w == 8) {
        const void *zc = NULL;
        int nulls = enc_decode(blob, hdr, out, valid, &zc);
        if (zc)
            memcpy(out, zc, (size_t)hdr->rows * 8);
        if (!nulls)
            memset(valid, 1, hdr->rows);
        return;
    }
    /* Decode narrow values into the tail half of `out`, then widen from the front. */
    int nulls;
    {
        void *narrow = (unsigned char *)out + (size_t)hdr->rows * 8 - (size_t)hdr->rows * w;
        nulls = enc_decode(blob, hdr, narrow, valid, NULL);
        for (uint32_t i = 0; i < hdr->rows; i++) {
            int64_t v;
            if (w == 4) {
                int32_t x;
                memcpy(&x, (unsigned char *)narrow + 4 * (size_t)i, 4);
                v = hdr->type == FACTDB_TEXT ? (int64_t)(uint32_t)x : x;
            } else {
                v = ((unsigned char *)narrow)[i];
            }
            out[i] = v;
        }
    }
    if (!nulls)
        memset(valid, 1, hdr->rows);
}
