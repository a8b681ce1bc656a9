/* cmd_sql.c: factdb sql [--format table|csv|json|ndjson] [--busy-timeout MS] [--threads N]
 * [--memory-limit MB] DB [SQL]. Runs ';'-separated statements from the argument or standard input; on a
 * terminal it is an interactive shell (libedit: line editing, history) with dot commands. Errors print the
 * statement with a caret under the position and stop the script (exit 1); earlier statements stay. */
#include "cli.h"
#include <editline/readline.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: factdb sql [--format table|csv|json|ndjson] [--busy-timeout MS] [--threads N]\n"
    "                  [--memory-limit MB] [--idle-timeout S] [--create] DB [SQL]\n"
    "\n"
    "Runs the ';'-separated SQL statements in SQL, or read from standard input. On a terminal with no SQL\n"
    "it is an interactive shell (.help lists its commands). The dialect is PostgreSQL's; see docs/sql.md.\n"
    "A missing DB is created only when the statements write (CREATE TABLE, INSERT, ...) or with --create;\n"
    "statements that only read fail on it and create nothing (a mistyped path stays a mistake).\n"
    "\n"
    "  --create           create DB if it does not exist, whatever the statements do\n"
    "  --format F         table (default on a terminal), csv (default otherwise), json (one document per\n"
    "                     statement: {\"columns\":[...],\"rows\":[[...]],\"row_count\":N}) or ndjson\n"
    "  --busy-timeout MS  how long a write waits for another writer (default 10000)\n"
    "  --threads N        worker threads per query (default: one per core)\n"
    "  --memory-limit MB  memory one query may use for groups, sorts and results (default 4096)\n"
    "  --idle-timeout S   in the interactive shell, roll back a transaction (BEGIN ...) left idle this many\n"
    "                     seconds, so a forgotten BEGIN never blocks other processes (default 60)\n";

static const char SHELL_HELP[] =
    ".help             this text\n"
    ".timer on|off     print how long each statement took\n"
    ".format FMT       table, csv, json or ndjson\n"
    ".tables           list the tables (same as SHOW TABLES)\n"
    ".quit             leave (also Ctrl-D)\n"
    "Statements end with ';' and may span lines. Ctrl-C cancels the running statement.\n"
    "BEGIN; ...; COMMIT; (or ROLLBACK;) groups statements into one transaction (prompt factdb*>); one left\n"
    "idle longer than --idle-timeout is rolled back.\n";

enum { FMT_TABLE, FMT_CSV, FMT_JSON, FMT_NDJSON };

typedef struct shell {
    factdb *db;
    factdb_session *s;
    int format;
    bool timer;
    long idle_s;
} shell;

static factdb_session *volatile g_session;

static void on_sigint(int sig)
{
    (void)sig;
    if (g_session)
        factdb_session_cancel(g_session);
}

static int parse_format(const char *f)
{
    if (!strcmp(f, "table")) return FMT_TABLE;
    if (!strcmp(f, "csv")) return FMT_CSV;
    if (!strcmp(f, "json")) return FMT_JSON;
    if (!strcmp(f, "ndjson")) return FMT_NDJSON;
    return -1;
}

/* ---- output ---- */
static void print_rendered(FILE *f, const factdb_result *r, factdb_format fmt)
{
    factdb_writer *w;
    factdb_error err;
    if (factdb_writer_new(r, fmt, NULL, &w, &err)) {
        cli_fail(&err);
        return;
    }
    char buf[65536];
    size_t n;
    while ((n = factdb_writer_read(w, buf, sizeof buf)) > 0)
        fwrite(buf, 1, n, f);
    factdb_writer_free(w);
}

static size_t display_width(const char *s, size_t len)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++)
        w += ((unsigned char)s[i] & 0xC0) != 0x80;
    return w;
}

static void pad(FILE *f, size_t n)
{
    while (n--)
        fputc(' ', f);
}

