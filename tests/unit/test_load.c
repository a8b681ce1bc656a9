/* test_load.c: loads in several transactions (src/store/loadmark.c). A dead loader's unpublished chunks
 * are reclaimed by the next writer, found dead by its free lock byte; a live load of the same process
 * (whose lock the kernel never reports as a conflict) is left alone; a load given up removes its chunks. */
#include "unit_db.h"
#include "store/store_int.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t marks(factdb *db)
{
    store_txn *t;
    store_load_mark *m;
    size_t n;
    cr_assert_eq(store_txn_read(db->env, &t, NULL), 0);
    cr_assert_eq(store_load_marks(t, 0, &m, &n, NULL), 0);
    free(m);
    store_txn_abort(t);
    return n;
}

/* Chunks of table `name` in the file, published or not. */
static size_t chunks_in_file(factdb *db, const char *name)
{
    store_txn *t;
    store_table tab;
    store_chunk_ref *list;
    size_t n;
    int idx = 0;
    cr_assert_eq(store_txn_read(db->env, &t, NULL), 0);
    cr_assert_eq(store_table_get(t, name, &tab, NULL), 0);
    cr_assert_eq(store_chunk_list(t, &tab, &idx, 1, true, &list, &n, NULL), 0);
    store_chunk_list_free(list, n);
    store_table_cleanup(&tab);
    store_txn_abort(t);
    return n;
}

static uint64_t rows(factdb *db, const char *name)
{
    factdb_table_info info;
    factdb_error err;
    cr_assert_eq(factdb_table_info_get(db, name, &info, &err), 0, "%s", err.message);
    uint64_t n = info.row_count;
    factdb_table_info_free(&info);
    return n;
}

/* Appends n rows (x = from + i, s = "k<from + i>") to a; a full chunk makes the load write it. */
static void append(factdb_appender *a, int64_t from, int n)
{
    factdb_error err;
    for (int i = 0; i < n; i++) {
        char s[32];
        int len = snprintf(s, sizeof s, "k%lld", (long long)(from + i));
        cr_assert_eq(factdb_append_int64(a, 0, from + i, &err), 0);
        cr_assert_eq(factdb_append_text(a, 1, s, (size_t)len, &err), 0);
        cr_assert_eq(factdb_append_row_end(a, &err), 0, "%s", err.message);
    }
}

Test(load, a_dead_loaders_chunks_are_reclaimed_a_live_load_is_not)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/factdb-test-load-dead-%d.db", (int)getpid());
    unit_db_remove(path);
    factdb_column_def cols[] = {{"x", FACTDB_BIGINT, 0, 0, false}, {"s", FACTDB_TEXT, 0, 0, false}};
    /* The child opens the file after the fork (an LMDB environment must not cross one), writes one chunk of a
     * load and dies without publishing it: the kernel drops its lock byte. */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        factdb *db;
        factdb_error err;
        factdb_appender *a;
        if (factdb_open(path, NULL, &db, &err) || factdb_create_table(db, "t", cols, 2, &err) ||
            factdb_appender_new(db, "t", &a, &err))
            _exit(2);
        append(a, 0, FACTDB_CHUNK_ROWS + 10);
        _exit(0);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    factdb *db;
    factdb_error err;
    cr_assert_eq(factdb_open(path, NULL, &db, &err), 0, "%s", err.message);
    cr_assert_eq(marks(db), 1);
    cr_assert_eq(chunks_in_file(db, "t"), 1);
    cr_assert_eq(rows(db, "t"), 0);  /* readers never see it */
    /* This process's own load: its first chunk's transaction reclaims the dead one. */
    factdb_appender *a;
    cr_assert_eq(factdb_appender_new(db, "t", &a, &err), 0);
    append(a, 1000000, FACTDB_CHUNK_ROWS + 5);
    cr_assert_eq(marks(db), 1);
    cr_assert_eq(chunks_in_file(db, "t"), 1);
    /* Another writer of this process leaves the live load alone, though the kernel reports its byte free. */
    cr_assert_eq(factdb_create_table(db, "u", cols, 1, &err), 0, "%s", err.message);
    cr_assert_eq(marks(db), 1);
    cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
    factdb_appender_free(a);
    cr_assert_eq(marks(db), 0);
    cr_assert_eq(rows(db, "t"), FACTDB_CHUNK_ROWS + 5);
    cr_assert_eq(chunks_in_file(db, "t"), 2);
    factdb_close(db);
    unit_db_remove(path);
}

