/* test_unique.c: the keys of PRIMARY KEY and UNIQUE constraints (src/store/unique.c) and their catalog
 * record: equal SQL values give equal bytes (-0 and 0, every NaN), NULL gives no key, distinct values and
 * distinct tables or constraints never share a key, and a version-4 table record round-trips. */
#include "unit_db.h"
#include "store/store_int.h"
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void table2(store_table *tab)
{
    factdb_column_def defs[] = {{"a", FACTDB_BIGINT, 0, 0, false}, {"d", FACTDB_DOUBLE, 0, 0, false},
                                {"s", FACTDB_TEXT, 0, 0, false}};
    cr_assert_eq(store_table_build("t", defs, 3, tab, NULL), 0);
    tab->id = 7;
    uint16_t ad[] = {0, 1}, s[] = {2};
    cr_assert_eq(store_table_add_unique(tab, NULL, true, ad, 2, NULL), 0);
    cr_assert_eq(store_table_add_unique(tab, NULL, false, s, 1, NULL), 0);
}

static size_t key_of(const store_table *tab, int u, int64_t a, double d, int64_t s, bool s_null, unsigned char *k)
{
    int64_t dv;
    memcpy(&dv, &d, 8);
    int64_t c0[] = {a}, c1[] = {dv}, c2[] = {s};
    uint8_t v0[] = {1}, v1[] = {1}, v2[] = {!s_null};
    const int64_t *vals[] = {c0, c1, c2};
    const uint8_t *valid[] = {v0, v1, v2};
    return store_unique_key(tab, u, vals, valid, 0, k);
}

Test(unique, key_encoding)
{
    store_table tab;
    table2(&tab);
    cr_assert_str_eq(tab.uniq[0].name, "t_pkey");
    cr_assert_str_eq(tab.uniq[1].name, "t_s_key");
    cr_assert(tab.cols[0].flags & STORE_COL_NOT_NULL, "PRIMARY KEY implies NOT NULL");
    unsigned char k1[STORE_UNIQUE_KEY_MAX], k2[STORE_UNIQUE_KEY_MAX];
    size_t n1 = key_of(&tab, 0, 5, 0.0, 0, false, k1), n2 = key_of(&tab, 0, 5, -0.0, 0, false, k2);
    cr_assert_eq(n1, 5 + 16);
    cr_assert_eq(n1, n2);
    cr_assert(!memcmp(k1, k2, n1), "0 and -0 are one value");
    n1 = key_of(&tab, 0, 5, NAN, 0, false, k1);
    n2 = key_of(&tab, 0, 5, -NAN, 0, false, k2);
    cr_assert(n1 == n2 && !memcmp(k1, k2, n1), "every NaN is one value");
    n2 = key_of(&tab, 0, 6, NAN, 0, false, k2);
    cr_assert(memcmp(k1, k2, n1), "distinct values, distinct keys");
    /* big-endian, sign flipped: byte order is numeric order */
    n1 = key_of(&tab, 0, -1, 1.0, 0, false, k1);
    n2 = key_of(&tab, 0, 1, 1.0, 0, false, k2);
    cr_assert_lt(memcmp(k1, k2, n1), 0);
    /* the prefix: table id, constraint */
    cr_assert_eq(k1[0] << 24 | k1[1] << 16 | k1[2] << 8 | k1[3], 7);
    cr_assert_eq(k1[4], 0);
    n1 = key_of(&tab, 1, 0, 0, 42, false, k1);
    cr_assert_eq(n1, 5 + 8);
    cr_assert_eq(k1[4], 1);
    cr_assert_eq(key_of(&tab, 1, 0, 0, 42, true, k1), 0, "a NULL in the key: no key, never a conflict");
    store_table_cleanup(&tab);
}