static void print_table(FILE *f, const factdb_result *r)
{
    size_t nc = factdb_result_ncols(r);
    uint64_t nr = factdb_result_nrows(r);
    size_t *w = calloc(nc ? nc : 1, sizeof *w);
    if (!w)
        return;
    char buf[128];
    for (size_t c = 0; c < nc; c++) {
        const char *n = factdb_result_column_name(r, c);
        w[c] = display_width(n, strlen(n));
        for (uint64_t i = 0; i < nr; i++) {
            size_t len;
            const char *v = factdb_result_text(r, i, c, buf, sizeof buf, &len);
            if (v) {
                size_t dw = display_width(v, len);
                if (dw > w[c])
                    w[c] = dw;
            }
        }
    }
    for (size_t c = 0; c < nc; c++) {
        const char *n = factdb_result_column_name(r, c);
        size_t dw = display_width(n, strlen(n));
        fputs(c ? "| " : " ", f);
        size_t left = (w[c] - dw) / 2;
        pad(f, left);
        fputs(n, f);
        pad(f, w[c] - dw - left + 1);
    }
    fputc('\n', f);
    for (size_t c = 0; c < nc; c++) {
        if (c)
            fputc('+', f);
        for (size_t k = 0; k < w[c] + 2; k++)
            fputc('-', f);
    }
    fputc('\n', f);
    for (uint64_t i = 0; i < nr; i++) {
        for (size_t c = 0; c < nc; c++) {
            size_t len;
            const char *v = factdb_result_text(r, i, c, buf, sizeof buf, &len);
            if (!v) {
                v = "";
                len = 0;
            }
            size_t dw = display_width(v, len);
            fputs(c ? "| " : " ", f);
            if (factdb_result_json_kind(r, c) == 1) {
                pad(f, w[c] - dw);
                fwrite(v, 1, len, f);
                fputc(' ', f);
            } else {
                fwrite(v, 1, len, f);
                pad(f, w[c] - dw + 1);
            }
        }
        fputc('\n', f);
    }
    fprintf(f, "(%llu row%s)\n\n", (unsigned long long)nr, nr == 1 ? "" : "s");
    free(w);
}

static void print_result(shell *sh, const factdb_result *r)
{
    if (!factdb_result_has_rows(r)) {
        if (sh->format == FMT_TABLE)
            printf("%s\n", factdb_result_tag(r));
        return;
    }
    switch (sh->format) {
    case FMT_CSV: print_rendered(stdout, r, FACTDB_FORMAT_CSV); break;
    case FMT_JSON: print_rendered(stdout, r, FACTDB_FORMAT_JSON); break;
    case FMT_NDJSON: print_rendered(stdout, r, FACTDB_FORMAT_NDJSON); break;
    default: print_table(stdout, r); break;
    }
}

/* Prints the error and, for a SQL position, the statement's line with a caret under it. */
static void print_error(const char *stmt, size_t len, const factdb_error *err)
{
    fprintf(stderr, "factdb: ERROR: %s\n", err->message);
    if (err->position <= 0 || (size_t)err->position > len + 1)
        return;
    size_t pos = (size_t)err->position - 1, ls = pos, le = pos;
    while (ls > 0 && stmt[ls - 1] != '\n')
        ls--;
    while (le < len && stmt[le] != '\n')
        le++;
    int line = 1;
    for (size_t i = 0; i < ls; i++)
        line += stmt[i] == '\n';
    char prefix[32];
    int pl = snprintf(prefix, sizeof prefix, "LINE %d: ", line);
    fprintf(stderr, "%s%.*s\n", prefix, (int)(le - ls), stmt + ls);
    size_t col = display_width(stmt + ls, pos - ls);
    fprintf(stderr, "%*s^\n", (int)(pl + (int)col), "");
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs every statement of text; returns 0 or EXIT_FAIL at the first error. */
static int run_text(shell *sh, const char *text, size_t len)
{
    size_t at = 0;
    while (at < len) {
        /* start each statement at its first token, so error lines are counted from there */
        for (;;) {
            while (at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r'))
                at++;
            if (at + 1 < len && text[at] == '-' && text[at + 1] == '-') {
                while (at < len && text[at] != '\n')
                    at++;
                continue;
            }
            break;
        }
        if (at >= len)
            break;
        size_t used;
        factdb_result *r;
        factdb_error err;
        double t0 = now_ms();
        int rc = factdb_session_exec(sh->s, text + at, len - at, NULL, 0, &used, &r, &err);
        if (rc) {
            /* show the failing statement from its start (skip leading blank lines) */
            const char *st = text + at;
            size_t sl = len - at;
            print_error(st, sl, &err);
            return EXIT_FAIL;
        }
        if (r) {
            print_result(sh, r);
            factdb_result_free(r);
            if (sh->timer)
                fprintf(stderr, "Time: %.3f ms\n", now_ms() - t0);
        }
        fflush(stdout);
        at += used ? used : len - at;
    }
    return 0;
}

static bool statement_complete(const char *s, size_t len)
{
    bool sq = false, dq = false;
    size_t last = 0;
    bool any = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!sq && !dq && c == '-' && i + 1 < len && s[i + 1] == '-') {
            while (i < len && s[i] != '\n')
                i++;
            continue;
        }
        if (c == '\'' && !dq)
            sq = !sq;
        else if (c == '"' && !sq)
            dq = !dq;
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            last = i;
            any = true;
        }
    }
    return !any || (!sq && !dq && s[last] == ';');
}