Test(load, a_load_given_up_removes_its_chunks)
{
    char path[256];
    factdb *db;
    factdb_session *s;
    factdb_error err;
    unit_db_open("load-rollback", path, sizeof path, &db, &s);
    factdb_column_def cols[] = {{"x", FACTDB_BIGINT, 0, 0, false}, {"s", FACTDB_TEXT, 0, 0, false}};
    cr_assert_eq(factdb_create_table(db, "t", cols, 2, &err), 0);
    factdb_appender *a;
    cr_assert_eq(factdb_appender_new(db, "t", &a, &err), 0);
    append(a, 0, 2 * FACTDB_CHUNK_ROWS + 1);
    cr_assert_eq(marks(db), 1);
    cr_assert_eq(chunks_in_file(db, "t"), 2);
    factdb_appender_rollback(a);
    cr_assert_eq(marks(db), 0);
    cr_assert_eq(chunks_in_file(db, "t"), 0);
    cr_assert_eq(rows(db, "t"), 0);
    /* the appender is usable again, and a second load starts past the first one's range */
    append(a, 0, FACTDB_CHUNK_ROWS + 1);
    cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
    factdb_appender_free(a);
    cr_assert_eq(rows(db, "t"), FACTDB_CHUNK_ROWS + 1);
    cr_assert_eq(factdb_check(db, NULL, NULL, &err), 0, "%s", err.message);
    unit_db_close(path, db, s);
}

/* The dictionary size of text column `col` of table `name`, as published. */
static uint32_t dict_count(factdb *db, const char *name, uint16_t col)
{
    store_txn *t;
    store_table tab;
    cr_assert_eq(store_txn_read(db->env, &t, NULL), 0);
    cr_assert_eq(store_table_get(t, name, &tab, NULL), 0);
    uint32_t n = tab.cols[col].dict_count;
    store_table_cleanup(&tab);
    store_txn_abort(t);
    return n;
}

/* Appends one text row: the string fmt with i (or fmt alone when it has no %d). */
static void append_text(factdb_appender *a, const char *fmt, int i)
{
    factdb_error err;
    char s[32];
    int len = snprintf(s, sizeof s, fmt, i);
    cr_assert_eq(factdb_append_text(a, 0, s, (size_t)len, &err), 0);
    cr_assert_eq(factdb_append_row_end(a, &err), 0, "%s", err.message);
}

/* A load skips dictionary lookups while every string of the column is its own; strings that were there
 * before it, and strings another writer adds between its chunks, must still get their existing ids. */
