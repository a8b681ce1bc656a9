/* exec_int.h: what the executor's own files share and nothing outside src/exec uses: opening a query's scan
 * and feeding its batches to an eval_thread (run.c defines these; modify.c's DELETE and UPDATE use them). */
#ifndef FACTDB_EXEC_INT_H
#define FACTDB_EXEC_INT_H

#include "exec.h"
#include "store/store.h"

/* Text of dictionary code `code` of scan column `col`; ctx is the factdb_scan. */
const char *exec_scan_text(void *ctx, int col, uint32_t code, size_t *len);
/* How a batch holds a column of storage type `st`, and the bytes per value of such a representation. */
raw_kind exec_raw_of_store(int st);
size_t exec_raw_width(raw_kind r);
/* Frees or rewinds the thread's per-slice string arena. */
void exec_reset_tmp(eval_thread *t);
/* store_scan_prune's callback: false when q's (ctx) zone predicates exclude the chunk. */
bool exec_zone_keep(void *ctx, const store_chunk_header *h);
/* Opens q's scan (inside the thread's bound transaction, if any). A query that reads no column still needs
 * the rows: it reads one, and *owned is that column's descriptor, freed by exec_close_scan. */
int exec_open_scan(factdb *db, query *q, factdb_scan **scan, scan_col **owned, factdb_error *err);
void exec_close_scan(query *q, factdb_scan *scan, scan_col *owned);

#endif
