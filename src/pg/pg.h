/* pg.h: the PostgreSQL backend of `factdb serve` (the only code that includes libpq-fe.h). It implements
 * the table of operations of src/http/backend.h on a pool of libpq connections, so that every endpoint
 * answers as it does on a database file. */
#ifndef FACTDB_PG_H
#define FACTDB_PG_H

#include "http/backend.h"

/* Connects to the PostgreSQL database o->db_path names (a postgres:// URL or a conninfo string; PG*
 * environment variables fill what it leaves out) with a pool of o->pg_pool connections (opened as needed).
 * Errors: IO (cannot connect: the server's message), INVALID_ARGUMENT (a malformed URL). */
int pg_backend_open(const http_opts *o, const http_backend_ops **ops, http_backend **out, factdb_error *err);

/* `factdb pg-setup TARGET`: installs the function factdb_notify() and a statement-level AFTER trigger calling
 * it on every table of the current schema (again for tables created since: it replaces what exists), in one
 * transaction; *ntables receives the tables that have the trigger. Errors: IO, PERMISSION, INVALID_ARGUMENT. */
int pg_setup(const char *target, size_t *ntables, factdb_error *err);

/* `factdb copy DB TARGET`: every table of the database file db_path into the PostgreSQL database TARGET,
 * with its column types, NOT NULL, PRIMARY KEY and UNIQUE constraints, one transaction per table (a table is
 * copied whole or not at all; the tables before a failure stay copied, so running it again after dropping the
 * failed one resumes). Each table's rows are streamed from one snapshot of the file, a chunk at a time
 * (memory stays bounded whatever the table's size). A table that exists in PostgreSQL is refused
 * (TABLE_EXISTS). `progress` (may be NULL) is called after each table with its name, its rows and the count
 * of tables done out of all; `note` (may be NULL) with a line about something copied otherwise than asked (a
 * constraint whose name is taken in the schema gets a number appended). Errors: those of factdb_open and factdb_scan_open, IO
 * (PostgreSQL's), TABLE_EXISTS, NOMEM, CORRUPT. */
typedef void (*pg_progress_fn)(void *ctx, const char *table, uint64_t rows, size_t done, size_t total);
typedef void (*pg_note_fn)(void *ctx, const char *message);
int pg_copy_from_file(const char *db_path, const char *target, pg_progress_fn progress, pg_note_fn note, void *ctx,
                      factdb_error *err);
/* The reverse: every table of the current schema of PostgreSQL database `target` into the database file
 * db_path (created if missing), each table created with its rows atomically (factdb_appender_create), read
 * by COPY TO STDOUT as it is written. Types factdb does not have (and numeric without a precision, or wider
 * than 18 digits) become text. PRIMARY KEY and UNIQUE constraints and unique indexes over columns come along
 * (factdb_appender_add_key); one factdb cannot express (an exclusion constraint, a partial or expression
 * index, NULLS NOT DISTINCT, a key over a column that arrives as text from another type, an invalid index, a
 * ninth key) is left out and passed to `note` with its name and why. A table that exists in the file is refused (TABLE_EXISTS). */
int pg_copy_to_file(const char *target, const char *db_path, pg_progress_fn progress, pg_note_fn note, void *ctx,
                    factdb_error *err);

#endif