Test(load, a_load_reuses_dictionary_ids_from_before_and_from_other_writers)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/factdb-test-load-dictids-%d.db", (int)getpid());
    unit_db_remove(path);
    factdb *db;
    factdb_error err;
    cr_assert_eq(factdb_open(path, NULL, &db, &err), 0, "%s", err.message);
    factdb_column_def col = {"s", FACTDB_TEXT, 0, 0, false};
    cr_assert_eq(factdb_create_table(db, "t", &col, 1, &err), 0, "%s", err.message);
    factdb_appender *a, *b;
    cr_assert_eq(factdb_appender_new(db, "t", &b, &err), 0);
    append_text(b, "a", 0);
    append_text(b, "b", 0);
    cr_assert_eq(factdb_appender_commit(b, &err), 0, "%s", err.message);
    cr_assert_eq(factdb_appender_new(db, "t", &a, &err), 0);
    for (int i = 0; i < FACTDB_CHUNK_ROWS; i++)  /* a full chunk: written by the load at once */
        append_text(a, i % 3 ? "u%d" : "a", i);
    append_text(b, "x", 0);
    append_text(b, "u%d", 1);
    cr_assert_eq(factdb_appender_commit(b, &err), 0, "%s", err.message);
    for (int i = 0; i < 70000; i++) {
        static const char *const f[] = {"x", "b", "u1", "v%d"};
        append_text(a, f[i % 4], i);
    }
    cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
    /* a, b; u<i> for i % 3 != 0; x; v<i> for i % 4 == 3 */
    uint32_t distinct = 2 + (FACTDB_CHUNK_ROWS - (FACTDB_CHUNK_ROWS + 2) / 3) + 1 + 70000 / 4;
    cr_assert_eq(dict_count(db, "t", 0), distinct, "%u strings, expected %u", dict_count(db, "t", 0), distinct);
    /* a second load into the column, now not empty: every string is found again */
    for (int i = 0; i < 70000; i++)
        append_text(a, i % 2 ? "v%d" : "u%d", i % 2 ? (i / 2 % 17500) * 4 + 3 : (i / 2 % 21845) * 3 + 1);
    cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
    cr_assert_eq(dict_count(db, "t", 0), distinct, "%u strings, expected %u", dict_count(db, "t", 0), distinct);
    cr_assert_eq(rows(db, "t"), 2 + FACTDB_CHUNK_ROWS + 2 + 70000 + 70000);
    factdb_appender_free(a);
    factdb_appender_free(b);
    /* a load into an empty column looks nothing up until another writer adds strings between its chunks */
    cr_assert_eq(factdb_create_table(db, "t2", &col, 1, &err), 0, "%s", err.message);
    cr_assert_eq(factdb_appender_new(db, "t2", &a, &err), 0);
    cr_assert_eq(factdb_appender_new(db, "t2", &b, &err), 0);
    for (int i = 0; i < FACTDB_CHUNK_ROWS; i++)
        append_text(a, "u%d", i % 1000);
    append_text(b, "u%d", 7);
    append_text(b, "x", 0);
    cr_assert_eq(factdb_appender_commit(b, &err), 0, "%s", err.message);
    for (int i = 0; i < FACTDB_CHUNK_ROWS + 10; i++)
        append_text(a, i % 2 ? "x" : "u%d", i % 1000);
    cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
    cr_assert_eq(dict_count(db, "t2", 0), 1001, "%u strings, expected 1001", dict_count(db, "t2", 0));
    cr_assert_eq(factdb_check(db, NULL, NULL, &err), 0, "%s", err.message);
    factdb_appender_free(a);
    factdb_appender_free(b);
    factdb_close(db);
    unit_db_remove(path);
}

/* Gives the first (text, still empty) column of table `name` dictionary format `form`, as files written by
 * older factdb have: 1 (hash index entries, strings without their hash) or 2 (each string with its hash). */
static void make_form(factdb *db, const char *name, int form)
{
    store_env *env = db->env;
    store_txn *t;
    store_table tab;
    cr_assert_eq(store_gate_acquire(env, 10000, NULL), 0);
    cr_assert_eq(store_txn_write(env, false, &t, NULL), 0);
    cr_assert_eq(store_table_get(t, name, &tab, NULL), 0);
    cr_assert_eq(store_dict_form(tab.cols[0].flags), 3);
    cr_assert_eq(tab.cols[0].dict_count, 0);
    tab.cols[0].flags &= (uint8_t)~STORE_COL_DICT_BLOCKS;
    if (form == 2)
        tab.cols[0].flags |= STORE_COL_DICT_INLINE_HASH;
    cr_assert_eq(store_table_put(t, &tab, NULL), 0);
    cr_assert_eq(store_txn_commit(t, NULL), 0);
    store_gate_release(env);
    store_table_cleanup(&tab);
}

/* Few strings looked up in a big dictionary are found by a scan; the next lookups by the process's index.
 * Both give the existing ids. Columns of formats 1 and 2 (older files) keep working alike. */
