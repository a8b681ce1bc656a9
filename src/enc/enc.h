/* enc.h: column encodings. One encoded column of one chunk ("column blob") is a 64-byte header followed
 * by an optional validity bitmap and the encoded values; docs/format.md has the byte table. Encoders
 * take values widened to 64 bits (int64 for integer-like types and TEXT codes, double for DOUBLE) and
 * pick the smallest of the encodings that apply; decoders produce the type's C representation. */
#ifndef FACTDB_ENC_H
#define FACTDB_ENC_H

#include "base/base.h"

/* ENC_SCALED: doubles that are all exactly i / 10^k for small integers i (prices, amounts) are stored as
 * bit-packed i with the exponent k; decoding divides, which IEEE rounds back to the same double. */
/* ENC_DELTA: integers without NULLs (4- and 8-byte types) as the first value (reference), then in the
 * payload the smallest step (i64) and each step minus it, bit-packed; decoding sums the steps. */
/* ENC_FACTOR: integer-like values (4- and 8-byte types) whose distances from the minimum (reference) share
 * a factor g > 1: the payload (after any validity bitmap) is g (u64), then distance / g bit-packed. */
enum { ENC_PLAIN = 1, ENC_CONST = 2, ENC_RLE = 3, ENC_BITPACK = 4, ENC_SCALED = 5, ENC_DELTA = 6, ENC_FACTOR = 7 };
#define ENC_HEADER_BYTES 64
#define ENC_FLAG_NULLS 1u    /* a validity bitmap follows the header */
#define ENC_FLAG_MINMAX 2u   /* min/max are meaningful (there is a non-null, non-NaN value) */

typedef struct enc_header {
    uint8_t encoding, type, width, flags;
    uint32_t rows, nulls, payload_bytes;
    int64_t min, max, reference;
    uint32_t nruns, exponent;
    uint64_t checksum;
} enc_header;

/* Bytes per value in the C representation of `type`. */
size_t enc_type_width(factdb_type type);
/* True when the type's values are integers (everything but DOUBLE). */
static inline int enc_is_intlike(factdb_type t) { return t != FACTDB_DOUBLE; }

/* Encodes `n` values of `type` (vals as int64, or double bits for DOUBLE) with `valid` (NULL = all
 * valid) and appends the blob to `out`. Invalid slots' values are ignored. Fills *hdr.
 * Errors: NOMEM, LIMIT. */
int enc_encode(factdb_type type, const int64_t *vals, const uint8_t *valid, uint32_t n, base_buf *out,
               enc_header *hdr);

/* Reads and checks the header of a blob of `len` bytes. Returns 0 or -1 (with *why) if the blob is
 * shorter than its header says or the header is inconsistent. Does not verify the checksum. */
int enc_read_header(const void *blob, size_t len, enc_header *hdr, const char **why);
/* Verifies the checksum; returns 0 when it matches. */
int enc_verify(const void *blob, size_t len);

/* Decodes all rows of a blob into `out` (rows * enc_type_width bytes) and `valid` (rows bytes; filled
 * only when the blob has NULLs, returns 1 then, else 0). When the blob is PLAIN without NULLs and
 * suitably aligned, *zero_copy receives a pointer to the values inside the blob instead (out untouched). */
int enc_decode(const void *blob, const enc_header *hdr, void *out, uint8_t *valid, const void **zero_copy);

/* Decodes into int64 (or double bits) regardless of type: used to merge and re-encode chunks. */
void enc_decode_wide(const void *blob, const enc_header *hdr, int64_t *out, uint8_t *valid);

#endif
