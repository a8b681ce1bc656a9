/* cmd_copy.c: factdb copy DB POSTGRESQL-URL: moves a database file's tables into PostgreSQL (docs/scale.md). */
#include "cli.h"
#include "pg/pg.h"
#include <string.h>

static const char USAGE[] =
    "usage: factdb copy DB POSTGRESQL-URL\n"
    "       factdb copy POSTGRESQL-URL DB\n"
    "\n"
    "Copies every table of database file DB into the PostgreSQL database POSTGRESQL-URL (postgresql://user@\n"
    "host:port/dbname or a libpq connection string): CREATE TABLE with the same column types, NOT NULL,\n"
    "PRIMARY KEY and UNIQUE constraints, then the rows by COPY, streamed from one snapshot of the file a\n"
    "chunk at a time, one transaction per table, so each table arrives whole or not at all. A table that\n"
    "already exists there stops the copy before anything of it is sent; the tables copied before stay, so\n"
    "after dropping the one that failed, running it again goes on where it stopped (existing tables must be\n"
    "dropped first). Prints one line per table. A constraint name that PostgreSQL's schema has already (its\n"
    "constraint names are index names, unique in the schema) gets a number appended, said on stderr.\n"
    "\n"
    "The reverse (a PostgreSQL URL first) copies every table of the database's current schema into DB\n"
    "(created if missing), each table created with all its rows at once or not at all, with its PRIMARY KEY,\n"
    "UNIQUE constraints and unique indexes; a key factdb cannot hold (exclusion constraint, partial or\n"
    "expression index, NULLS NOT DISTINCT, a column of a type factdb lacks, an invalid index) is named on\n"
    "stderr and skipped. Types factdb does not have (and numeric without a precision, or wider than 18\n"
    "digits) become text; DEFAULTs stay behind (factdb has none).\n";

static void note(void *ctx, const char *message)
{
    (void)ctx;
    fprintf(stderr, "factdb copy: %s\n", message);
}

static void progress(void *ctx, const char *table, uint64_t rows, size_t done, size_t total)
{
    (void)ctx;
    printf("factdb copy: %s: %llu rows (%zu of %zu tables)\n", table, (unsigned long long)rows, done, total);
    fflush(stdout);
}

int cmd_copy(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (argc != 3)
        return cli_usage(USAGE, argc < 3 ? "copy needs DB and POSTGRESQL-URL" : "too many arguments");
    bool to_pg = http_target_is_pg(argv[2]), from_pg = http_target_is_pg(argv[1]);
    if (to_pg == from_pg)
        return cli_usage(USAGE, "one of %s and %s must be a PostgreSQL URL or connection string, the other a "
                         "database file", argv[1], argv[2]);
    factdb_error err;
    if (to_pg ? pg_copy_from_file(argv[1], argv[2], progress, note, NULL, &err)
              : pg_copy_to_file(argv[1], argv[2], progress, note, NULL, &err))
        return cli_fail(&err);
    return 0;
}
