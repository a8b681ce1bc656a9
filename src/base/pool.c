/* pool.c: a process-wide cache of large scratch buffers by exact size (see base.h). A small mutex-guarded
 * list per size class is enough: buffers are taken once per query and worker thread. */
#include "base.h"
#include <pthread.h>
#include <stdlib.h>

#define POOL_SLOTS 1024
#define POOL_LIMIT ((size_t)256 << 20)

typedef struct pool_entry {
    void *p;
    size_t size;
} pool_entry;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pool_entry pool[POOL_SLOTS];
static size_t pool_n, pool_bytes;

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
    return aligned_alloc(64, (size + 63) / 64 * 64);
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