static void lookups_in_a_big_dictionary(int form)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/factdb-test-load-bigdict-%d.db", (int)getpid());
    unit_db_remove(path);
    factdb *db;
    factdb_error err;
    cr_assert_eq(factdb_open(path, NULL, &db, &err), 0, "%s", err.message);
    factdb_column_def col = {"s", FACTDB_TEXT, 0, 0, false};
    cr_assert_eq(factdb_create_table(db, "t", &col, 1, &err), 0, "%s", err.message);
    if (form != 3)
        make_form(db, "t", form);
    factdb_appender *a, *b;
    cr_assert_eq(factdb_appender_new(db, "t", &a, &err), 0);
    for (int i = 0; i < 70000; i++)
        append_text(a, "w%d", i);
    cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
    cr_assert_eq(factdb_appender_new(db, "t", &b, &err), 0);
    append_text(b, "w%d", 5);
    append_text(b, "new%d", 1);
    cr_assert_eq(factdb_appender_commit(b, &err), 0, "%s", err.message);
    cr_assert_eq(dict_count(db, "t", 0), 70001);
    append_text(b, "w%d", 69999);
    append_text(b, "new%d", 1);
    append_text(b, "new%d", 2);
    cr_assert_eq(factdb_appender_commit(b, &err), 0, "%s", err.message);
    cr_assert_eq(dict_count(db, "t", 0), 70002);
    /* a load of many strings, most of them there already */
    for (int i = 0; i < 140000; i++)
        append_text(a, "w%d", i / 2);
    cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
    cr_assert_eq(dict_count(db, "t", 0), 70002);
    factdb_appender_free(a);
    factdb_appender_free(b);
    cr_assert_eq(factdb_check(db, NULL, NULL, &err), 0, "%s", err.message);
    store_txn *t;
    store_table tab;
    cr_assert_eq(store_txn_read(db->env, &t, NULL), 0);
    cr_assert_eq(store_table_get(t, "t", &tab, NULL), 0);
    cr_assert_eq(store_dict_form(tab.cols[0].flags), form);
    MDB_stat ms;
    cr_assert_eq(mdb_stat(t->txn, db->env->dhash, &ms), 0);
    cr_assert_eq(ms.ms_entries, form == 1 ? 70002 : 0);
    /* format 3 keeps 70,002 strings in a few blocks, each a compressed run of consecutive ids */
    cr_assert_eq(mdb_stat(t->txn, db->env->dstr, &ms), 0);
    if (form == 3)
        cr_assert(ms.ms_entries >= 3 && ms.ms_entries < 100, "%zu blocks", ms.ms_entries);
    else
        cr_assert_eq(ms.ms_entries, 70002);
    store_table_cleanup(&tab);
    store_txn_abort(t);
    factdb_close(db);
    unit_db_remove(path);
}

Test(load, a_few_strings_are_found_in_a_big_dictionary) { lookups_in_a_big_dictionary(3); }
Test(load, a_format1_dictionary_still_works) { lookups_in_a_big_dictionary(1); }
Test(load, a_format2_dictionary_still_works) { lookups_in_a_big_dictionary(2); }

/* Damages the dictionary of the first column of table `name` behind the store's back: in format 2 the
 * string of entry 7 ("w7" -> "x7"), in format 3 byte `at` of the payload of the block that starts at id 0
 * (at < 0: the "w7" in a raw block). */
