/* ingest.h: readers that turn external data into appended rows. CSV (RFC 4180 with a configurable
 * delimiter) is parsed by hand over a memory-mapped input, because the load must outrun DuckDB's COPY;
 * other encodings are converted to UTF-8 with iconv first. */
#ifndef FACTDB_INGEST_H
#define FACTDB_INGEST_H

#include "base/base.h"

typedef struct ingest_input {
    const unsigned char *data;  /* the whole input, UTF-8 after conversion */
    size_t len;
    void *map;                  /* mmap'ed region to release, or NULL */
    size_t map_len;
    const char *name;           /* for messages: the path or "standard input" */
} ingest_input;

/* Maps `path` ("-" = standard input, spooled to a temporary file) and converts it to UTF-8 from
 * `encoding` ("utf-8", "latin-1", "cp1252"). Errors: IO, ENCODING (with the byte offset), INVALID_ARGUMENT. */
int ingest_open(const char *path, const char *encoding, ingest_input *in, factdb_error *err);
void ingest_close(ingest_input *in);
/* For a SIGSEGV/SIGBUS handler: true when `addr` lies inside the mapped input of a load running in this
 * process (the file was truncated under the loader). Async-signal-safe. */
bool ingest_addr_in_input(const void *addr);

/* One CSV field, pointing into the input or into the reader's scratch when unescaped. */
typedef struct csv_field {
    const char *s;
    size_t len;
    size_t offset;   /* byte offset of the field's first byte in the input */
    int64_t line;    /* physical line where the field starts (1-based) */
    int quoted;
} csv_field;

typedef struct csv_reader {
    const unsigned char *p, *end, *base;
    char delim;
    int64_t line;
    csv_field *fields;
    size_t nfields, cap;
    base_buf scratch;
} csv_reader;

void csv_init(csv_reader *r, const ingest_input *in, char delim);
void csv_cleanup(csv_reader *r);
/* Reads the next record into r->fields/r->nfields. Returns 1 for a record, 0 at the end, or a negative
 * factdb code (BAD_CSV: unterminated quote, text after a closing quote; LIMIT) with err set. */
int csv_next(csv_reader *r, factdb_error *err);

typedef struct ingest_load_opts {
    bool create, header, progress;
    char delim;
    const char *encoding;
} ingest_load_opts;

/* Loads CSV `path` into `table`, all or nothing; *rows receives the number stored. */
int ingest_load_csv(factdb *db, const char *table, const char *path, const ingest_load_opts *o, uint64_t *rows,
                    factdb_error *err);

#endif
