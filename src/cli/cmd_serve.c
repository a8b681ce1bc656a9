/* cmd_serve.c: factdb serve [--host H] [--port P] [--token T] [--read-token R] [--max-body BYTES]
 * [--query-timeout MS] [--threads N] [--busy-timeout MS] [--max-connections N] DB. */
#include "cli.h"
#include "http/http.h"
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: factdb serve [--host 127.0.0.1] [--port 8080] [--token T] [--read-token R] [--max-body BYTES]\n"
    "                    [--max-rows N] [--max-result N] [--query-timeout MS] [--threads N]\n"
    "                    [--busy-timeout MS] [--max-connections N] DB\n"
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
    "  --busy-timeout MS    how long a write waits for another process's write lock (default 10000)\n"
    "  --max-connections N  simultaneous connections (default 512), each served by its own thread\n";

int cmd_serve(int argc, char **argv)
{
    http_opts o = {.host = "127.0.0.1", .port = 8080, .max_body = 16u << 20, .max_rows = 1000000,
                   .max_result = 10000000, .query_timeout_ms = 30000, .busy_timeout_ms = 10000,
                   .max_connections = 512};
    const char *pos = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (a[0] == '-' && a[1] == '-') {
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
    factdb_error err;
    if (http_serve(&o, &err))
        return cli_fail(&err);
    return 0;
}