static void damage_dictionary(factdb *db, const char *name, int form, long at)
{
    store_env *env = db->env;
    store_txn *t;
    store_table tab;
    cr_assert_eq(store_gate_acquire(env, 10000, NULL), 0);
    cr_assert_eq(store_txn_write(env, false, &t, NULL), 0);
    cr_assert_eq(store_table_get(t, name, &tab, NULL), 0);
    unsigned char k[10];
    base_put_be32(k, tab.id);
    base_put_be16(k + 4, 0);
    base_put_be32(k + 6, form == 2 ? 7 : 0);
    MDB_val kv = {10, k}, v;
    cr_assert_eq(mdb_get(t->txn, env->dstr, &kv, &v), 0);
    unsigned char *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    if (form == 2) {
        cr_assert_eq(v.mv_size, 8 + 2);
        cr_assert_eq(copy[8], 'w');
        copy[8] = 'x';
    } else if (at < 0) {
        cr_assert_eq(copy[0], 0, "a raw block");
        unsigned char *w7 = memmem(copy + 17, v.mv_size - 17, "\002w7", 3);
        cr_assert(w7);
        w7[1] = 'x';
    } else {
        cr_assert_eq(copy[0], 1, "a compressed block");
        cr_assert((size_t)at + 17 < v.mv_size);
        copy[17 + at] ^= 0x5a;
    }
    MDB_val nv = {v.mv_size, copy};
    cr_assert_eq(mdb_put(t->txn, env->dstr, &kv, &nv, 0), 0);
    free(copy);
    cr_assert_eq(store_txn_commit(t, NULL), 0);
    store_gate_release(env);
    store_table_cleanup(&tab);
}

/* A dictionary string that no longer matches the hash it carries (format 2), or a block that no longer
 * matches its checksum or cannot be decompressed (format 3), is damage: readers, writers looking strings up,
 * and factdb check all report it. */
static void damaged_dictionary(int form, int strings, long at)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/factdb-test-load-dictdamage-%d.db", (int)getpid());
    unit_db_remove(path);
    factdb *db;
    factdb_error err;
    cr_assert_eq(factdb_open(path, NULL, &db, &err), 0, "%s", err.message);
    factdb_column_def col = {"s", FACTDB_TEXT, 0, 0, false};
    cr_assert_eq(factdb_create_table(db, "t", &col, 1, &err), 0, "%s", err.message);
    if (form == 2)
        make_form(db, "t", 2);
    factdb_appender *a;
    cr_assert_eq(factdb_appender_new(db, "t", &a, &err), 0);
    for (int i = 0; i < strings; i++)
        append_text(a, "w%d", i);
    cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
    factdb_appender_free(a);
    damage_dictionary(db, "t", form, at);
    factdb_close(db);
    cr_assert_eq(factdb_open(path, NULL, &db, &err), 0, "%s", err.message);
    const char *want = form == 2 ? "does not match its hash" : at < 0 ? "does not match its checksum" : "damaged";
    /* a reader */
    factdb_scan *s;
    const char *cols[] = {"s"};
    int rc = factdb_scan_open(db, "t", cols, 1, &s, &err);
    if (rc == 0) {
        factdb_batch bt;
        factdb_batch_init(&bt);
        rc = factdb_scan_next(s, &bt, &err);
        factdb_batch_cleanup(&bt);
        factdb_scan_free(s);
    }
    cr_assert_eq(rc, FACTDB_CORRUPT, "%d %s", rc, err.message);
    cr_assert(strstr(err.message, want) && strstr(err.message, "dictionary"), "%s", err.message);
    /* a writer looking up strings (a new process: by a scan of the entries) */
    cr_assert_eq(factdb_appender_new(db, "t", &a, &err), 0);
    append_text(a, "w%d", 3);
    cr_assert_eq(factdb_appender_commit(a, &err), FACTDB_CORRUPT, "%s", err.message);
    cr_assert(strstr(err.message, want), "%s", err.message);
    factdb_appender_free(a);
    /* factdb check */
    cr_assert_eq(factdb_check(db, NULL, NULL, &err), FACTDB_CORRUPT);
    factdb_close(db);
    unit_db_remove(path);
}

Test(load, a_damaged_dictionary_string_is_reported) { damaged_dictionary(2, 100, 0); }
Test(load, a_damaged_raw_dictionary_block_is_reported) { damaged_dictionary(3, 100, -1); }
Test(load, a_damaged_compressed_dictionary_block_is_reported)
{
    damaged_dictionary(3, 5000, 40);
    damaged_dictionary(3, 5000, 400);
}

static uint32_t file_format(factdb *db)
{
    store_txn *t;
    cr_assert_eq(store_txn_read(db->env, &t, NULL), 0);
    MDB_val k = {6, "format"}, v;
    cr_assert_eq(mdb_get(t->txn, db->env->meta, &k, &v), 0);
    uint32_t version;
    memcpy(&version, (const char *)v.mv_data + 8, 4);
    store_txn_abort(t);
    return version;
}

