/* utf8.c: strict UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF) and the
 * one case mapping that lower(), upper() and ILIKE share. Pure ASCII runs are skipped eight bytes at a
 * time, since most fact data is ASCII. */
#include "base.h"
#include <locale.h>
#include <pthread.h>
#include <string.h>
#include <wctype.h>

size_t base_utf8_valid_prefix(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            /* all ASCII and no zero byte */
            if (!(w & 0x8080808080808080ull) && !((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            if (!c)
                return i;
            i++;
            continue;
        }
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            n = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else
            return i;
        if (i + n >= len)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += n + 1;
    }
    return len;
}

/* ---- case mapping ----
 * PostgreSQL maps case per character with the database's LC_CTYPE (towlower_l/towupper_l); with a
 * C.UTF-8 or other UTF-8 ctype that is Unicode's simple case mapping. glibc's C.UTF-8 locale gives the same
 * table whatever the process's own locale is: it is opened once as a locale object and never installed.
 * Where C.UTF-8 is missing, ASCII and the Latin-1 letters are still mapped (from the code points). */
static locale_t case_loc;
static pthread_once_t case_once = PTHREAD_ONCE_INIT;

static void case_init(void) { case_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0); }

uint32_t base_case_map_char(uint32_t c, int upper)
{
    if (c < 0x80) {
        if (upper && c >= 'a' && c <= 'z')
            return c - 32;
        if (!upper && c >= 'A' && c <= 'Z')
            return c + 32;
        return c;
    }
    pthread_once(&case_once, case_init);
    if (case_loc) {
        wint_t r = upper ? towupper_l((wint_t)c, case_loc) : towlower_l((wint_t)c, case_loc);
        return r <= 0x10FFFF && (r < 0xD800 || r > 0xDFFF) ? (uint32_t)r : c;
    }
    if (upper && c >= 0xE0 && c <= 0xFE && c != 0xF7)
        return c - 0x20;
    if (!upper && c >= 0xC0 && c <= 0xDE && c != 0xD7)
        return c + 0x20;
    return c;
}

static size_t put_utf8(uint32_t c, char *o)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12);
        o[1] = (char)(0x80 | (c >> 6 & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18);
    o[1] = (char)(0x80 | (c >> 12 & 0x3F));
    o[2] = (char)(0x80 | (c >> 6 & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

size_t base_utf8_case_map(const char *s, size_t len, int upper, char *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        if (c < 0x80) {
            out[o++] = (char)base_case_map_char(c, upper);
            i++;
            continue;
        }
        size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (n == 1 || i + n > len || base_utf8_valid_prefix(u + i, n) != n) {
            out[o++] = (char)c;  /* not a character: copied as it is */
            i++;
            continue;
        }
        uint32_t cp = n == 2 ? (uint32_t)(c & 0x1F) << 6 | (u[i + 1] & 0x3F)
                    : n == 3 ? (uint32_t)(c & 0x0F) << 12 | (uint32_t)(u[i + 1] & 0x3F) << 6 | (u[i + 2] & 0x3F)
                             : (uint32_t)(c & 0x07) << 18 | (uint32_t)(u[i + 1] & 0x3F) << 12 |
                                   (uint32_t)(u[i + 2] & 0x3F) << 6 | (u[i + 3] & 0x3F);
        o += put_utf8(base_case_map_char(cp, upper), out + o);
        i += n;
    }
    return o;
}