static char *g_line;
static bool g_have_line;

static void on_line(char *line)
{
    g_line = line;
    g_have_line = true;
    rl_callback_handler_remove();
}

/* Reads one line with libedit's callback interface, so that while a transaction is open the wait can time
 * out: an idle open transaction is rolled back and the prompt comes back. NULL at end of input. */
static char *read_line(shell *sh, const char *prompt)
{
    g_have_line = false;
    g_line = NULL;
    rl_callback_handler_install(prompt, on_line);
    while (!g_have_line) {
        bool open_txn = factdb_session_in_transaction(sh->s);
        struct pollfd p = {.fd = 0, .events = POLLIN};
        int r = poll(&p, 1, open_txn ? (int)(sh->idle_s > 1000000 ? 1000000000 : sh->idle_s * 1000) : -1);
        if (r == 0) {
            bool locked = factdb_session_holds_write_lock(sh->s);
            factdb_session_rollback(sh->s);
            fprintf(stdout, "\nfactdb: the transaction was idle for %ld s and was rolled back%s\n", sh->idle_s,
                    locked ? ", releasing the write lock other processes may be waiting for" : "");
            fflush(stdout);
            rl_forced_update_display();
            continue;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rl_callback_handler_remove();
            return NULL;
        }
        rl_callback_read_char();
    }
    return g_line;
}

static int interactive(shell *sh)
{
    char hist[4096] = "";
    const char *home = getenv("HOME");
    if (home)
        snprintf(hist, sizeof hist, "%s/.factdb_history", home);
    using_history();
    if (hist[0])
        read_history(hist);
    printf("factdb %s: type SQL ending with ';', or .help\n", FACTDB_VERSION);
    char *buf = NULL;
    size_t blen = 0;
    for (;;) {
        char *line = read_line(sh, blen ? "   ...> " : factdb_session_in_transaction(sh->s) ? "factdb*> " : "factdb> ");
        if (!line) {
            putchar('\n');
            break;
        }
        if (!blen && line[0] == '.') {
            char cmd[64] = "", arg[64] = "";
            sscanf(line, "%63s %63s", cmd, arg);
            add_history(line);
            if (!strcmp(cmd, ".quit") || !strcmp(cmd, ".exit")) {
                free(line);
                break;
            } else if (!strcmp(cmd, ".help")) {
                fputs(SHELL_HELP, stdout);
            } else if (!strcmp(cmd, ".timer")) {
                sh->timer = !strcmp(arg, "on");
            } else if (!strcmp(cmd, ".format")) {
                int f = parse_format(arg);
                if (f < 0)
                    fprintf(stderr, "factdb: unknown format \"%s\"; use table, csv, json or ndjson\n", arg);
                else
                    sh->format = f;
            } else if (!strcmp(cmd, ".tables")) {
                run_text(sh, "SHOW TABLES", 11);
            } else {
                fprintf(stderr, "factdb: unknown command %s; .help lists them\n", cmd);
            }
            free(line);
            continue;
        }
        size_t ll = strlen(line);
        char *nb = realloc(buf, blen + ll + 2);
        if (!nb) {
            free(line);
            break;
        }
        buf = nb;
        memcpy(buf + blen, line, ll);
        blen += ll;
        buf[blen++] = '\n';
        buf[blen] = 0;
        free(line);
        if (!statement_complete(buf, blen))
            continue;
        buf[blen - 1] = 0;
        if (blen > 1)
            add_history(buf);
        run_text(sh, buf, blen - 1);
        blen = 0;
    }
    free(buf);
    if (hist[0])
        write_history(hist);
    return 0;
}

