/* cli.h: shared pieces of the `factdb` command: option parsing helpers and error printing. The CLI
 * uses only the public API (factdb.h) plus the ingest layer. */
#ifndef FACTDB_CLI_H
#define FACTDB_CLI_H

#include "factdb.h"
#include <stdio.h>

#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* Prints "factdb: MESSAGE" to stderr; returns EXIT_FAIL. */
int cli_fail(const factdb_error *err);
/* Prints a usage error and the command's usage line; returns EXIT_USAGE. */
int cli_usage(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses a non-negative integer option value; returns -1 if invalid. */
long cli_parse_ms(const char *s);

int cmd_sql(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_pg_setup(int argc, char **argv);
int cmd_copy(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_check(int argc, char **argv);

#endif
