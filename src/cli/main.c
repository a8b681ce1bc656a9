/* main.c: the `factdb` command: dispatch to subcommands, --help and --version. Exit status: 0 success,
 * 1 the operation failed (stderr's first line starts with "factdb: "), 2 wrong usage. The program never
 * calls setlocale(), so messages and number formats are the same under every locale. */
#include "cli.h"
#include "ingest/ingest.h"
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char HELP[] =
    "factdb " FACTDB_VERSION ": an embedded analytical database for fact tables that many processes\n"
    "read and write at once.\n"
    "\n"
    "usage: factdb COMMAND [OPTIONS] ARGS\n"
    "\n"
    "commands:\n"
    "  sql     run SQL statements, or an interactive SQL shell\n"
    "  serve   serve the HTTP JSON API and the dashboard (queries, inserts, change events, metrics)\n"
    "  pg-setup  install change notifications in a PostgreSQL database served by factdb serve\n"
    "  copy    copy a database file's tables into a PostgreSQL database, or back\n"
    "  load    load a CSV file into a table, all or nothing\n"
    "  info    show the tables, their sizes, data_version and live readers\n"
    "  check   verify every chunk, dictionary and zone map\n"
    "\n"
    "options:\n"
    "  --help      show this help (factdb COMMAND --help for a command's)\n"
    "  --version   show the version\n"
    "\n"
    "exit status: 0 success, 1 the operation failed, 2 wrong usage\n";

int cli_fail(const factdb_error *err)
{
    fprintf(stderr, "factdb: %s\n", err->message[0] ? err->message : factdb_error_name(err->code));
    return EXIT_FAIL;
}

int cli_usage(const char *usage, const char *fmt, ...)
{
    va_list ap;
    fputs("factdb: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage);
    return EXIT_USAGE;
}

long cli_parse_ms(const char *s)
{
    char *end;
    if (!s || !*s)
        return -1;
    long v = strtol(s, &end, 10);
    return *end || v < 0 ? -1 : v;
}

/* ---- faults ----
 * A damaged or truncated database file can make LMDB read outside what the file holds: that fault lies in
 * the database's map and is reported as damage. A fault in the mapped input of a load means the input
 * file shrank under the loader. Anything else is a bug in factdb: say so and die by the signal, so that a
 * core dump is written. Only async-signal-safe calls here (write, fstat through factdb_addr_in_map,
 * signal, raise, _exit). */
static size_t put_s(char *buf, size_t n, size_t cap, const char *s)
{
    while (*s && n + 1 < cap)
        buf[n++] = *s++;
    return n;
}

static size_t put_u(char *buf, size_t n, size_t cap, uint64_t v, unsigned base)
{
    char tmp[24];
    size_t k = 0;
    do {
        tmp[k++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (base == 16)
        n = put_s(buf, n, cap, "0x");
    while (k && n + 1 < cap)
        buf[n++] = tmp[--k];
    return n;
}

static void on_fault(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    char msg[400];
    size_t n = 0, cap = sizeof msg;
    uint64_t off;
    int64_t size;
    bool real = si->si_code > 0;  /* raised by the kernel for an access, not sent by kill() */
    if (real && factdb_addr_in_map(si->si_addr, &off, &size)) {
        if (size >= 0 && off >= (uint64_t)size) {
            n = put_s(msg, n, cap, "factdb: the database file is truncated: reading byte ");
            n = put_u(msg, n, cap, off, 10);
            n = put_s(msg, n, cap, " but the file has only ");
            n = put_u(msg, n, cap, (uint64_t)size, 10);
            n = put_s(msg, n, cap, " bytes; restore it from a backup\n");
        } else {
            n = put_s(msg, n, cap, "factdb: the database file is damaged (invalid memory access at byte ");
            n = put_u(msg, n, cap, off, 10);
            n = put_s(msg, n, cap, " of the file); run factdb check, or restore it from a backup\n");
        }
        ssize_t w = write(2, msg, n);
        (void)w;
        _exit(EXIT_FAIL);
    }
    if (real && ingest_addr_in_input(si->si_addr)) {
        static const char m[] = "factdb: the input file changed or was truncated while it was being read; "
                                "nothing was loaded\n";
        ssize_t w = write(2, m, sizeof m - 1);
        (void)w;
        _exit(EXIT_FAIL);
    }
    n = put_s(msg, n, cap, "factdb: internal error (a bug in factdb): signal ");
    n = put_u(msg, n, cap, (uint64_t)sig, 10);
    n = put_s(msg, n, cap, " at ");
    n = put_u(msg, n, cap, (uint64_t)(uintptr_t)si->si_addr, 16);
    n = put_s(msg, n, cap, "\n");
    ssize_t w = write(2, msg, n);
    (void)w;
    /* Die by the signal with its default action (a core dump): it is blocked while we run and is
     * delivered as soon as the handler returns. */
    signal(sig, SIG_DFL);
    raise(sig);
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        fputs(HELP, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(HELP, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("factdb %s (format %u)\n", FACTDB_VERSION, FACTDB_FILE_FORMAT);
        return 0;
    }
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "pg-setup"))
        return cmd_pg_setup(argc - 1, argv + 1);
    if (!strcmp(cmd, "copy"))
        return cmd_copy(argc - 1, argv + 1);
    if (!strcmp(cmd, "sql"))
        return cmd_sql(argc - 1, argv + 1);
    if (!strcmp(cmd, "load"))
        return cmd_load(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "check"))
        return cmd_check(argc - 1, argv + 1);
    fprintf(stderr, "factdb: unknown command \"%s\"\n%s", cmd, HELP);
    return EXIT_USAGE;
}
