/* tcache.c: the columns of the tables inserts go to, kept for a second. Every POST /v1/tables/{t}/rows
 * checks its rows against the table's columns; asking PostgreSQL's catalog each time cost a pooled
 * connection and a round trip per request, and held requests back from the group commit (measured: 25
 * requests per commit from 64 connections). A table's entry lives TABLE_TTL seconds; DDL run through this
 * server (a CREATE, ALTER, DROP ... tag in /v1/sql) and any refused batch forget every entry at once, so a
 * change by another client is seen within a second, or at the first insert it breaks (which PostgreSQL
 * refuses with its own error, and the next request reads the catalog again). What a row leaves out is left
 * out of the COPY (copy.c), so a default changed meanwhile still applies.
 * Invariant: callers get their own copy; entries are read and replaced under tmu. */
#include "pg_int.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE_TTL 1.0

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A deep copy of table t as a list of one (freed with pg_tables_free), or NULL. */
static http_table *copy_table(const http_table *t)
{
    http_table *c = calloc(1, sizeof *c);
    size_t n = t->info.ncols ? t->info.ncols : 1;
    if (!c || !(c->info.cols = malloc(n * sizeof *c->info.cols)) || !(c->types = malloc(n * sizeof *c->types)) ||
        !(c->has_default = malloc(n))) {
        if (c) {
            free(c->info.cols);
            free(c->types);
        }
        free(c);
        return NULL;
    }
    factdb_column_info *cols = c->info.cols;
    c->info = t->info;
    c->info.cols = memcpy(cols, t->info.cols, t->info.ncols * sizeof *cols);
    memcpy(c->types, t->types, t->info.ncols * sizeof *c->types);
    if (t->has_default)
        memcpy(c->has_default, t->has_default, t->info.ncols);
    else
        memset(c->has_default, 0, n);
    c->row_count_known = t->row_count_known;
    return c;
}

int pg_table_cached(http_backend *b, const char *name, http_table **out, factdb_error *err)
{
    double t = now_s();
    pthread_mutex_lock(&b->tmu);
    uint64_t gen = b->tgen;  /* a clear while the catalog is read makes what was read not kept */
    for (unsigned i = 0; i < PG_TABLE_CACHE; i++) {
        pg_cached_table *e = &b->tcache[i];
        if (e->table && t - e->at < TABLE_TTL && !strcmp(e->table->info.name, name)) {
            *out = copy_table(e->table);
            pthread_mutex_unlock(&b->tmu);
            return *out ? 0 : base_err(err, FACTDB_NOMEM, "out of memory");
        }
    }
    pthread_mutex_unlock(&b->tmu);
    int rc = pg_table(b, name, out, err);
    if (rc)
        return rc;
    http_table *keep = copy_table(*out);
    if (!keep)
        return 0;  /* answered all the same, not kept */
    pthread_mutex_lock(&b->tmu);
    if (gen != b->tgen) {
        pthread_mutex_unlock(&b->tmu);
        pg_tables_free(b, keep, 1);
        return 0;
    }
    pg_cached_table *slot = &b->tcache[0];
    for (unsigned i = 0; i < PG_TABLE_CACHE; i++) {  /* the same table's entry, else an empty or the oldest */
        pg_cached_table *e = &b->tcache[i];
        if (e->table && !strcmp(e->table->info.name, name)) {
            slot = e;
            break;
        }
        if (!e->table || (slot->table && e->at < slot->at))
            slot = e;
    }
    pg_tables_free(b, slot->table, slot->table ? 1 : 0);
    slot->table = keep;
    slot->at = t;
    pthread_mutex_unlock(&b->tmu);
    return 0;
}

void pg_table_cache_clear(http_backend *b)
{
    pthread_mutex_lock(&b->tmu);
    b->tgen++;
    for (unsigned i = 0; i < PG_TABLE_CACHE; i++) {
        pg_tables_free(b, b->tcache[i].table, b->tcache[i].table ? 1 : 0);
        b->tcache[i].table = NULL;
    }
    pthread_mutex_unlock(&b->tmu);
}