Test(unique, definitions)
{
    store_table tab;
    table2(&tab);
    factdb_error err;
    uint16_t a[] = {0}, aa[] = {0, 0};
    cr_assert_eq(store_table_add_unique(&tab, NULL, true, a, 1, &err), FACTDB_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "multiple primary keys"), "%s", err.message);
    cr_assert_eq(store_table_add_unique(&tab, NULL, false, aa, 2, &err), FACTDB_INVALID_ARGUMENT);
    cr_assert_eq(store_table_add_unique(&tab, NULL, false, a, 1, &err), 0);
    cr_assert_str_eq(tab.uniq[2].name, "t_a_key");
    cr_assert_eq(store_table_add_unique(&tab, NULL, false, a, 1, &err), 0, "the same columns again: merged");
    cr_assert_eq(tab.nuniq, 3);
    store_table_cleanup(&tab);
}

/* A table with constraints is stored as record version 4 and read back whole; the file says format 4. */
Test(unique, catalog_round_trip)
{
    char path[200];
    factdb *db;
    factdb_session *s;
    unit_db_open("unique", path, sizeof path, &db, &s);
    factdb_result *r;
    factdb_error err;
    size_t used;
    const char *sql = "CREATE TABLE t (a bigint, d double precision, s text, PRIMARY KEY (a, d), UNIQUE (s))";
    cr_assert_eq(factdb_session_exec(s, sql, strlen(sql), NULL, 0, &used, &r, &err), 0, "%s", err.message);
    factdb_result_free(r);
    store_txn *t;
    store_table tab;
    cr_assert_eq(store_txn_read(db->env, &t, NULL), 0);
    cr_assert_eq(store_table_get(t, "t", &tab, NULL), 0);
    cr_assert_eq(tab.nuniq, 2);
    cr_assert_str_eq(tab.uniq[0].name, "t_pkey");
    cr_assert_eq(tab.uniq[0].primary, 1);
    cr_assert_eq(tab.uniq[0].ncols, 2);
    cr_assert_eq(tab.uniq[0].cols[1], 1);
    cr_assert_str_eq(tab.uniq[1].name, "t_s_key");
    cr_assert_eq(tab.uniq[1].cols[0], 2);
    MDB_val k = {6, "format"}, v;
    cr_assert_eq(mdb_get(t->txn, db->env->meta, &k, &v), 0);
    uint32_t version;
    memcpy(&version, (const char *)v.mv_data + 8, 4);
    cr_assert_eq(version, 4);
    store_table_cleanup(&tab);
    store_txn_abort(t);
    unit_db_close(path, db, s);
}

static void exec_sql(factdb_session *s, const char *sql)
{
    factdb_result *r;
    factdb_error err;
    size_t used;
    cr_assert_eq(factdb_session_exec(s, sql, strlen(sql), NULL, 0, &used, &r, &err), 0, "%s: %s", sql, err.message);
    factdb_result_free(r);
}

static void collect(void *ctx, const char *problem)
{
    char *out = ctx;
    strncat(out, problem, 4000 - strlen(out) - 2);
    strcat(out, "\n");
}

