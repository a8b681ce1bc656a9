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

#endif
