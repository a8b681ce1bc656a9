/* script.c: where the statements of a script end, read as PostgreSQL's lexer reads them, so that /v1/sql
 * can send them one at a time (each in its own transaction unless the script opens one, as psql does and as
 * a database file runs them) rather than in one simple-protocol message (one implicit transaction).
 * Hand-written because it is small and libpq has no splitter; it follows PostgreSQL's scan.l: quoted
 * strings ('' doubled; E'' with backslash escapes; plain '' with them too when standard_conforming_strings
 * is off), quoted identifiers, dollar quotes ($$ and $tag$, not after an identifier character), -- and
 * nested slash-star comments, parentheses, and the BEGIN ... END bodies of CREATE FUNCTION / PROCEDURE
 * (BEGIN ATOMIC), whose semicolons do not end the statement, as psql counts them.
 * Invariant: the statements cover every token of the text in order; text left unterminated (an open quote
 * or comment) is one last statement, which PostgreSQL then refuses with its own error and position. */
#include "pg_int.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool ident_char(unsigned char c)
{
    return c == '_' || c == '$' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c >= 0x80;
}

static bool ident_start(unsigned char c)
{
    return c == '_' || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c >= 0x80;
}

/* Past the white space, -- comment (to a newline or \r) or nested slash-star comment at s[i]; i if none. */
static size_t skip_space(const char *s, size_t len, size_t i)
{
    if (i < len && s[i] && strchr(" \t\n\r\f\v", s[i]))
        return i + 1;
    if (i + 1 < len && s[i] == '-' && s[i + 1] == '-') {
        while (i < len && s[i] != '\n' && s[i] != '\r')
            i++;
        return i;
    }
    if (i + 1 < len && s[i] == '/' && s[i + 1] == '*') {
        int nest = 1;
        for (i += 2; i < len && nest; i++) {
            if (s[i] == '/' && i + 1 < len && s[i + 1] == '*')
                nest++, i++;
            else if (s[i] == '*' && i + 1 < len && s[i + 1] == '/')
                nest--, i++;
        }
        return i;
    }
    return i;
}

/* The end of the quoted run starting at s[i] == q (the opening quote): past the closing one, or len. A
 * string literal continues in a next '...' separated from it by white space holding a newline (SQL's rule,
 * scan.l's quotecontinue), in the same mode. */
static size_t quoted(const char *s, size_t len, size_t i, char q, bool backslash)
{
    for (i++; i < len; i++) {
        if (backslash && s[i] == '\\') {
            i++;
            continue;
        }
        if (s[i] != q)
            continue;
        if (i + 1 < len && s[i + 1] == q) {
            i++;
            continue;
        }
        size_t j = i + 1;
        bool newline = false;
        while (q == '\'' && j < len && s[j] && strchr(" \t\n\r\f", s[j])) {
            newline = newline || s[j] == '\n' || s[j] == '\r';
            j++;
        }
        if (!newline || j >= len || s[j] != '\'')
            return i + 1;
        i = j;  /* the continuation's opening quote */
    }
    return len;
}

/* The length of a dollar-quote delimiter ($$ or $tag$) at s[i], or 0 if none starts there. */
static size_t dollar_tag(const char *s, size_t len, size_t i)
{
    size_t j = i + 1;
    if (j < len && ident_start((unsigned char)s[j]))
        while (j < len && ident_char((unsigned char)s[j]) && s[j] != '$')
            j++;
    return j < len && s[j] == '$' ? j + 1 - i : 0;
}

static bool word_is(const char *w, size_t n, const char *kw)
{
    return strlen(kw) == n && !strncasecmp(w, kw, n);
}

/* Appends statement [start, end) to the list unless it holds no token. */
static int add(pg_stmt **out, size_t *n, size_t *cap, size_t start, size_t end, bool any)
{
    if (!any)
        return 0;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        pg_stmt *p = realloc(*out, nc * sizeof *p);
        if (!p)
            return FACTDB_NOMEM;
        *out = p;
        *cap = nc;
    }
    (*out)[(*n)++] = (pg_stmt){start, end - start};
    return 0;
}