/* factdb check finds a live row whose key is missing from the index. */
Test(unique, check_finds_a_missing_key)
{
    char path[200];
    factdb *db;
    factdb_session *s;
    unit_db_open("uniqcheck", path, sizeof path, &db, &s);
    exec_sql(s, "CREATE TABLE t (id bigint PRIMARY KEY, s text UNIQUE)");
    exec_sql(s, "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, NULL)");
    exec_sql(s, "DELETE FROM t WHERE id = 1");
    exec_sql(s, "UPDATE t SET id = id * 10");
    factdb_session_free(s);
    factdb_close(db);
    factdb_error err;
    cr_assert_eq(factdb_open(path, NULL, &db, &err), 0, "%s", err.message);
    char out[4000] = "";
    cr_assert_eq(factdb_check(db, collect, out, &err), 0, "%s", out);
    /* remove the key of id 20 */
    store_txn *t;
    cr_assert_eq(store_gate_acquire(db->env, 1000, NULL), 0);
    cr_assert_eq(store_txn_write(db->env, false, &t, NULL), 0);
    store_table tab;
    cr_assert_eq(store_table_get(t, "t", &tab, NULL), 0);
    int64_t c0[] = {20};
    uint8_t v0[] = {1};
    const int64_t *vals[] = {c0, NULL};
    const uint8_t *valid[] = {v0, NULL};
    unsigned char key[STORE_UNIQUE_KEY_MAX];
    size_t kl = store_unique_key(&tab, 0, vals, valid, 0, key);
    MDB_val k = {kl, key};
    cr_assert_eq(mdb_del(t->txn, db->env->uniq, &k, NULL), 0);
    cr_assert_eq(store_txn_commit(t, NULL), 0);
    store_gate_release(db->env);
    store_table_cleanup(&tab);
    out[0] = 0;
    cr_assert_eq(factdb_check(db, collect, out, &err), FACTDB_CORRUPT);
    cr_assert(strstr(out, "its key of constraint \"t_pkey\" is missing from the unique-key index"), "%s", out);
    factdb_close(db);
    unit_db_remove(path);
}

static uint64_t count_of(factdb_session *s, const char *sql)
{
    factdb_result *r;
    factdb_error err;
    size_t used;
    cr_assert_eq(factdb_session_exec(s, sql, strlen(sql), NULL, 0, &used, &r, &err), 0, "%s: %s", sql, err.message);
    char buf[64];
    size_t len;
    const char *v = factdb_result_text(r, 0, 0, buf, sizeof buf, &len);
    uint64_t n = strtoull(v, NULL, 10);
    factdb_result_free(r);
    return n;
}

/* An UPDATE's own transaction reads through the process's shared dictionary cache until it adds strings;
 * strings added by an UPDATE of several chunks, or by one that fails, never reach that cache wrongly:
 * later statements of the same process read and find the right strings. */
Test(unique, update_strings_and_the_shared_dictionary)
{
    char path[200];
    factdb *db;
    factdb_session *s;
    unit_db_open("updict", path, sizeof path, &db, &s);
    exec_sql(s, "CREATE TABLE t (id bigint PRIMARY KEY, s text)");
    exec_sql(s, "INSERT INTO t VALUES (0, 'a'), (1, 'b'), (2, 'c'), (3, 'd')");
    char sql[200];
    for (int i = 0, n = 4; i < 15; i++, n *= 2) {  /* 131,072 rows: two full chunks */
        snprintf(sql, sizeof sql, "INSERT INTO t SELECT id + %d, s FROM t", n);
        exec_sql(s, sql);
    }
    cr_assert_eq(count_of(s, "SELECT count(*) FROM t"), 131072);
    exec_sql(s, "UPDATE t SET s = s || '-' || (id % 1000)");  /* new strings across several chunks */
    cr_assert_eq(count_of(s, "SELECT count(DISTINCT s) FROM t"), 1000);  /* id % 1000 decides id % 4 */
    cr_assert_eq(count_of(s, "SELECT count(*) FROM t WHERE s = 'b-1'"), 132);
    /* a failing UPDATE adds strings, then rolls back */
    factdb_result *r;
    factdb_error err;
    size_t used;
    const char *bad = "UPDATE t SET s = s || '!', id = id % 3";
    cr_assert_eq(factdb_session_exec(s, bad, strlen(bad), NULL, 0, &used, &r, &err), FACTDB_UNIQUE_VIOLATION,
                 "%s", err.message);
    cr_assert_eq(count_of(s, "SELECT count(*) FROM t WHERE s LIKE '%!'"), 0);
    exec_sql(s, "INSERT INTO t VALUES (-1, 'b-1!')");
    cr_assert_eq(count_of(s, "SELECT count(*) FROM t WHERE s = 'b-1!'"), 1);
    cr_assert_eq(count_of(s, "SELECT count(DISTINCT s) FROM t"), 1001);
    char out[4000] = "";
    cr_assert_eq(factdb_check(db, collect, out, &err), 0, "%s", out);
    unit_db_close(path, db, s);
}

