/* sniff.c: which delimiter a CSV file uses, when the user did not say (as DuckDB's sniffer does), and
 * which one a file with disagreeing field counts probably uses. Both read records with the real reader,
 * so quoted fields count as one field whatever they contain. */
#include "ingest.h"
#include <stdio.h>
#include <string.h>

static const char CANDIDATES[] = {',', ';', '\t', '|'};

const char *ingest_delim_name(char d)
{
    switch (d) {
    case ',': return "','";
    case ';': return "';'";
    case '\t': return "tab (\\t)";
    case '|': return "'|'";
    default: return "the given delimiter";
    }
}

/* Field count of the record starting at byte `off` when split by `d`, or 0 if it does not read. */
static size_t count_at(const ingest_input *in, size_t off, char d)
{
    csv_reader r;
    factdb_error e;
    csv_init(&r, in, d);
    r.p = in->data + off;
    size_t n = csv_next(&r, &e) > 0 ? r.nfields : 0;
    csv_cleanup(&r);
    return n;
}

typedef struct score {
    size_t first;   /* fields of the first record */
    size_t agree;   /* sampled records with as many fields as the first */
    size_t records; /* records sampled */
    size_t rest;    /* fields of the second record, if every later record has that many; else 0 */
} score;

static void sample(const ingest_input *in, char d, score *sc)
{
    csv_reader r;
    factdb_error e;
    memset(sc, 0, sizeof *sc);
    csv_init(&r, in, d);
    bool rest_same = true;
    while (sc->records < INGEST_SNIFF_RECORDS) {
        int n = csv_next(&r, &e);
        if (n < 0) {
            /* Text after a closing quote means the quote did not end a field: not this delimiter. Other
             * errors (an unterminated quote, a NUL byte) do not depend on the delimiter: the records read
             * so far decide, and the load reports the error. */
            if (strstr(e.message, "after a closing quote"))
                sc->first = 0;
            break;
        }
        if (n == 0)
            break;
        if (sc->records == 0)
            sc->first = r.nfields;
        else if (sc->records == 1)
            sc->rest = r.nfields;
        else if (r.nfields != sc->rest)
            rest_same = false;
        sc->agree += r.nfields == sc->first;
        sc->records++;
    }
    if (!rest_same)
        sc->rest = 0;
    csv_cleanup(&r);
}

int ingest_detect_delim(const ingest_input *in, bool header, bool decimal_comma, char *out, factdb_error *err)
{
    score sc[sizeof CANDIDATES];
    int best = -1;
    for (size_t i = 0; i < sizeof CANDIDATES; i++) {
        sample(in, CANDIDATES[i], &sc[i]);
        /* With a decimal comma, a comma inside unquoted numbers would split them: never the delimiter. */
        if (decimal_comma && CANDIDATES[i] == ',')
            continue;
        if (sc[i].first < 2)
            continue;
        if (best < 0 || sc[i].agree > sc[best].agree ||
            (sc[i].agree == sc[best].agree && sc[i].first > sc[best].first))
            best = (int)i;
    }
    if (best >= 0) {
        *out = CANDIDATES[best];
        return FACTDB_OK;
    }
    /* Every candidate gives the first record one field. If the later records agree on more under some
     * delimiter, the header is what is wrong (or names one column with the rest of the line): say so
     * rather than load every line as one text value. */
    if (header)
        for (size_t i = 0; i < sizeof CANDIDATES; i++) {
            if (decimal_comma && CANDIDATES[i] == ',')
                continue;
            if (sc[i].records >= 2 && sc[i].rest >= 2)
                return base_err_at(err, FACTDB_BAD_CSV, 1, 0, 0,
                                   "the header has one field but the lines below it have %zu fields separated by "
                                   "%s: give the header one name per field and use --delimiter '%s' (to load "
                                   "each line as one text value instead, pass --delimiter with a character the "
                                   "file does not contain)",
                                   sc[i].rest, ingest_delim_name(CANDIDATES[i]),
                                   CANDIDATES[i] == '\t' ? "\\t" : (char[]){CANDIDATES[i], 0});
        }
    *out = decimal_comma ? ';' : ',';
    return FACTDB_OK;
}

void ingest_delim_hint(const ingest_input *in, size_t first_off, size_t row_off, char cur, char *buf, size_t cap)
{
    buf[0] = 0;
    size_t a = count_at(in, first_off, cur);
    for (size_t i = 0; i < sizeof CANDIDATES; i++) {
        char d = CANDIDATES[i];
        if (d == cur)
            continue;
        size_t x = count_at(in, first_off, d), y = count_at(in, row_off, d);
        if (x >= 2 && x == y) {
            snprintf(buf, cap, "; the file looks delimited by %s: use --delimiter '%s'", ingest_delim_name(d),
                     d == '\t' ? "\\t" : (char[]){d, 0});
            return;
        }
    }
    if (a == 1)
        snprintf(buf, cap, "; the first line has a single field: if its names are separated by another character "
                 "than %s, use --delimiter with that character", ingest_delim_name(cur));
}
