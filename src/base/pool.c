/* pool.c: a process-wide cache of large scratch buffers by exact size (see base.h). A small mutex-guarded
 * list per size class is enough: buffers are taken once per query and worker thread. */
#include "base.h"
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#define POOL_SLOTS 1024
#define POOL_LIMIT ((size_t)256 << 20)
#define HUGE ((size_t)2 << 20)

typedef struct pool_entry {
    void *p;
    size_t size;
} pool_entry;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pool_entry pool[POOL_SLOTS];
static size_t pool_n, pool_bytes;

/* A new buffer. One of 2 MiB or more is 2 MiB-aligned and advised as huge pages (transparent huge pages in
 * "madvise" mode): its first writes then fault once per 2 MiB instead of once per 4 KiB page. Measured on
 * the radix-partitioned grouping's 70 MB per-worker blocks (4M rows, 10k keys, 2 threads): the query's
 * 30,000 faults became 3,700 and its 110 ms of system time 50 ms. */
static void *fresh(size_t size)
{
    if (size < HUGE)
        return aligned_alloc(64, (size + 63) / 64 * 64);
    size_t r = (size + HUGE - 1) / HUGE * HUGE;
    void *p = aligned_alloc(HUGE, r);
    if (p)
        madvise(p, r, MADV_HUGEPAGE);
    return p;
}

void *base_pool_get(size_t size)
{
    pthread_mutex_lock(&pool_mu);
    for (size_t i = pool_n; i-- > 0;)
        if (pool[i].size == size) {
            void *p = pool[i].p;
            pool[i] = pool[--pool_n];
            pool_bytes -= size;
            pthread_mutex_unlock(&pool_mu);
            return p;
        }
    pthread_mutex_unlock(&pool_mu);
    return fresh(size);
}

void base_pool_put(void *p, size_t size)
{
    if (!p)
        return;
    pthread_mutex_lock(&pool_mu);
    if (pool_n < POOL_SLOTS && pool_bytes + size <= POOL_LIMIT) {
        pool[pool_n++] = (pool_entry){p, size};
        pool_bytes += size;
        p = NULL;
    }
    pthread_mutex_unlock(&pool_mu);
    free(p);
}
