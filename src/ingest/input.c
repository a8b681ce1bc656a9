/* input.c: maps the load input into memory. Regular files are mmap'ed as they are; pipes and standard
 * input are first spooled into an unlinked temporary file; Latin-1 and Windows-1252 inputs are
 * converted to UTF-8 into such a file with iconv. Everything downstream sees one contiguous buffer. */
#include "ingest.h"
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int tmpfile_fd(factdb_error *err)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/factdb-load-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return -base_err(err, base_errno_code(errno), "cannot create a temporary file in %s: %s",
                         dir && *dir ? dir : "/tmp", base_errno_text(errno));
    unlink(path);
    return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int map_fd(int fd, ingest_input *in, factdb_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return base_err(err, base_errno_code(errno), "cannot read %s: %s", in->name, base_errno_text(errno));
    in->len = (size_t)st.st_size;
    if (in->len == 0) {
        in->data = (const unsigned char *)"";
        return FACTDB_OK;
    }
    void *m = mmap(NULL, in->len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return base_err(err, base_errno_code(errno), "cannot map %s: %s", in->name, base_errno_text(errno));
    madvise(m, in->len, MADV_SEQUENTIAL);
    in->map = m;
    in->map_len = in->len;
    in->data = m;
    return FACTDB_OK;
}

#define RELEASE_STEP ((size_t)16 << 20)

void ingest_release(ingest_input *in, size_t upto)
{
    if (!in->map || upto > in->map_len)
        return;
    size_t end = upto / RELEASE_STEP * RELEASE_STEP;
    if (end <= in->released)
        return;
    madvise((char *)in->map + in->released, end - in->released, MADV_DONTNEED);
    in->released = end;
}

void ingest_release_rewind(ingest_input *in) { in->released = 0; }

/* Converts src (len bytes) from `from` to UTF-8 into a temporary file and maps it. */
static int convert(const unsigned char *src, size_t len, const char *from, ingest_input *in, factdb_error *err)
{
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1)
        return base_err(err, FACTDB_ENCODING, "the encoding %s is not available on this system", from);
    int fd = tmpfile_fd(err);
    if (fd < 0) {
        iconv_close(cd);
        return -fd;
    }
    int rc = FACTDB_OK;
    char out[1 << 16];
    char *ip = (char *)src;
    size_t left = len;
    while (left) {
        char *op = out;
        size_t room = sizeof out;
        size_t r = iconv(cd, &ip, &left, &op, &room);
        if (write_all(fd, out, (size_t)(op - out))) {
            rc = base_err(err, base_errno_code(errno), "cannot write a temporary file: %s", base_errno_text(errno));
            break;
        }
        if (r == (size_t)-1 && errno != E2BIG) {
            size_t at = (size_t)((const unsigned char *)ip - src);
            rc = base_err_at(err, FACTDB_ENCODING, 0, 0, (int64_t)at,
                             "byte 0x%02X at file byte %zu is not a character in %s; check the --encoding",
                             at < len ? src[at] : 0, at, from);
            break;
        }
    }
    iconv_close(cd);
    if (!rc)
        rc = map_fd(fd, in, err);
    close(fd);
    return rc;
}

int ingest_open(const char *path, const char *encoding, ingest_input *in, factdb_error *err)
{
    memset(in, 0, sizeof *in);
    const char *iconv_name = NULL;
    if (encoding && (!strcasecmp(encoding, "latin-1") || !strcasecmp(encoding, "latin1") ||
                     !strcasecmp(encoding, "iso-8859-1")))
        iconv_name = "ISO-8859-1";
    else if (encoding && (!strcasecmp(encoding, "cp1252") || !strcasecmp(encoding, "windows-1252")))
        iconv_name = "WINDOWS-1252";
    else if (encoding && strcasecmp(encoding, "utf-8") && strcasecmp(encoding, "utf8"))
        return base_err(err, FACTDB_INVALID_ARGUMENT,
                        "unknown encoding \"%s\"; use utf-8, latin-1 or cp1252", encoding);
    int is_stdin = !strcmp(path, "-");
    in->name = is_stdin ? "standard input" : path;
    int fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return base_err(err, base_errno_code(errno), "cannot open \"%s\": %s", path, base_errno_text(errno));
    struct stat st;
    int rc = FACTDB_OK;
    if (fstat(fd, &st) != 0) {
        rc = base_err(err, base_errno_code(errno), "cannot read %s: %s", in->name, base_errno_text(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = base_err(err, FACTDB_INVALID_ARGUMENT, "\"%s\" is a directory, not a CSV file", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        /* A pipe: spool it so that the load can map one buffer and report exact byte offsets. */
        int tfd = tmpfile_fd(err);
        if (tfd < 0) {
            rc = -tfd;
            goto out;
        }
        char buf[1 << 16];
        for (;;) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = base_err(err, base_errno_code(errno), "cannot read %s: %s", in->name, base_errno_text(errno));
                break;
            }
            if (n == 0)
                break;
            if (write_all(tfd, buf, (size_t)n)) {
                rc = base_err(err, base_errno_code(errno), "cannot write a temporary file: %s",
                              base_errno_text(errno));
                break;
            }
        }
        if (!rc)
            rc = map_fd(tfd, in, err);
        close(tfd);
    } else {
        rc = map_fd(fd, in, err);
    }
    if (!rc && iconv_name) {
        ingest_input raw = *in;
        in->map = NULL;
        rc = convert(raw.data, raw.len, iconv_name, in, err);
        ingest_close(&raw);
    }
out:
    if (fd > 0)
        close(fd);
    if (rc)
        ingest_close(in);
    return rc;
}

void ingest_close(ingest_input *in)
{
    if (in->map)
        munmap(in->map, in->map_len);
    in->map = NULL;
}