static int read_all(FILE *f, char **out, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *b = malloc(cap);
    if (!b)
        return -1;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return -1;
            }
            b = nb;
            cap *= 2;
        }
        size_t k = fread(b + n, 1, cap - n, f);
        if (!k)
            break;
        n += k;
    }
    *out = b;
    *len = n;
    return 0;
}

int cmd_sql(int argc, char **argv)
{
    shell sh = {.format = isatty(1) ? FMT_TABLE : FMT_CSV, .idle_s = 60};
    long busy = 10000, threads = 0, mem_mb = 4096;
    bool create = false;
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--create")) {
            create = true;
        } else if (!strcmp(a, "--format") || !strcmp(a, "--busy-timeout") || !strcmp(a, "--threads") ||
                   !strcmp(a, "--memory-limit") || !strcmp(a, "--idle-timeout")) {
            if (i + 1 >= argc)
                return cli_usage(USAGE, "%s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--format")) {
                if ((sh.format = parse_format(v)) < 0)
                    return cli_usage(USAGE, "unknown format \"%s\"; use table, csv, json or ndjson", v);
            } else {
                long n = cli_parse_ms(v);
                if (n < 0 || (strcmp(a, "--busy-timeout") && n == 0))
                    return cli_usage(USAGE, "%s needs a positive integer, not \"%s\"", a, v);
                if (!strcmp(a, "--busy-timeout"))
                    busy = n;
                else if (!strcmp(a, "--threads"))
                    threads = n;
                else if (!strcmp(a, "--idle-timeout"))
                    sh.idle_s = n;
                else
                    mem_mb = n;
            }
        } else if (a[0] == '-' && a[1]) {
            return cli_usage(USAGE, "unknown option %s", a);
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            return cli_usage(USAGE, "too many arguments");
        }
    }
    if (npos < 1)
        return cli_usage(USAGE, "missing the database path");
    /* A script from standard input is read before opening: whether it writes decides whether a missing
     * database may be created. */
    char *text = NULL;
    size_t len = 0;
    if (npos == 2) {
        text = (char *)pos[1];
        len = strlen(pos[1]);
    } else if (!isatty(0) && read_all(stdin, &text, &len)) {
        fprintf(stderr, "factdb: out of memory reading standard input\n");
        return EXIT_FAIL;
    }
    factdb_options opts = {.busy_timeout_ms = (int)busy, .flags = create ? 0 : FACTDB_OPEN_EXISTING};
    bool writes = false;
    factdb_error err;
    if (!create && text && factdb_sql_writes(text, len, &writes, &err) == 0 && writes)
        opts.flags = 0;
    if (factdb_open(pos[0], &opts, &sh.db, &err)) {
        if (npos == 1)
            free(text);
        if ((opts.flags & FACTDB_OPEN_EXISTING) && access(pos[0], F_OK) != 0) {
            fprintf(stderr, "factdb: database \"%s\" does not exist; nothing was created (statements that only "
                            "read never create a database: check the path, or use --create)\n", pos[0]);
            return EXIT_FAIL;
        }
        return cli_fail(&err);
    }
    if (factdb_session_new(sh.db, &sh.s, &err)) {
        factdb_close(sh.db);
        if (npos == 1)
            free(text);
        return cli_fail(&err);
    }
    if (threads)
        factdb_session_set_threads(sh.s, (int)threads);
    factdb_session_set_memory_limit(sh.s, (size_t)mem_mb << 20);
    g_session = sh.s;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    int rc = 0;
    if (text) {
        rc = run_text(&sh, text, len);
        if (npos == 1)
            free(text);
    } else {
        rc = interactive(&sh);
    }
    g_session = NULL;
    factdb_session_free(sh.s);
    factdb_close(sh.db);
    return rc;
}