int pg_split(const char *s, size_t len, bool backslash_quotes, pg_stmt **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0, start = 0, i = 0;
    int paren = 0, depth = 0;  /* open parentheses; BEGIN ... END nesting in a routine's body */
    unsigned words = 0;        /* words of the statement so far (the first four decide if it is a routine) */
    bool routine = false, any = false;
    char first[4][10] = {{0}};
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t past = skip_space(s, len, i);
        if (past != i) {
            i = past;
            continue;
        }
        if (c == ';' && !paren && !depth) {
            if (add(out, n, &cap, start, i, any))
                goto nomem;
            start = ++i;
            paren = depth = 0;
            words = 0;
            memset(first, 0, sizeof first);
            routine = any = false;
            continue;
        }
        any = true;
        if (c == '(' || c == ')') {
            paren += c == '(' ? 1 : paren > 0 ? -1 : 0;
            i++;
        } else if (c == '\'') {
            i = quoted(s, len, i, '\'', backslash_quotes);
        } else if (c == '"') {
            i = quoted(s, len, i, '"', false);
        } else if (c == '$' && dollar_tag(s, len, i)) {
            size_t t = dollar_tag(s, len, i);
            const char *end = NULL;
            for (size_t j = i + t; j + t <= len && !end; j++)
                if (s[j] == '$' && !memcmp(s + j, s + i, t))
                    end = s + j;
            i = end ? (size_t)(end - s) + t : len;
        } else if (ident_start(c)) {
            size_t w = i;
            while (i < len && ident_char((unsigned char)s[i]))
                i++;
            size_t wn = i - w;
            if (i < len && s[i] == '\'' && wn == 1 && (c | 0x20) == 'e') {  /* E'...': backslash escapes */
                i = quoted(s, len, i, '\'', true);
                continue;
            }
            if (i < len && s[i] == '\'' && wn == 1 && strchr("bBxXnN", c))
                continue;  /* B'..', X'..', N'..': a plain quoted string, read next */
            if (words < 4) {
                size_t k = wn < sizeof first[0] ? wn : sizeof first[0] - 1;
                memcpy(first[words], s + w, k);
                first[words++][k] = 0;
                bool f1 = !strcasecmp(first[1], "function") || !strcasecmp(first[1], "procedure");
                bool f3 = !strcasecmp(first[3], "function") || !strcasecmp(first[3], "procedure");
                routine = !strcasecmp(first[0], "create") &&
                          (f1 || (!strcasecmp(first[1], "or") && !strcasecmp(first[2], "replace") && f3));
            }
            if (paren) {
                /* BEGIN, CASE and END count outside parentheses only, as psql counts them */
            } else if (routine && word_is(s + w, wn, "begin")) {
                depth++;
            } else if (depth && word_is(s + w, wn, "case")) {
                depth++;
            } else if (depth && word_is(s + w, wn, "end")) {
                depth--;
            }
        } else {
            i++;  /* an operator, a number, a parameter, U&'s '&' ... */
        }
    }
    if (add(out, n, &cap, start, len, any))
        goto nomem;
    return 0;
nomem:
    free(*out);
    *out = NULL;
    *n = 0;
    return FACTDB_NOMEM;
}

size_t pg_first_word(const char *s, size_t len, char *buf, size_t cap)
{
    size_t i = 0;
    for (size_t past; (past = skip_space(s, len, i)) != i;)
        i = past;
    size_t n = 0;
    if (i < len && ident_start((unsigned char)s[i]))
        while (i + n < len && ident_char((unsigned char)s[i + n]))
            n++;
    else if (i < len)
        n = 1;
    size_t k = n < cap ? n : cap - 1;
    memcpy(buf, s + i, k);
    buf[k] = 0;
    return i;
}
