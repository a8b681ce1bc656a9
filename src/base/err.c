/* err.c: error codes, messages and errno translation. Messages never come from strerror(): the
 * text must be English whatever the locale says. */
#include "base.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *factdb_error_name(int code)
{
    switch (code) {
#define X(num, name, msg) case num: return #name;
        FACTDB_ERRORS(X)
#undef X
    }
    return "UNKNOWN";
}

void base_err_clear(factdb_error *err)
{
    if (!err)
        return;
    err->code = FACTDB_OK;
    err->message[0] = 0;
    err->line = err->column = err->position = 0;
    err->offset = -1;
}

static int vset(factdb_error *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    base_err_clear(err);
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    /* A truncated message may end inside a UTF-8 sequence: cut back to the valid prefix. */
    size_t n = strlen(err->message);
    err->message[base_utf8_valid_prefix((const unsigned char *)err->message, n)] = 0;
    return code;
}

int base_err(factdb_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int base_err_at(factdb_error *err, int code, int64_t line, int64_t column, int64_t offset,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    if (err) {
        err->line = line;
        err->column = column;
        err->offset = offset;
    }
    return code;
}

const char *base_errno_text(int e)
{
    switch (e) {
    case ENOENT: return "no such file or directory";
    case EACCES: return "permission denied";
    case EPERM: return "operation not permitted";
    case ENOSPC: return "no space left on device";
    case EROFS: return "read-only file system";
    case EISDIR: return "is a directory";
    case ENOTDIR: return "a path component is not a directory";
    case ENOMEM: return "out of memory";
    case EIO: return "input/output error";
    case EEXIST: return "file exists";
    case EINVAL: return "invalid argument";
    case EAGAIN: return "resource temporarily unavailable";
    case EMFILE: return "too many open files";
    case EFBIG: return "file too large";
    case EDQUOT: return "disk quota exceeded";
    case ENAMETOOLONG: return "file name too long";
    case ELOOP: return "too many symbolic links";
    case EBADF: return "bad file descriptor";
    case EILSEQ: return "invalid multibyte sequence";
    case EPIPE: return "broken pipe";
    default: return "system error";
    }
}

int base_errno_code(int e)
{
    switch (e) {
    case EACCES: case EPERM: case EROFS: return FACTDB_PERMISSION;
    case ENOSPC: case EDQUOT: case EFBIG: return FACTDB_FULL;
    case ENOMEM: return FACTDB_NOMEM;
    default: return FACTDB_IO;
    }
}
