/* cmd_pg_setup.c: factdb pg-setup TARGET: prepares a PostgreSQL database for `factdb serve`'s change
 * events (triggers that notify every server of each write, by any client). */
#include "cli.h"
#include "pg/pg.h"
#include <string.h>

static const char USAGE[] =
    "usage: factdb pg-setup POSTGRESQL-URL\n"
    "\n"
    "Installs, in one transaction, the function factdb_notify() and a statement-level AFTER INSERT, UPDATE,\n"
    "DELETE or TRUNCATE trigger calling it on every table of the current schema, so that a write by any\n"
    "client of the database (psql, another factdb serve, an application) reaches the /v1/events stream of\n"
    "every factdb serve on it at once (LISTEN factdb_change). Run it again after creating tables; without\n"
    "it, servers poll PostgreSQL every 50 ms instead. POSTGRESQL-URL: postgresql://user@host:port/dbname or\n"
    "a libpq connection string; PG* environment variables fill in what it leaves out.\n";

int cmd_pg_setup(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (argc != 2)
        return cli_usage(USAGE, argc < 2 ? "missing the PostgreSQL URL" : "too many arguments");
    size_t n = 0;
    factdb_error err;
    if (pg_setup(argv[1], &n, &err))
        return cli_fail(&err);
    printf("factdb pg-setup: change notifications installed on %zu table%s\n", n, n == 1 ? "" : "s");
    return 0;
}
