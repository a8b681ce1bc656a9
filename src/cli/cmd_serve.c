/* cmd_serve.c: factdb serve [options] DB: the options of the HTTP server (docs/http.md, whose "Security"
 * section explains the defaults that guard it against other web pages and slow clients). */
#include "cli.h"
#include "http/http.h"
#include "pg/pg.h"
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: factdb serve [--host 127.0.0.1] [--port 8080] [--token T] [--read-token R] [--max-body BYTES]\n"
    "                    [--max-rows N] [--max-result N] [--query-timeout MS] [--threads N]\n"
    "                    [--busy-timeout MS] [--max-connections N] [--max-connections-per-address N]\n"
    "                    [--header-timeout S] [--min-body-rate BYTES] [--max-result-memory BYTES]\n"
    "                    [--max-event-streams N] [--allow-host NAME]... [--cors-origin URL]...\n"
    "                    [--allow-file-access] [--create] [--read-only] [--pg-pool N] DB|POSTGRESQL-URL\n"
    "\n"
    "Serves the HTTP JSON API of database DB (docs/http.md): /v1/health, /v1/tables, /v1/sql,\n"
    "/v1/tables/NAME/rows (group-committed inserts), /v1/events (server-sent change events), /metrics,\n"
    "and the dashboard at / (docs/dashboard.md).\n"
    "Other processes may use DB at the same time. SIGINT/SIGTERM: finish in-flight requests, exit 0.\n"
    "\n"
    "  --host H             address to listen on (default 127.0.0.1; any other needs --token)\n"
    "  --port P             TCP port (default 8080; 0 picks a free one, printed at start)\n"
    "  --token T            writes (inserts, DDL, DML) need Authorization: Bearer T\n"
    "  --read-token R       reads need Bearer R or T\n"
    "  --max-body BYTES     largest request body (default 16777216; all bodies together at most 512 MiB)\n"
    "  --max-rows N         most rows in one insert request (default 1000000)\n"
    "  --max-result N       most rows in one query result (default 10000000)\n"
    "  --query-timeout MS   cancel queries running longer (default 30000; 0 = none)\n"
    "  --threads N          worker threads per query (default: one per core)\n"
    "  --busy-timeout MS    how long a write waits for another process's write lock, and a query for\n"
    "                       query memory that other requests hold (default 10000)\n"
    "  --max-connections N  simultaneous connections (default 512), each served by its own thread\n"
    "  --max-connections-per-address N\n"
    "                       simultaneous connections from one client address (default: a quarter of\n"
    "                       --max-connections)\n"
    "  --header-timeout S   a request's head must arrive within S seconds of the connection's start or its\n"
    "                       previous answer, else the connection is closed (default 10)\n"
    "  --min-body-rate BYTES  a request body may take --header-timeout plus 1 s per BYTES received\n"
    "                       (default 4096); a query answer the same per BYTES sent\n"
    "  --max-result-memory BYTES\n"
    "                       query memory (results waiting to be sent included) of all requests together\n"
    "                       (default 1073741824); one query gets at most half of what is free, waiting\n"
    "                       up to --busy-timeout for memory others hold, else 503\n"
    "  --max-event-streams N  open /v1/events streams (default: --max-connections / 16)\n"
    "  --allow-host NAME    also accept requests whose Host is NAME (repeatable; * accepts any). By default\n"
    "                       only localhost, 127.0.0.1, [::1] and --host are accepted (against DNS rebinding)\n"
    "  --cors-origin URL    let web pages of origin URL (e.g. http://localhost:3000) call the API, with CORS\n"
    "                       (repeatable); pages of any other origin are refused with 403\n"
    "  --allow-file-access  allow SQL COPY ... FROM/TO 'file' (reads and writes files as the server's user;\n"
    "                       off by default, unlike in factdb sql)\n"
    "  --create             create DB if it does not exist (without it a missing DB is an error, so a\n"
    "                       mistyped path never starts a server on a new, empty database)\n"
    "  --read-only          refuse every write with 403 PERMISSION (a server on a PostgreSQL replica, or\n"
    "                       one for a dashboard); on PostgreSQL its statements also run read-only\n"
    "A DB file (or directory) this user may not write is served read-only: writes get 403 PERMISSION.\n"
    "\n"
    "Instead of a file, a PostgreSQL database: postgresql://user@host:port/dbname, or a libpq connection\n"
    "string (\"host=/run/postgresql dbname=facts\"); PG* environment variables fill in what it leaves out.\n"
    "The same endpoints answer in the same shapes, on a pool of connections (docs/http.md, \"PostgreSQL\";\n"
    "what differs is listed there).\n"
    "  --pg-pool N          PostgreSQL connections of this server (default 8); a request waits up to\n"
    "                       --busy-timeout for a free one, then gets 409 BUSY\n"
    "Run factdb pg-setup URL once (and after creating tables) so that change events arrive at once.\n";