/* A file says format 3 only once it holds a format-3 dictionary column, so older factdb keep reading files
 * without one and refuse (NEWER_FORMAT) those with one. */
Test(load, the_first_text_column_raises_the_file_format)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/factdb-test-load-format-%d.db", (int)getpid());
    unit_db_remove(path);
    factdb *db;
    factdb_error err;
    cr_assert_eq(factdb_open(path, NULL, &db, &err), 0, "%s", err.message);
    factdb_column_def num = {"x", FACTDB_BIGINT, 0, 0, false}, text = {"s", FACTDB_TEXT, 0, 0, false};
    cr_assert_eq(factdb_create_table(db, "n", &num, 1, &err), 0, "%s", err.message);
    cr_assert_eq(file_format(db), 1);
    cr_assert_eq(factdb_add_column(db, "n", &text, &err), 0, "%s", err.message);
    cr_assert_eq(file_format(db), 3);
    cr_assert_eq(factdb_create_table(db, "t", &text, 1, &err), 0, "%s", err.message);
    cr_assert_eq(file_format(db), 3);
    factdb_close(db);
    unit_db_remove(path);
}

static void sql(factdb_session *s, const char *q)
{
    factdb_error err;
    factdb_result *r = NULL;
    size_t used;
    cr_assert_eq(factdb_session_exec(s, q, strlen(q), NULL, 0, &used, &r, &err), 0, "%s: %s", q, err.message);
    factdb_result_free(r);
}

/* Inside BEGIN ... COMMIT strings are looked up in a private index or scan (the transaction's own strings may
 * roll back), outside in the process's shared one: every path gives existing strings their ids. */
static void strings_in_transactions(int form)
{
    char path[256];
    factdb *db;
    factdb_session *s;
    unit_db_open("load-xact", path, sizeof path, &db, &s);
    sql(s, "CREATE TABLE t (s text)");
    if (form != 3)
        make_form(db, "t", form);
    factdb_appender *a;
    factdb_error err;
    cr_assert_eq(factdb_appender_new(db, "t", &a, &err), 0);
    for (int i = 0; i < 70000; i++)
        append_text(a, "w%d", i);
    cr_assert_eq(factdb_appender_commit(a, &err), 0, "%s", err.message);
    factdb_appender_free(a);
    sql(s, "BEGIN");
    sql(s, "INSERT INTO t VALUES ('w5'), ('new1')");
    sql(s, "INSERT INTO t VALUES ('new1'), ('w6'), ('new2')");
    char big[8192];
    size_t n = (size_t)snprintf(big, sizeof big, "INSERT INTO t VALUES ('new2')");
    for (int i = 0; i < 200; i++)  /* more strings than a scan takes: a private index */
        n += (size_t)snprintf(big + n, sizeof big - n, ", ('w%d')", i * 300);
    sql(s, big);
    sql(s, "COMMIT");
    cr_assert_eq(dict_count(db, "t", 0), 70002);
    sql(s, "BEGIN");
    sql(s, "INSERT INTO t VALUES ('new3'), ('w7')");
    sql(s, "ROLLBACK");
    cr_assert_eq(dict_count(db, "t", 0), 70002);
    sql(s, "INSERT INTO t VALUES ('new3'), ('new1')");  /* a scan */
    sql(s, big);                                          /* the shared index */
    sql(s, "INSERT INTO t VALUES ('new4'), ('new3')");
    cr_assert_eq(dict_count(db, "t", 0), 70004, "%u", dict_count(db, "t", 0));
    /* strings of a rolled-back transaction must not stay in the shared index: the ids they had go to others */
    sql(s, "BEGIN");
    sql(s, "INSERT INTO t VALUES ('x1')");
    sql(s, "INSERT INTO t VALUES ('x2'), ('w8')");
    sql(s, big);
    sql(s, "ROLLBACK");
    sql(s, "INSERT INTO t VALUES ('y1'), ('y2')");
    sql(s, "INSERT INTO t VALUES ('y1'), ('w9')");
    sql(s, "INSERT INTO t VALUES ('y2'), ('x1')");
    cr_assert_eq(dict_count(db, "t", 0), 70007, "%u", dict_count(db, "t", 0));
    cr_assert_eq(factdb_check(db, NULL, NULL, &err), 0, "%s", err.message);
    unit_db_close(path, db, s);
}

