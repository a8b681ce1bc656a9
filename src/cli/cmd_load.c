/* cmd_load.c: factdb load [--create] [--no-header] [--delimiter C] [--encoding E] [--date-format F]
 * [--timestamp-format F] [--decimal-comma] [--busy-timeout MS] DB TABLE FILE. */
#include "cli.h"
#include "ingest/ingest.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: factdb load [--create] [--no-header] [--delimiter C] [--encoding utf-8|latin-1|cp1252]\n"
    "                   [--date-format FMT] [--timestamp-format FMT] [--decimal-comma]\n"
    "                   [--busy-timeout MS] DB TABLE FILE\n"
    "\n"
    "Loads the CSV file FILE (- = standard input) into TABLE of database DB, all or nothing.\n"
    "The header row names the columns, matched to the table's by name; missing ones become NULL.\n"
    "An empty unquoted field is NULL.\n"
    "\n"
    "  --create           create TABLE, with column types inferred from the data (boolean, bigint,\n"
    "                     double precision, date, timestamp, timestamptz when a timestamp carries an\n"
    "                     offset such as Z or +02:00, text; a column with no value is text), and DB\n"
    "                     if it does not exist; the table appears with its rows or not at all (also\n"
    "                     if the load is killed)\n"
    "  --no-header        the first line is data; fields map to the table's columns in order\n"
    "  --delimiter C      field separator: one character, \\t for tab. Default: detected among , ; tab |\n"
    "                     as the one splitting the first 1000 lines into the same number (2 or more)\n"
    "                     of fields most often; , if none does\n"
    "  --encoding E       input encoding: utf-8 (default), latin-1 or cp1252 (converted to UTF-8)\n"
    "  --date-format FMT  dates are written as FMT, e.g. %d/%m/%Y, %d.%m.%Y, %m/%d/%Y (default %Y-%m-%d):\n"
    "                     %d day, %m month (1 or 2 digits), %Y 4-digit year, %y 2-digit year\n"
    "                     (69-99: 19xx), %% a percent sign, anything else itself\n"
    "  --timestamp-format FMT\n"
    "                     the same for timestamps, with %H hour, %M minute, %S second, %f fraction\n"
    "                     (e.g. \"%d/%m/%Y %H:%M:%S\"; default ISO 8601, YYYY-MM-DD HH:MM:SS)\n"
    "  --decimal-comma    numbers use a decimal comma: 12,50 is 12.5; '.' may only group thousands\n"
    "                     (1.234,50); the delimiter is then never detected as ,\n"
    "  --busy-timeout MS  how long to wait for another writer (default 10000)\n";

int cmd_load(int argc, char **argv)
{
    ingest_load_opts o = {.header = true, .delim = 0, .encoding = "utf-8"};
    long busy = 10000;
    const char *pos[3];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--create")) {
            o.create = true;
        } else if (!strcmp(a, "--no-header")) {
            o.header = false;
        } else if (!strcmp(a, "--decimal-comma")) {
            o.decimal_comma = true;
        } else if (!strcmp(a, "--date-format") || !strcmp(a, "--timestamp-format")) {
            if (i + 1 >= argc)
                return cli_usage(USAGE, "option %s needs a value", a);
            bool ts = !strcmp(a, "--timestamp-format");
            char why[300];
            if (ingest_format_check(argv[++i], ts, why, sizeof why))
                return cli_usage(USAGE, "%s", why);
            *(ts ? &o.timestamp_format : &o.date_format) = argv[i];
        } else if (!strcmp(a, "--delimiter") || !strcmp(a, "--encoding") || !strcmp(a, "--busy-timeout")) {
            if (i + 1 >= argc)
                return cli_usage(USAGE, "option %s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--delimiter")) {
                if (!strcmp(v, "\\t") || !strcmp(v, "tab"))
                    o.delim = '\t';
                else if (strlen(v) == 1 && v[0] != '"' && v[0] != '\n' && v[0] != '\r')
                    o.delim = v[0];
                else
                    return cli_usage(USAGE, "--delimiter takes one character other than a quote or newline, not \"%s\"", v);
            } else if (!strcmp(a, "--encoding")) {
                o.encoding = v;
                if (strcasecmp(v, "utf-8") && strcasecmp(v, "utf8") && strcasecmp(v, "latin-1") &&
                    strcasecmp(v, "latin1") && strcasecmp(v, "iso-8859-1") && strcasecmp(v, "cp1252") &&
                    strcasecmp(v, "windows-1252"))
                    return cli_usage(USAGE, "unknown encoding \"%s\"; use utf-8, latin-1 or cp1252", v);
            } else if ((busy = cli_parse_ms(v)) < 0) {
                return cli_usage(USAGE, "--busy-timeout takes milliseconds, not \"%s\"", v);
            }
        } else if (a[0] == '-' && a[1]) {
            return cli_usage(USAGE, "unknown option %s", a);
        } else if (npos < 3) {
            pos[npos++] = a;
        } else {
            return cli_usage(USAGE, "too many arguments");
        }
    }
    if (npos != 3)
        return cli_usage(USAGE, "expected DB TABLE FILE");
    o.progress = isatty(2);
    factdb_error err;
    factdb *db;
    /* Only --create may make a new database: without it the table must exist, so a missing file is a
     * mistyped path, reported without creating anything. */
    factdb_options opts = {.busy_timeout_ms = (int)busy, .flags = o.create ? 0 : FACTDB_OPEN_EXISTING};
    if (factdb_open(pos[0], &opts, &db, &err))
        return cli_fail(&err);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t rows;
    int rc = ingest_load_csv(db, pos[1], pos[2], &o, &rows, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    factdb_close(db);
    if (rc)
        return cli_fail(&err);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("loaded %llu rows into %s in %.3f s\n", (unsigned long long)rows, pos[1], s);
    return 0;
}