static int cmd_serve_parse(int argc, char **argv, http_opts *op, const char **hosts, const char **origins);

int cmd_serve(int argc, char **argv)
{
    http_opts o = {.host = "127.0.0.1", .port = 8080, .max_body = 16u << 20, .max_rows = 1000000,
                   .max_result = 10000000, .query_timeout_ms = 30000, .busy_timeout_ms = 10000,
                   .max_connections = 512, .header_timeout_s = 10, .min_body_rate = 4096};
    /* the repeatable options point into argv, which outlives the server */
    const char **hosts = calloc((size_t)argc, sizeof *hosts), **origins = calloc((size_t)argc, sizeof *origins);
    if (!hosts || !origins) {
        free(hosts);
        free(origins);
        fputs("factdb: out of memory\n", stderr);
        return 1;
    }
    o.allow_hosts = hosts;
    o.cors_origins = origins;
    int rc = cmd_serve_parse(argc, argv, &o, hosts, origins);
    free(hosts);
    free(origins);
    return rc;
}

static int cmd_serve_parse(int argc, char **argv, http_opts *op, const char **hosts, const char **origins)
{
    http_opts o = *op;
    const char *pos = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--allow-file-access")) {
            o.allow_file_access = true;
        } else if (!strcmp(a, "--read-only")) {
            o.read_only = true;
        } else if (!strcmp(a, "--create")) {
            o.create = true;
        } else if (a[0] == '-' && a[1] == '-') {
            if (i + 1 >= argc)
                return cli_usage(USAGE, "%s needs a value", a);
            const char *v = argv[++i];
            long n = cli_parse_ms(v);
            if (!strcmp(a, "--host"))
                o.host = v;
            else if (!strcmp(a, "--token"))
                o.token = v;
            else if (!strcmp(a, "--read-token"))
                o.read_token = v;
            else if (!strcmp(a, "--port") && n >= 0 && n <= 65535)
                o.port = (int)n;
            else if (!strcmp(a, "--max-body") && n > 0)
                o.max_body = (size_t)n;
            else if (!strcmp(a, "--max-rows") && n > 0)
                o.max_rows = (size_t)n;
            else if (!strcmp(a, "--max-result") && n > 0)
                o.max_result = (size_t)n;
            else if (!strcmp(a, "--query-timeout") && n >= 0)
                o.query_timeout_ms = (int)n;
            else if (!strcmp(a, "--threads") && n > 0)
                o.threads = (int)n;
            else if (!strcmp(a, "--busy-timeout") && n >= 0)
                o.busy_timeout_ms = (int)n;
            else if (!strcmp(a, "--max-connections") && n > 0)
                o.max_connections = (unsigned)n;
            else if (!strcmp(a, "--max-connections-per-address") && n > 0)
                o.max_per_address = (unsigned)n;
            else if (!strcmp(a, "--header-timeout") && n > 0 && n <= 3600)
                o.header_timeout_s = (int)n;
            else if (!strcmp(a, "--min-body-rate") && n > 0)
                o.min_body_rate = (size_t)n;
            else if (!strcmp(a, "--max-result-memory") && n >= (1 << 20))
                o.max_result_memory = (size_t)n;
            else if (!strcmp(a, "--pg-pool") && n > 0 && n <= 1000)
                o.pg_pool = (unsigned)n;
            else if (!strcmp(a, "--max-event-streams") && n > 0)
                o.max_event_streams = (unsigned)n;
            else if (!strcmp(a, "--allow-host") && v[0])
                hosts[o.n_allow_hosts++] = v;
            else if (!strcmp(a, "--cors-origin") && v[0])
                origins[o.n_cors_origins++] = v;
            else
                return cli_usage(USAGE, "bad option %s %s", a, v);
            if ((!strcmp(a, "--token") || !strcmp(a, "--read-token")) && strlen(v) < 8)
                return cli_usage(USAGE, "%s must be at least 8 characters", a);
        } else if (!pos) {
            pos = a;
        } else {
            return cli_usage(USAGE, "too many arguments");
        }
    }
    if (!pos)
        return cli_usage(USAGE, "missing the database path");
    o.db_path = pos;
    o.open_pg = pg_backend_open;
    factdb_error err;
    if (http_serve(&o, &err))
        return cli_fail(&err);
    return 0;
}