Test(load, strings_are_found_inside_and_outside_transactions) { strings_in_transactions(3); }
Test(load, strings_are_found_inside_and_outside_transactions_format2) { strings_in_transactions(2); }

static int collect_entry(void *ctx, uint32_t id, const char *s, size_t len, int hashed)
{
    char (*got)[16] = ctx;
    cr_assert(id < 200 && hashed && len < 16, "entry %u", id);
    memcpy(got[id], s, len);
    got[id][len] = 0;
    return 0;
}

/* Trimming a format-3 dictionary from an id inside a block keeps the block's strings before that id (the
 * block is rewritten) and deletes everything after; later strings continue from there. */
Test(load, trimming_inside_a_dictionary_block_keeps_its_first_strings)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/factdb-test-load-trim-%d.db", (int)getpid());
    unit_db_remove(path);
    factdb *db;
    factdb_error err;
    cr_assert_eq(factdb_open(path, NULL, &db, &err), 0, "%s", err.message);
    store_env *env = db->env;
    store_txn *t;
    char strs[200][16];
    store_dict_item items[200];
    for (uint32_t i = 0; i < 200; i++) {
        int n = snprintf(strs[i], sizeof strs[i], "s%03u", i);
        items[i] = (store_dict_item){strs[i], (uint32_t)n, i, base_hash(strs[i], (size_t)n)};
    }
    cr_assert_eq(store_gate_acquire(env, 10000, NULL), 0);
    cr_assert_eq(store_txn_write(env, false, &t, NULL), 0);
    cr_assert_eq(store_dict_add(t, 77, 0, 3, items, 100, &err), 0, "%s", err.message);     /* ids 0..99: one block */
    cr_assert_eq(store_dict_add(t, 77, 0, 3, items + 100, 50, &err), 0, "%s", err.message); /* 100..149 */
    cr_assert_eq(store_dict_add(t, 77, 1, 3, items, 10, &err), 0, "%s", err.message);       /* another column */
    cr_assert_eq(store_dict_trim(t, 77, 0, 3, 40, &err), 0, "%s", err.message);
    char got[200][16];
    memset(got, 0, sizeof got);
    cr_assert_eq(store_dict_each(t, 77, 0, 3, collect_entry, got, &err), 0, "%s", err.message);
    for (uint32_t i = 0; i < 200; i++)
        cr_assert_str_eq(got[i], i < 40 ? strs[i] : "", "entry %u", i);
    /* the next strings continue at 40; the other column is untouched */
    cr_assert_eq(store_dict_add(t, 77, 0, 3, items + 40, 20, &err), 0, "%s", err.message);
    memset(got, 0, sizeof got);
    cr_assert_eq(store_dict_each(t, 77, 0, 3, collect_entry, got, &err), 0, "%s", err.message);
    for (uint32_t i = 0; i < 200; i++)
        cr_assert_str_eq(got[i], i < 60 ? strs[i] : "", "entry %u", i);
    memset(got, 0, sizeof got);
    cr_assert_eq(store_dict_each(t, 77, 1, 3, collect_entry, got, &err), 0, "%s", err.message);
    cr_assert_str_eq(got[9], "s009");
    store_dict *d;
    cr_assert_eq(store_dict_private(t, 77, 0, 3, 60, &d, &err), 0, "%s", err.message);
    size_t len;
    const char *s = store_dict_str(d, 45, &len);
    cr_assert(s && len == 4 && !memcmp(s, "s045", 4));
    store_dict_private_free(d);
    store_txn_abort(t);
    store_gate_release(env);
    factdb_close(db);
    unit_db_remove(path);
}
