/* verify.c: a column value's XXH3 checksum is verified the first time this process reads it; the verdict
 * is remembered in a per-environment set, so hot scans pay one hash probe per value instead of hashing
 * megabytes. The set is keyed by (table, chunk, column, address and length of the value in the map, the
 * checksum stored in it): chunks are immutable, and a value that is rewritten (a reclaimed load's chunk
 * id reused, a rolled-back transaction) lands at another address or carries another checksum. */
#include "store_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Beyond this many remembered values the set starts over (8 bytes each: 32 MiB at most). */
#define VERIFIED_MAX ((size_t)1 << 22)

static uint64_t key_hash(uint32_t table, uint64_t chunk, uint16_t col, const void *blob, size_t len)
{
    uint64_t k[5];
    uint64_t stored = 0;
    if (len >= ENC_HEADER_BYTES)
        memcpy(&stored, (const unsigned char *)blob + 48, 8);
    k[0] = chunk;
    k[1] = (uint64_t)(uintptr_t)blob;
    k[2] = len;
    k[3] = stored;
    k[4] = (uint64_t)table << 16 | col;
    uint64_t h = XXH3_64bits(k, sizeof k);
    return h ? h : 1;  /* 0 marks an empty slot */
}

/* Caller holds verified_mu. */
static bool set_has(const store_env *e, uint64_t h)
{
    if (!e->verified)
        return false;
    size_t mask = e->verified_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        if (e->verified[i] == h)
            return true;
        if (e->verified[i] == 0)
            return false;
    }
}

static void set_add(store_env *e, uint64_t h)
{
    if (e->verified_n >= VERIFIED_MAX) {  /* start over rather than grow without bound */
        memset(e->verified, 0, e->verified_cap * sizeof *e->verified);
        e->verified_n = 0;
    }
    if (2 * (e->verified_n + 1) > e->verified_cap) {
        size_t cap = e->verified_cap ? e->verified_cap * 2 : 4096;
        uint64_t *n = calloc(cap, sizeof *n);
        if (!n)
            return;  /* not remembered: verified again next time */
        for (size_t i = 0; i < e->verified_cap; i++) {
            uint64_t v = e->verified[i];
            if (!v)
                continue;
            size_t j = v & (cap - 1);
            while (n[j])
                j = (j + 1) & (cap - 1);
            n[j] = v;
        }
        free(e->verified);
        e->verified = n;
        e->verified_cap = cap;
    }
    size_t mask = e->verified_cap - 1, i = h & mask;
    while (e->verified[i] && e->verified[i] != h)
        i = (i + 1) & mask;
    if (!e->verified[i]) {
        e->verified[i] = h;
        e->verified_n++;
    }
}

int store_verify_blob(store_env *env, const char *table_name, uint32_t table, uint64_t chunk, const char *col_name,
                      uint16_t col, const void *blob, size_t len, factdb_error *err)
{
    uint64_t h = key_hash(table, chunk, col, blob, len);
    pthread_mutex_lock(&env->verified_mu);
    bool seen = set_has(env, h);
    pthread_mutex_unlock(&env->verified_mu);
    if (seen)
        return FACTDB_OK;
    store_map_bounds b;
    store_map_bounds_get(env, &b);
    MDB_val v = {len, (void *)blob};
    if (!store_val_ok(&b, &v) || enc_verify(blob, len))
        return base_err(err, FACTDB_CORRUPT,
                        "the database file \"%s\" is damaged: table \"%s\", chunk %llu, column \"%s\" fails its "
                        "checksum; run factdb check to list every damaged value, and restore the file from a backup",
                        env->path, table_name, (unsigned long long)chunk, col_name);
    pthread_mutex_lock(&env->verified_mu);
    set_add(env, h);
    pthread_mutex_unlock(&env->verified_mu);
    return FACTDB_OK;
}

void store_verified_free(store_env *env)
{
    free(env->verified);
    env->verified = NULL;
    env->verified_cap = env->verified_n = 0;
}