/* The public API: factdb_table_info lists a table's keys as declared; a creating appender takes keys
 * (factdb_appender_add_key, as `factdb copy` from PostgreSQL uses it) that hold for its own rows, in a small
 * commit and in a load of several chunks, and the table it creates has them. */
Test(unique, public_api_lists_and_creates_keys)
{
    char path[200];
    factdb *db;
    factdb_session *s;
    unit_db_open("unique-api", path, sizeof path, &db, &s);
    exec_sql(s, "CREATE TABLE t (a bigint, d double precision, s text UNIQUE, CONSTRAINT ad PRIMARY KEY (a, d))");
    factdb_table_info ti;
    factdb_error err;
    cr_assert_eq(factdb_table_info_get(db, "t", &ti, &err), 0, "%s", err.message);
    cr_assert_eq(ti.nkeys, 2);
    cr_assert_str_eq(ti.keys[0].name, "t_s_key");  /* column constraints first, as PostgreSQL orders them */
    cr_assert(!ti.keys[0].primary && ti.keys[0].ncols == 1 && ti.keys[0].cols[0] == 2);
    cr_assert_str_eq(ti.keys[1].name, "ad");
    cr_assert(ti.keys[1].primary && ti.keys[1].ncols == 2 && ti.keys[1].cols[0] == 0 && ti.keys[1].cols[1] == 1);
    factdb_table_info_free(&ti);

    factdb_column_def defs[] = {{"id", FACTDB_BIGINT, 0, 0, false}, {"k", FACTDB_TEXT, 0, 0, false}};
    uint16_t id[] = {0}, k[] = {1}, bad[] = {2}, twice[] = {0, 0};
    factdb_appender *a;
    /* an appender of a table that exists takes no key */
    cr_assert_eq(factdb_appender_new(db, "t", &a, &err), 0, "%s", err.message);
    cr_assert_eq(factdb_appender_add_key(a, NULL, false, id, 1, &err), FACTDB_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "table an appender creates"), "%s", err.message);
    factdb_appender_free(a);
    for (int big = 0; big < 2; big++) {
        const char *name = big ? "big" : "small";
        uint64_t rows = big ? 3 * FACTDB_CHUNK_ROWS : 10;
        cr_assert_eq(factdb_appender_create(db, name, defs, 2, &a, &err), 0, "%s", err.message);
        cr_assert_eq(factdb_appender_add_key(a, NULL, true, bad, 1, &err), FACTDB_INVALID_ARGUMENT);
        cr_assert_eq(factdb_appender_add_key(a, NULL, true, twice, 2, &err), FACTDB_INVALID_ARGUMENT);
        cr_assert_eq(factdb_appender_add_key(a, NULL, true, id, 0, &err), FACTDB_INVALID_ARGUMENT);
        cr_assert_eq(factdb_appender_add_key(a, NULL, true, id, 1, &err), 0, "%s", err.message);
        cr_assert(factdb_appender_column(a, 0)->not_null, "a PRIMARY KEY's column is NOT NULL");
        cr_assert_eq(factdb_appender_add_key(a, NULL, true, k, 1, &err), FACTDB_INVALID_ARGUMENT);
        cr_assert(strstr(err.message, "multiple primary keys"), "%s", err.message);
        cr_assert_eq(factdb_appender_add_key(a, "k_unique", false, k, 1, &err), 0, "%s", err.message);
        /* a duplicate id in the last row: the load fails (a load writes each full chunk as it fills, so at
         * the row that fills the last one; a small commit at commit), and no table is left */
        int rc = 0;
        for (uint64_t i = 0; i < rows && !rc; i++) {
            char txt[32];
            int n = snprintf(txt, sizeof txt, "k%llu", (unsigned long long)i);
            cr_assert_eq(factdb_append_int64(a, 0, i + 1 == rows ? 0 : (int64_t)i, &err), 0);
            cr_assert_eq(factdb_append_text(a, 1, txt, (size_t)n, &err), 0);
            rc = factdb_append_row_end(a, &err);
        }
        if (!rc)
            rc = factdb_appender_commit(a, &err);
        cr_assert_eq(rc, FACTDB_UNIQUE_VIOLATION, "%s", err.message);
        cr_assert(strstr(err.message, big ? "\"big_pkey\"" : "\"small_pkey\""), "%s", err.message);
        cr_assert_eq(factdb_table_info_get(db, name, &ti, &err), FACTDB_NO_TABLE);
        factdb_appender_free(a);
        /* without the duplicate: the table and its keys */
        cr_assert_eq(factdb_appender_create(db, name, defs, 2, &a, &err), 0, "%s", err.message);
        cr_assert_eq(factdb_appender_add_key(a, NULL, true, id, 1, &err), 0, "%s", err.message);
        cr_assert_eq(factdb_appender_add_key(a, "k_unique", false, k, 1, &err), 0, "%s", err.message);
        for (uint64_t i = 0; i < rows; i++) {
            char txt[32];
            int n = snprintf(txt, sizeof txt, "k%llu", (unsigned long long)i);
            cr_assert_eq(factdb_append_int64(a, 0, (int64_t)i, &err), 0);
            cr_assert_eq(factdb_append_text(a, 1, txt, (size_t)n, &err), 0);
            cr_assert_eq(factdb_append_row_end(a, &err), 0, "%s", err.message);
        }
        cr_assert_eq(factdb_appender_add_key(a, NULL, false, k, 1, &err), FACTDB_INVALID_ARGUMENT, "rows appended");
        cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
        factdb_appender_free(a);
        cr_assert_eq(factdb_table_info_get(db, name, &ti, &err), 0, "%s", err.message);
        cr_assert_eq(ti.row_count, rows);
        cr_assert_eq(ti.nkeys, 2);
        cr_assert(ti.keys[0].primary && ti.cols[0].not_null);
        cr_assert_str_eq(ti.keys[1].name, "k_unique");
        factdb_table_info_free(&ti);
        char sql[100];
        snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (%llu, 'new')", name, (unsigned long long)rows - 1);
        factdb_result *r = NULL;
        size_t used;
        cr_assert_eq(factdb_session_exec(s, sql, strlen(sql), NULL, 0, &used, &r, &err), FACTDB_UNIQUE_VIOLATION);
        snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (%llu, 'k1')", name, (unsigned long long)rows);
        cr_assert_eq(factdb_session_exec(s, sql, strlen(sql), NULL, 0, &used, &r, &err), FACTDB_UNIQUE_VIOLATION);
        cr_assert(strstr(err.message, "\"k_unique\""), "%s", err.message);
    }
    /* a refused key changes nothing: a PRIMARY KEY under a taken name leaves its column nullable */
    cr_assert_eq(factdb_appender_create(db, "nn", defs, 2, &a, &err), 0, "%s", err.message);
    cr_assert_eq(factdb_appender_add_key(a, "x", false, k, 1, &err), 0, "%s", err.message);
    cr_assert_eq(factdb_appender_add_key(a, "x", true, id, 1, &err), FACTDB_INVALID_ARGUMENT);
    cr_assert(strstr(err.message, "already exists"), "%s", err.message);
    cr_assert(!factdb_appender_column(a, 0)->not_null);
    cr_assert_eq(factdb_append_null(a, 0, &err), 0);
    cr_assert_eq(factdb_append_row_end(a, &err), 0, "%s", err.message);
    cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
    factdb_appender_free(a);
    cr_assert_eq(factdb_check(db, NULL, NULL, &err), 0, "the failed loads left nothing behind: %s", err.message);
    unit_db_close(path, db, s);
}
