/* main.c: the `factdb` command: dispatch to subcommands, --help and --version. Exit status: 0 success,
 * 1 the operation failed (stderr's first line starts with "factdb: "), 2 wrong usage. The program never
 * calls setlocale(), so messages and number formats are the same under every locale. */
#include "cli.h"
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

/* A damaged file can make LMDB read outside the map: report it instead of dumping core. */
static void on_fault(int sig)
{
    static const char msg[] = "factdb: the database file is damaged (invalid memory access while reading it); "
                              "run factdb check, or restore it from a backup\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    (void)sig;
    _exit(EXIT_FAIL);
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
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
