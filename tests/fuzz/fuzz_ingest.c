/* fuzz_ingest.c: libFuzzer target for the insert bodies of POST /v1/tables/{name}/rows: ingest_rows
 * (src/http/ingest.c) is called directly, as the route does after reading the body, so no socket and no
 * libmicrohttpd are involved: JSON and NDJSON through jansson, CSV through the ingest reader, values
 * checked against the table's schema, then queued for the committer thread and committed.
 * The first input byte chooses: bits 0-1 the format (0 JSON, 1 NDJSON, 2 CSV, 3 JSON), bits 2-3 the table
 * (sales, t, f, g of tests/fuzz/fuzz_common.h). The rest is the body, in an exactly-sized buffer (NULL when
 * empty, as the server hands it over).
 * Invariant: every input meets the same database; after an input whose rows were committed the database
 * is recreated (the committer stopped and started again around it). */
#include "fuzz_common.h"
#include "http/backend.h"

static char db_path[512];
static http_server *srv;
static uint64_t db_version;

static void server_start(void)
{
    factdb_error err;
    fuzz_remove_db(db_path);
    factdb *db;
    if (factdb_open(db_path, NULL, &db, &err)) {
        fprintf(stderr, "fuzz_ingest: %s\n", err.message);
        abort();
    }
    fuzz_exec_script(db, FUZZ_SCHEMA);
    factdb_close(db);  /* the backend opens it again (one handle per file in a process) */
    if (http_backend_embedded_open(&srv->o, &srv->be, &srv->bs, &err) ||
        srv->be->data_version(srv->bs, &db_version, &err)) {
        fprintf(stderr, "fuzz_ingest: %s\n", err.message);
        abort();
    }
    atomic_store(&srv->closed, false);
    if (ingest_start(srv, &err)) {
        fprintf(stderr, "fuzz_ingest: %s\n", err.message);
        abort();
    }
}

static void server_stop(void)
{
    ingest_stop(srv);
    srv->be->close(srv->bs);
    srv->bs = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(db_path, sizeof db_path, "%s/ingest.factdb", fuzz_dir());
    srv = calloc(1, sizeof *srv);
    if (!srv)
        abort();
    /* the limits factdb serve uses by default (src/cli/cmd_serve.c), smaller where a fuzzer needs it */
    srv->o.db_path = db_path;
    srv->o.max_body = (size_t)1 << 20;
    srv->o.max_rows = 10000;
    srv->o.max_result = 10000;
    srv->o.threads = 1;
    srv->o.create = true;
    pthread_mutex_init(&srv->mu, NULL);
    pthread_mutex_init(&srv->qmu, NULL);
    pthread_mutex_init(&srv->wmu, NULL);
    pthread_cond_init(&srv->qcv, NULL);
    pthread_cond_init(&srv->donecv, NULL);
    server_start();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return -1;
    static const rows_format formats[] = {ROWS_JSON, ROWS_NDJSON, ROWS_CSV, ROWS_JSON};
    static const char *const tables[] = {"sales", "t", "f", "g"};
    rows_format fmt = formats[data[0] & 3];
    const char *table = tables[(data[0] >> 2) & 3];
    /* as the route passes it: an empty body has no buffer at all (src/http/server.c, rq->body) */
    size_t len = size - 1;
    char *body = len ? malloc(len) : NULL;
    if (len && !body)
        return 0;
    if (len)
        memcpy(body, data + 1, len);
    uint64_t inserted, version;
    char colname[FACTDB_NAME_MAX + 1];
    factdb_error err;
    int rc = ingest_rows(srv, table, fmt, body, len, &inserted, &version, colname, sizeof colname, &err);
    fuzz_check_error(&err, rc, len);
    if (fuzz_invariants_on() && rc == 0 && inserted > srv->o.max_rows) {
        fprintf(stderr, "fuzz invariant: %llu rows inserted, over the limit\n", (unsigned long long)inserted);
        abort();
    }
    free(body);
    uint64_t now = db_version;
    srv->be->data_version(srv->bs, &now, &err);
    if (now != db_version) {
        server_stop();
        server_start();
    }
    return 0;
}
