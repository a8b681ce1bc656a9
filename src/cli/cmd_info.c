/* cmd_info.c: factdb info DB and factdb check DB. */
#include "cli.h"
#include <string.h>

static const char INFO_USAGE[] =
    "usage: factdb info DB\n"
    "\n"
    "Shows each table with its columns and types, row count, chunk count and bytes, plus the file size,\n"
    "data_version and the processes currently reading.\n";

static const char CHECK_USAGE[] =
    "usage: factdb check DB\n"
    "\n"
    "Verifies every chunk (checksums, encodings, row counts), zone map and dictionary of DB in one\n"
    "snapshot. Exits 0 when all is sound, else 1 and names each problem.\n";

static int one_db_arg(int argc, char **argv, const char *usage, const char **db)
{
    *db = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage(usage, "unknown option %s", argv[i]);
        if (*db)
            return cli_usage(usage, "too many arguments");
        *db = argv[i];
    }
    if (!*db)
        return cli_usage(usage, "expected DB");
    return -1;
}

int cmd_info(int argc, char **argv)
{
    const char *path;
    int rc = one_db_arg(argc, argv, INFO_USAGE, &path);
    if (rc >= 0)
        return rc;
    factdb_error err;
    factdb *db;
    factdb_options o = {.busy_timeout_ms = -1, .read_only = true};
    if (factdb_open(path, &o, &db, &err))
        return cli_fail(&err);
    factdb_table_info *tabs;
    size_t n;
    factdb_db_info di;
    if (factdb_table_list(db, &tabs, &n, &err) || factdb_db_info_get(db, &di, &err)) {
        factdb_close(db);
        return cli_fail(&err);
    }
    printf("database %s\n", path);
    printf("  file size     %llu bytes (%.1f MiB)\n", (unsigned long long)di.file_bytes, di.file_bytes / 1048576.0);
    printf("  data_version  %llu\n", (unsigned long long)di.data_version);
    /* info itself always opens read-only; say so only when nobody here could write the file */
    const char *why = factdb_read_only_reason(db);
    if (why && strcmp(why, "opened read-only") != 0)
        printf("  read-only     %s\n", why);
    printf("  tables        %zu\n", n);
    /* This process holds no reader slot between calls, so every listed reader is another process. */
    printf("  readers       %zu live (of %d slots)", di.nreaders, di.max_readers);
    for (size_t i = 0; i < di.nreaders && i < 64; i++)
        printf("%s pid %d%s", i ? "," : ":", di.readers[i].pid, di.readers[i].txn_id ? " (reading)" : "");
    printf("\n");
    for (size_t i = 0; i < n; i++) {
        const factdb_table_info *t = &tabs[i];
        printf("\ntable %s: %llu rows, %llu chunks, %llu bytes\n", t->name, (unsigned long long)t->row_count,
               (unsigned long long)t->chunk_count, (unsigned long long)t->bytes);
        for (size_t c = 0; c < t->ncols; c++) {
            char tn[40];
            printf("  %-24s %s%s\n", t->cols[c].name,
                   factdb_type_name(t->cols[c].type, t->cols[c].precision, t->cols[c].scale, tn, sizeof tn),
                   t->cols[c].not_null ? " not null" : "");
        }
    }
    factdb_table_list_free(tabs, n);
    factdb_close(db);
    return 0;
}

static void report(void *ctx, const char *problem)
{
    int *n = ctx;
    (*n)++;
    fprintf(stderr, "factdb: %s\n", problem);
}

int cmd_check(int argc, char **argv)
{
    const char *path;
    int rc = one_db_arg(argc, argv, CHECK_USAGE, &path);
    if (rc >= 0)
        return rc;
    factdb_error err;
    factdb *db;
    factdb_options o = {.busy_timeout_ms = -1, .read_only = true};
    if (factdb_open(path, &o, &db, &err))
        return cli_fail(&err);
    int problems = 0;
    rc = factdb_check(db, report, &problems, &err);
    factdb_close(db);
    if (rc == FACTDB_CORRUPT && problems) {
        fprintf(stderr, "factdb: check found %d problem%s in %s\n", problems, problems == 1 ? "" : "s", path);
        return EXIT_FAIL;
    }
    if (rc)
        return cli_fail(&err);
    printf("%s: ok\n", path);
    return 0;
}
