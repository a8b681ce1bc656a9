/* server.c: the libmicrohttpd daemon of `factdb serve`: routing, bearer tokens, request bodies with a size
 * limit, JSON errors with fitting statuses, the SQL endpoint (results streamed through factdb_writer),
 * change events (server-sent events), metrics, query timeouts and a clean shutdown on SIGINT/SIGTERM.
 * Invariant: every request passes admit() (Host, then Origin, then the token) when its head has arrived,
 * before any of its body is kept or parsed; a request admit() refuses is answered with its verdict only. */
#include "http_int.h"
#include "backend.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Why writes are refused by a server started with --read-only. */
#define READ_ONLY_MSG "this server was started with --read-only: it answers queries only; send writes to a server without it"

/* Parameters of one statement, as factdb_session_exec allows. */
#define HTTP_MAX_PARAMS 65535

/* ---- per-request state ---- */
typedef struct req {
    double t0;
    http_route route;
    base_buf body;
    size_t charged;         /* bytes counted in the server's body budget */
    bool too_large, over_budget;
    bool close;             /* answered before its body was read: Connection: close */
    size_t drained;         /* body bytes of a refused request read and dropped */
    int status;
    uint64_t bytes;
    const char *cors;       /* the listed origin this request came from (CORS headers are added), or NULL */
    int deny;               /* admit()'s refusal (401/403), answered once the body has been discarded */
    const char *deny_code;
    char deny_msg[400];
    char method[8];
    char path[256];         /* control bytes escaped (it is logged) */
} req;

/* A refused request's body is read and dropped up to this much (so that the client, still sending, sees
 * the answer rather than a reset); beyond it, or when Content-Length announces more, it is answered at
 * once and the connection closed. */
#define DRAIN_MAX ((size_t)64 << 10)

double http_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- responses ---- */
/* Queues `r` with the headers every answer carries: no MIME sniffing, no loading by pages of other origins
 * as a script/image/frame (Cross-Origin-Resource-Policy), Vary: Origin (the answer depends on it) and, for
 * a request from a --cors-origin, the CORS headers that let that page read it. */
static enum MHD_Result queue(struct MHD_Connection *c, req *rq, unsigned status, struct MHD_Response *r)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(r, "Vary", "Origin");
    if (rq->close)
        MHD_add_response_header(r, "Connection", "close");
    if (rq->cors) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", rq->cors);
        MHD_add_response_header(r, "Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate");
    }
    rq->status = (int)status;
    return MHD_queue_response(c, status, r);
}

static enum MHD_Result send_buf(struct MHD_Connection *c, req *rq, int status, const char *ctype, const char *body,
                                size_t len, const char *extra_header, const char *extra_value)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (extra_header)
        MHD_add_response_header(r, extra_header, extra_value);
    rq->bytes = len;
    enum MHD_Result ret = queue(c, rq, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, req *rq, int status, const char *json)
{
    return send_buf(c, rq, status, "application/json", json, strlen(json), NULL, NULL);
}

/* Sends a jansson value as a compact JSON document with a trailing newline. */
static enum MHD_Result send_json_value(struct MHD_Connection *c, req *rq, int status, json_t *root,
                                       const char *extra_header, const char *extra_value)
{
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        return MHD_NO;
    size_t len = strlen(text);
    char *t2 = realloc(text, len + 2);
    if (!t2) {
        free(text);
        return MHD_NO;
    }
    t2[len++] = '\n';
    enum MHD_Result ret = send_buf(c, rq, status, "application/json", t2, len, extra_header, extra_value);
    free(t2);
    return ret;
}

static int status_of(int code)
{
    switch (code) {
    case FACTDB_NO_TABLE: return MHD_HTTP_NOT_FOUND;
    case FACTDB_BUSY: return MHD_HTTP_CONFLICT;
    case FACTDB_PERMISSION: return MHD_HTTP_FORBIDDEN;
    case FACTDB_NOMEM:
    case FACTDB_IO:
    case FACTDB_FULL:
    case FACTDB_READERS_FULL: return MHD_HTTP_SERVICE_UNAVAILABLE;
    case FACTDB_INTERNAL:
    case FACTDB_CORRUPT:
    case FACTDB_NOT_A_DATABASE:
    case FACTDB_NEWER_FORMAT: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    default: return MHD_HTTP_BAD_REQUEST;
    }
}

/* A JSON string of `s` with every byte that is not valid UTF-8 replaced by U+FFFD (jansson refuses invalid
 * UTF-8, and a message naming the client's bytes may hold some). */
static json_t *json_text(const char *s)
{
    size_t len = strlen(s), ok = base_utf8_valid_prefix((const unsigned char *)s, len);
    if (ok == len)
        return json_stringn(s, len);
    base_buf b;
    base_buf_init(&b, len * 3 + 1);
    for (size_t at = 0; at < len;) {
        ok = base_utf8_valid_prefix((const unsigned char *)s + at, len - at);
        if (base_buf_append(&b, s + at, ok))
            break;
        at += ok;
        if (at < len) {
            if (base_buf_append(&b, "\xEF\xBF\xBD", 3))
                break;
            at++;
        }
    }
    json_t *j = json_stringn(b.data ? (const char *)b.data : "", b.len);
    base_buf_cleanup(&b);
    return j;
}

/* {"error":{"code":"...","message":"...", "position":N, "row":N, "column":...}} */
static enum MHD_Result send_error(struct MHD_Connection *c, req *rq, int status, const char *code, const char *msg,
                                  int64_t position, int64_t row, const char *column, int64_t colnum)
{
    json_t *e = json_object();
    json_object_set_new(e, "code", json_string(code));
    json_object_set_new(e, "message", json_text(msg));
    if (position > 0)
        json_object_set_new(e, "position", json_integer(position));
    if (row > 0)
        json_object_set_new(e, "row", json_integer(row));
    if (column && column[0])
        json_object_set_new(e, "column", json_text(column));
    else if (colnum > 0)
        json_object_set_new(e, "column", json_integer(colnum));
    return send_json_value(c, rq, status, json_pack("{s:o}", "error", e),
                           status == MHD_HTTP_CONFLICT || status == MHD_HTTP_SERVICE_UNAVAILABLE ? "Retry-After"
                                                                                                  : NULL, "1");
}

static enum MHD_Result send_factdb_error(struct MHD_Connection *c, req *rq, const factdb_error *err)
{
    return send_error(c, rq, status_of(err->code), factdb_error_name(err->code), err->message, err->position, 0, NULL,
                      0);
}

/* ---- auth ---- */
static bool token_equal(const char *given, const char *want)
{
    /* constant time in the length of the secret: no early exit on the first differing byte */
    size_t gl = strlen(given), wl = strlen(want);
    unsigned char d = (unsigned char)(gl != wl);
    for (size_t i = 0; i < wl; i++)
        d |= (unsigned char)(want[i] ^ (i < gl ? given[i] : 0));
    return d == 0;
}

/* 0 allowed, else the status to answer (401/403). A token that is sent must be valid even where none is
 * needed, so that a mistyped token fails at once instead of failing later, on the first write. */
static int authorize(http_server *s, struct MHD_Connection *c, bool write)
{
    const char *need_w = s->o.token, *need_r = s->o.read_token;
    if (!need_w && !need_r)
        return 0;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *tok = h && !strncasecmp(h, "Bearer ", 7) ? h + 7 : NULL;
    bool is_w = tok && need_w && token_equal(tok, need_w);
    bool is_r = tok && need_r && token_equal(tok, need_r);
    if (h && !is_w && !is_r)
        return MHD_HTTP_UNAUTHORIZED;
    if (write)
        return is_w ? 0 : is_r ? MHD_HTTP_FORBIDDEN : MHD_HTTP_UNAUTHORIZED;
    return !need_r || is_w || is_r ? 0 : MHD_HTTP_UNAUTHORIZED;
}

static enum MHD_Result send_auth_error(struct MHD_Connection *c, req *rq, int status)
{
    if (status == MHD_HTTP_FORBIDDEN)
        return send_error(c, rq, status, "PERMISSION", "the read token cannot write; use the write token", 0, 0,
                          NULL, 0);
    struct MHD_Response *r;
    const char *msg = "{\"error\":{\"code\":\"UNAUTHORIZED\",\"message\":\"missing or invalid token; send "
                      "Authorization: Bearer <token>\"}}\n";
    r = MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"factdb\"");
    rq->bytes = strlen(msg);
    enum MHD_Result ret = queue(c, rq, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- admission: Host, Origin, token ---- */
/* Copies header text for an error message: printable ASCII only (the value is the client's), at most 100
 * bytes, so the JSON document stays valid whatever was sent. */
static void printable(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in && n + 1 < cap && n < 100; in++)
        out[n++] = *in >= 0x20 && *in < 0x7f && *in != '"' && *in != '\\' ? *in : '?';
    out[n] = 0;
}

/* The host name of a Host header value ("name", "name:port", "[v6]" or "[v6]:port"), lowercased into
 * out[cap]; false when it is malformed. */
static bool host_name(const char *h, char *out, size_t cap)
{
    size_t len = strlen(h), end;
    if (len == 0 || len >= cap)
        return false;
    if (h[0] == '[') {
        const char *rb = strchr(h, ']');
        if (!rb)
            return false;
        end = (size_t)(rb - h) + 1;
    } else {
        const char *colon = strchr(h, ':');
        end = colon ? (size_t)(colon - h) : len;
    }
    if (h[end] == ':') {
        if (!h[end + 1] || strspn(h + end + 1, "0123456789") != strlen(h + end + 1))
            return false;
    } else if (h[end]) {
        return false;
    }
    for (size_t i = 0; i < end; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (!isalnum(ch) && !strchr(".-_[]:", ch))
            return false;
        out[i] = (char)tolower(ch);
    }
    out[end] = 0;
    return end > 0;
}

/* Whether `host` (a Host header) names this server: a loopback name, --host, an --allow-host, or, when
 * listening on every interface, any IPv4 address (an address literal cannot be rebound by DNS). */
static bool host_allowed(http_server *s, const char *host)
{
    char name[256];
    if (!host_name(host, name, sizeof name))
        return false;
    if (!strcmp(name, "localhost") || !strcmp(name, "127.0.0.1") || !strcmp(name, "[::1]") ||
        !strcasecmp(name, s->o.host))
        return true;
    char allowed[256];  /* an --allow-host given with a port still means the name */
    for (size_t i = 0; i < s->o.n_allow_hosts; i++)
        if (!strcmp(s->o.allow_hosts[i], "*") ||
            (host_name(s->o.allow_hosts[i], allowed, sizeof allowed) && !strcmp(name, allowed)))
            return true;
    struct in_addr a;
    return !strcmp(s->o.host, "0.0.0.0") && inet_pton(AF_INET, name, &a) == 1;
}

static void deny(req *rq, int status, const char *code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void deny(req *rq, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rq->deny_msg, sizeof rq->deny_msg, fmt, ap);
    va_end(ap);
    rq->deny = status;
    rq->deny_code = code;
}

/* Decides, from the request's head alone, whether it may go on: the Host must name this server (DNS
 * rebinding), an Origin must be this server's own or a --cors-origin (other web pages), a page of another
 * site may not load the API without CORS (Sec-Fetch-Site), and the token is checked before any body is
 * parsed (rq->route tells which token a route needs). Fills rq->deny on refusal and rq->cors for a listed
 * origin. */
typedef struct head_count {
    unsigned host, cl, te, spaced;
    const char *cl_first;
    bool cl_differ;
} head_count;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    head_count *h = cls;
    size_t kl = strlen(key);
    if (kl && (key[kl - 1] == ' ' || key[kl - 1] == '\t'))
        h->spaced++;
    if (!strcasecmp(key, "Host"))
        h->host++;
    else if (!strcasecmp(key, "Transfer-Encoding"))
        h->te++;
    else if (!strcasecmp(key, "Content-Length")) {
        if (h->cl++ && strcmp(h->cl_first, value ? value : ""))
            h->cl_differ = true;
        else
            h->cl_first = value ? value : "";
    }
    return MHD_YES;
}

/* Refuses (400) heads that two HTTP parsers (a proxy in front and this server) could read differently:
 * both Content-Length and Transfer-Encoding, Content-Lengths that differ, two Hosts, white space before a
 * header's colon, and HTTP/1.1 without Host (RFC 9112, 3.2). Returns whether the head is acceptable. */
static bool head_well_formed(struct MHD_Connection *c, req *rq, const char *version)
{
    head_count h = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &h);
    const char *why = h.cl && h.te      ? "it has both Content-Length and Transfer-Encoding"
                      : h.cl_differ     ? "it has Content-Length headers that differ"
                      : h.host > 1      ? "it has more than one Host header"
                      : h.spaced        ? "a header name is followed by white space before its colon"
                      : !h.host && version && !strcmp(version, "HTTP/1.1") ? "an HTTP/1.1 request must have a Host header"
                                                                            : NULL;
    if (why)
        deny(rq, MHD_HTTP_BAD_REQUEST, "BAD_REQUEST", "malformed request: %s (RFC 9112)", why);
    return !why;
}

static void admit(http_server *s, struct MHD_Connection *c, req *rq, const char *url, const char *version)
{
    char shown[128];
    if (!head_well_formed(c, rq, version))
        return;
    /* HTTP/1.0 clients may omit Host; browsers never do, so such a request cannot come from a web page */
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (host && !host_allowed(s, host)) {
        printable(host, shown, sizeof shown);
        deny(rq, MHD_HTTP_FORBIDDEN, "HOST_NOT_ALLOWED",
             "the Host \"%s\" is not a name of this server (requests by other names are refused against DNS "
             "rebinding); if clients reach it by that name, start factdb serve with --allow-host NAME", shown);
        return;
    }
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    bool api = !strncmp(url, "/v1/", 4) || !strcmp(url, "/metrics");
    if (origin) {
        /* same-origin: the scheme, then exactly the Host the request was sent to (https behind a proxy too) */
        const char *authority = !strncasecmp(origin, "http://", 7)    ? origin + 7
                                : !strncasecmp(origin, "https://", 8) ? origin + 8
                                                                      : NULL;
        bool same = authority && host && !strcasecmp(authority, host);
        for (size_t i = 0; !same && i < s->o.n_cors_origins; i++)
            if (!strcasecmp(origin, s->o.cors_origins[i]))
                rq->cors = s->o.cors_origins[i];
        if (!same && !rq->cors) {
            printable(origin, shown, sizeof shown);
            deny(rq, MHD_HTTP_FORBIDDEN, "ORIGIN_NOT_ALLOWED",
                 "requests from pages of origin \"%s\" are refused; to let a web application there use this "
                 "server, start factdb serve with --cors-origin %s", shown, shown);
            return;
        }
    } else if (api) {
        /* a <script src>, <img> or link of another site's page: no Origin is sent, but Sec-Fetch-Site is */
        const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
        if (site && (!strcasecmp(site, "cross-site") || !strcasecmp(site, "same-site"))) {
            deny(rq, MHD_HTTP_FORBIDDEN, "ORIGIN_NOT_ALLOWED",
                 "the API cannot be loaded by a page of another site (Sec-Fetch-Site: %s); use fetch() from an "
                 "origin listed with --cors-origin", site);
            return;
        }
    }
    if (!strcmp(rq->method, "OPTIONS") || !api || !strcmp(url, "/v1/health"))
        return;  /* preflights carry no token; the page and health checks are open */
    int st = authorize(s, c, rq->route == R_ROWS);
    if (st)
        deny(rq, st, st == MHD_HTTP_FORBIDDEN ? "PERMISSION" : "UNAUTHORIZED", "%s", "");
}

/* OPTIONS: a CORS preflight from a listed origin, or a plain OPTIONS (answered with Allow). */
static enum MHD_Result preflight(struct MHD_Connection *c, req *rq)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Allow", "GET, HEAD, POST, OPTIONS");
    if (rq->cors) {
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS");
        MHD_add_response_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type, Accept");
        MHD_add_response_header(r, "Access-Control-Max-Age", "600");
    }
    enum MHD_Result ret = queue(c, rq, MHD_HTTP_NO_CONTENT, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- query timeouts ---- */
static void *watchdog(void *arg)
{
    http_server *s = arg;
    /* not `stopping`: slow clients must keep their deadlines while shutdown waits for requests in flight */
    for (unsigned tick = 0; !atomic_load(&s->daemon_stopped); tick++) {
        usleep(5000);
        if (tick % 20 == 0)
            http_conns_close_slow(s);
        double t = http_now();
        pthread_mutex_lock(&s->wmu);
        for (http_watch *w = s->watches; w; w = w->next)
            if (!atomic_load(&w->fired) && t >= w->deadline) {
                atomic_store(&w->fired, true);
                if (w->cancel)
                    w->cancel(w->arg);
            }
        pthread_mutex_unlock(&s->wmu);
    }
    return NULL;
}

static void watch_add(http_server *s, http_watch *w)
{
    pthread_mutex_lock(&s->wmu);
    w->s = s;
    w->next = s->watches;
    s->watches = w;
    pthread_mutex_unlock(&s->wmu);
}

static void watch_remove(http_server *s, http_watch *w)
{
    pthread_mutex_lock(&s->wmu);
    for (http_watch **p = &s->watches; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    pthread_mutex_unlock(&s->wmu);
}

/* ---- endpoints ---- */
static enum MHD_Result health(http_server *s, struct MHD_Connection *c, req *rq)
{
    /* open for liveness probes; the file's name only for clients that may read */
    if (s->o.read_token && authorize(s, c, false)) {
        char buf[160];
        snprintf(buf, sizeof buf, "{\"status\":\"ok\",\"version\":\"%s\"}\n", FACTDB_VERSION);
        return send_json(c, rq, MHD_HTTP_OK, buf);
    }
    uint64_t version;
    factdb_error err;
    if (s->be->data_version(s->bs, &version, &err))
        return send_factdb_error(c, rq, &err);
    const char *base = s->be->name(s->bs);
    char name[300];
    factdb_json_quote(base, strlen(base), name, sizeof name);
    const char *ro = s->o.read_only ? READ_ONLY_MSG : s->be->read_only_reason(s->bs);
    char why[400] = "";
    if (ro) {
        char q[360] = "";
        factdb_json_quote(ro, strlen(ro), q, sizeof q);
        snprintf(why, sizeof why, ",\"read_only\":%s", q);
    }
    char buf[1000];
    snprintf(buf, sizeof buf, "{\"status\":\"ok\",\"version\":\"%s\",\"database\":%s,\"data_version\":%llu%s}\n",
             FACTDB_VERSION, name, (unsigned long long)version, why);
    return send_json(c, rq, MHD_HTTP_OK, buf);
}

/* The dashboard's files, embedded at build time (tools/embed.c -> build/gen/web_assets.c). */
struct web_asset {
    const char *path, *type;
    const unsigned char *data;
    size_t len;
};
typedef struct web_asset web_asset;
extern const web_asset web_assets[];
extern const size_t web_asset_count;

/* The embedded file at `url`, or NULL. */
static const web_asset *find_asset(const char *url)
{
    for (size_t i = 0; i < web_asset_count; i++)
        if (!strcmp(web_assets[i].path, url))
            return &web_assets[i];
    return NULL;
}

static enum MHD_Result asset(struct MHD_Connection *c, req *rq, const web_asset *a)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", a->type);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; style-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'");
    rq->bytes = a->len;
    enum MHD_Result ret = queue(c, rq, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result tables(http_server *s, struct MHD_Connection *c, req *rq)
{
    http_table *list;
    size_t n;
    uint64_t version;
    factdb_error err;
    /* the version first: the list is at least as new as the version it is answered with */
    if (s->be->data_version(s->bs, &version, &err) || s->be->tables(s->bs, &list, &n, &err))
        return send_factdb_error(c, rq, &err);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const factdb_table_info *ti = &list[i].info;
        json_t *cols = json_array();
        for (size_t k = 0; k < ti->ncols; k++)
            json_array_append_new(cols, json_pack("{s:s,s:s,s:b}", "name", ti->cols[k].name, "type", list[i].types[k],
                                                  "nullable", !ti->cols[k].not_null));
        json_t *t = json_pack("{s:s}", "name", ti->name);
        if (list[i].row_count_known)
            json_object_set_new(t, "row_count", json_integer((json_int_t)ti->row_count));
        if (list[i].row_count_known && list[i].row_count_estimated)
            json_object_set_new(t, "row_count_estimated", json_true());
        json_object_set_new(t, "columns", cols);
        json_array_append_new(arr, t);
    }
    s->be->tables_free(s->bs, list, n);
    return send_json_value(c, rq, MHD_HTTP_OK, json_pack("{s:o,s:I}", "tables", arr, "data_version", (json_int_t)version),
                           NULL, NULL);
}

/* A streamed SQL result: the writer renders it as MHD asks for bytes. */
typedef struct stream {
    http_server *s;
    http_result *result;
    req *rq;
    void *track;        /* the connection's deadline record (http_conn_progress) */
    size_t grant;       /* result memory held against --max-result-memory until the answer is sent */
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *st = cls;
    size_t n = st->s->be->result_read(st->result, buf, max);
    st->rq->bytes += n;
    http_conn_progress(st->s, st->track, HTTP_CONN_SEND, n);
    return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void result_release(http_server *s, size_t g);

static void stream_free(void *cls)
{
    stream *st = cls;
    st->s->be->result_free(st->result);
    result_release(st->s, st->grant);
    free(st);
}

/* Query memory for one request, drawn from --max-result-memory: half of what is free (at most 4 GiB, the
 * limit of factdb sql), or what is left once that falls under a 64th of the budget; 0 when even that is
 * not free, or when it would not be more than `more_than`. The grant is held until the answer has been
 * sent, since the result lives in memory until then. */
static size_t result_try_grant(http_server *s, size_t more_than)
{
    size_t budget = s->o.max_result_memory, slice = budget / 64, used = atomic_load(&s->result_bytes), g;
    do {
        size_t avail = used < budget ? budget - used : 0;
        g = avail / 2 >= slice ? avail / 2 : avail >= slice ? slice : 0;
        if (g > ((size_t)4 << 30))
            g = (size_t)4 << 30;
        if (!g || g <= more_than)
            return 0;
    } while (!atomic_compare_exchange_weak(&s->result_bytes, &used, used + g));
    return g;
}

/* A grant of more than `more_than`, waiting until `until` (--busy-timeout after the request came) for
 * memory that requests in flight give back: readers queue as writers do for the write lock, rather than
 * being refused as soon as a few run at once. 0 after that (answered 503). */
static size_t result_grant(http_server *s, const struct timespec *until, size_t more_than)
{
    size_t g = result_try_grant(s, more_than);
    if (g || s->o.busy_timeout_ms <= 0)
        return g;
    pthread_mutex_lock(&s->rmu);
    while (!(g = result_try_grant(s, more_than)) && !atomic_load(&s->stopping))
        if (pthread_cond_timedwait(&s->rcv, &s->rmu, until)) {
            g = result_try_grant(s, more_than);
            break;
        }
    pthread_mutex_unlock(&s->rmu);
    return g;
}

/* Gives a grant back and wakes the requests waiting for memory. */
static void result_release(http_server *s, size_t g)
{
    atomic_fetch_sub(&s->result_bytes, g);
    pthread_mutex_lock(&s->rmu);
    pthread_cond_broadcast(&s->rcv);
    pthread_mutex_unlock(&s->rmu);
}

static int param_from_json(json_t *v, factdb_param *p, int index, factdb_error *err)
{
    memset(p, 0, sizeof *p);
    switch (json_typeof(v)) {
    case JSON_NULL: p->kind = FACTDB_PARAM_NULL; return 0;
    case JSON_TRUE:
    case JSON_FALSE: p->kind = FACTDB_PARAM_BOOL; p->b = json_is_true(v); return 0;
    case JSON_INTEGER: p->kind = FACTDB_PARAM_INT; p->i = json_integer_value(v); return 0;
    case JSON_REAL: p->kind = FACTDB_PARAM_DOUBLE; p->d = json_real_value(v); return 0;
    case JSON_STRING:
        p->kind = FACTDB_PARAM_TEXT;
        p->s = json_string_value(v);
        p->len = json_string_length(v);
        return 0;
    default:
        return base_err(err, FACTDB_INVALID_ARGUMENT, "parameter $%d must be a string, number, boolean or null", index);
    }
}

/* Whether the Content-Type value `ct` is the media type `want` (compared case-insensitively), alone or
 * followed by parameters ("text/plain; charset=utf-8"); "text/plainjunk" is not text/plain. */
static bool media_type_is(const char *ct, const char *want)
{
    if (!ct)
        return false;
    ct += strspn(ct, " \t");
    size_t n = strlen(want);
    if (strncasecmp(ct, want, n))
        return false;
    ct += n;
    ct += strspn(ct, " \t");
    return !*ct || *ct == ';';
}

static bool wants_csv(struct MHD_Connection *c)
{
    const char *f = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    if (f)
        return !strcmp(f, "csv");
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    return a && strstr(a, "text/csv") && !strstr(a, "application/json");
}

static enum MHD_Result sql(http_server *s, struct MHD_Connection *c, req *rq)
{
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *text = NULL;
    size_t len = 0;
    json_t *root = NULL, *params = NULL;
    factdb_error err;
    const char *f = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    if (f && strcmp(f, "csv") && strcmp(f, "json"))
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, "INVALID_ARGUMENT", "format must be json or csv", 0, 0, NULL, 0);
    /* No form encoding (HTML forms of any site can send it, and a JSON body under it was a way in), and
     * exact media types: text/plain is accepted (a page of another origin sending it is refused by admit). */
    if (media_type_is(ctype, "text/plain")) {
        text = (const char *)rq->body.data;
        len = rq->body.len;
    } else if (!ctype || media_type_is(ctype, "application/json")) {
        size_t at, values, items;
        if (!http_json_scan((const char *)rq->body.data, rq->body.len, 32, &at, &values, &items)) {
            char msg[120];
            snprintf(msg, sizeof msg, "JSON nested deeper than 32 levels at byte %zu", at);
            return send_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE, "LIMIT", msg, 0, 0, NULL, 0);
        }
        /* {"sql":..,"params":[...]} holds a few values besides the parameters; decoding takes ~100 bytes per
           value (16 MB of `1,` took 260 MB), so count them before */
        if (values > HTTP_MAX_PARAMS + 8)
            return send_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE, "LIMIT",
                              "too many parameters (at most 65535) in the request", 0, 0, NULL, 0);
        json_error_t je;
        root = json_loadb((const char *)rq->body.data, rq->body.len, JSON_REJECT_DUPLICATES, &je);
        if (!root) {
            char msg[300];
            snprintf(msg, sizeof msg, "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
            return send_error(c, rq, MHD_HTTP_BAD_REQUEST, "INVALID_ARGUMENT", msg, 0, 0, NULL, 0);
        }
        json_t *q = json_object_get(root, "sql");
        params = json_object_get(root, "params");
        if (!json_is_object(root) || !json_is_string(q) || (params && !json_is_array(params) && !json_is_null(params))) {
            json_decref(root);
            return send_error(c, rq, MHD_HTTP_BAD_REQUEST, "INVALID_ARGUMENT",
                              "expected {\"sql\": \"...\", \"params\": [...]}", 0, 0, NULL, 0);
        }
        text = json_string_value(q);
        len = json_string_length(q);
    } else if (media_type_is(ctype, "application/x-www-form-urlencoded") || media_type_is(ctype, "multipart/form-data")) {
        return send_error(c, rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE",
                          "form-encoded bodies are not accepted (web forms of any site can send them); send "
                          "application/json ({\"sql\":..., \"params\":[...]}) or text/plain SQL (with curl: -H "
                          "'Content-Type: application/json')", 0, 0, NULL, 0);
    } else {
        return send_error(c, rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE",
                          "send application/json ({\"sql\":..., \"params\":[...]}) or text/plain SQL", 0, 0, NULL, 0);
    }
    size_t np = params && json_is_array(params) ? json_array_size(params) : 0;
    factdb_param *pv = calloc(np ? np : 1, sizeof *pv);
    if (!pv) {
        json_decref(root);
        return MHD_NO;
    }
    for (size_t i = 0; i < np; i++)
        if (param_from_json(json_array_get(params, i), &pv[i], (int)i + 1, &err)) {
            free(pv);
            json_decref(root);
            return send_factdb_error(c, rq, &err);
        }
    /* the token was authenticated by admit(); which SQL writes (so needs the write token) matters only when
     * tokens are set: otherwise skip this second parse */
    bool writes = false;
    if ((s->o.token || s->o.read_token || s->o.read_only) && s->be->sql_writes(s->bs, text, len, &writes, &err)) {
        /* text factdb's parser cannot read: a read token gets the parser's error; the write token may run
           anything, so its statements go on to the backend (PostgreSQL runs SQL factdb does not parse; the
           embedded engine answers the same error) */
        if (s->o.read_only || authorize(s, c, true)) {
            free(pv);
            json_decref(root);
            return send_factdb_error(c, rq, &err);
        }
        writes = true;
    }
    if (writes && s->o.read_only) {
        free(pv);
        json_decref(root);
        return send_error(c, rq, MHD_HTTP_FORBIDDEN, "PERMISSION", READ_ONLY_MSG, 0, 0, NULL, 0);
    }
    int auth = authorize(s, c, writes);
    if (auth) {
        free(pv);
        json_decref(root);
        return send_auth_error(c, rq, auth);
    }
    /* how long the request may wait for query memory, over all its tries */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += s->o.busy_timeout_ms / 1000;
    until.tv_nsec += (long)(s->o.busy_timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    size_t grant = result_grant(s, &until, 0);
    if (!grant) {
        free(pv);
        json_decref(root);
        return send_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "BUSY",
                          "the memory for query results (--max-result-memory) is taken by other requests in flight; "
                          "retry shortly", 0, 0, NULL, 0);
    }
    http_watch w = {.deadline = http_now() + s->o.query_timeout_ms / 1000.0};
    if (s->o.query_timeout_ms > 0)
        watch_add(s, &w);
    http_sql q = {.text = text, .len = len, .params = pv, .nparams = np, .memory = grant, .threads = s->o.threads,
                  .file_access = s->o.allow_file_access, .watch = &w,
                  .read_only = s->o.read_only || ((s->o.token || s->o.read_token) && authorize(s, c, true) != 0)};
    http_sql_out out;
    double t0 = http_now();
    size_t full = s->o.max_result_memory / 2 < ((size_t)4 << 30) ? s->o.max_result_memory / 2 : (size_t)4 << 30;
    int rc, reads = -1;  /* the statements only read (1), may write (0), not known yet (-1) */
    for (;;) {
        rc = s->be->sql(s->bs, &q, &out, &err);
        if (rc != FACTDB_LIMIT || !strstr(err.message, "memory") || grant >= full || http_watch_fired(&w))
            break;
        /* a query that outgrew a partial share (other requests held the rest) runs again with a larger
           one once they give memory back, if running it again changes nothing: it only reads, and the
           backend's reads have no side effects or run in a read-only transaction (a read token) */
        if (!s->be->pure_reads && !q.read_only)
            break;
        if (reads < 0) {
            bool wr = true;
            factdb_error e2;
            reads = !s->be->sql_writes(s->bs, text, len, &wr, &e2) && !wr;
        }
        if (!reads)
            break;
        size_t had = grant;
        result_release(s, grant);
        if (!(grant = result_grant(s, &until, had)))
            break;  /* answered 503 below */
        q.memory = grant;
    }
    double elapsed = (http_now() - t0) * 1000;
    if (s->o.query_timeout_ms > 0)
        watch_remove(s, &w);
    free(pv);
    http_result *last = out.result;
    if (rc) {
        json_decref(root);
        result_release(s, grant);
        if (rc == FACTDB_LIMIT && strstr(err.message, "memory")) {
            /* the per-session message names factdb sql's option; say what applies here */
            char msg[300];
            if (grant < full)
                return send_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "BUSY",
                                  "the query needs more memory than is free now: other requests in flight hold "
                                  "most of --max-result-memory; retry shortly", 0, 0, NULL, 0);
            snprintf(msg, sizeof msg, "the query needs more than %zu MiB of memory (half of the server's "
                     "--max-result-memory); add filters or a LIMIT", grant >> 20);
            return send_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE, "LIMIT", msg, 0, 0, NULL, 0);
        }
        if (http_watch_fired(&w)) {
            char msg[200];
            snprintf(msg, sizeof msg, "the query ran longer than the server's query timeout (%d ms) and was canceled",
                     s->o.query_timeout_ms);
            return send_error(c, rq, MHD_HTTP_REQUEST_TIMEOUT, "TIMEOUT", msg, 0, 0, NULL, 0);
        }
        return send_factdb_error(c, rq, &err);
    }
    json_decref(root);
    if (!last || (out.nrows > s->o.max_result && s->o.max_result))
        result_release(s, grant);
    if (!last) {
        char buf[160];
        snprintf(buf, sizeof buf, "{\"columns\":[],\"rows\":[],\"row_count\":0,\"elapsed_ms\":%.3f}\n", elapsed);
        return send_json(c, rq, MHD_HTTP_OK, buf);
    }
    if (out.nrows > s->o.max_result && s->o.max_result) {
        s->be->result_free(last);
        char msg[200];
        snprintf(msg, sizeof msg, "the result has more than %zu rows; add a LIMIT", s->o.max_result);
        return send_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE, "LIMIT", msg, 0, 0, NULL, 0);
    }
    bool csv = wants_csv(c);
    char extra[160];
    /* rows of a statement that also wrote (INSERT ... RETURNING) carry its command too */
    if (out.has_rows && !strncmp(out.tag, "SELECT", 6))
        snprintf(extra, sizeof extra, ",\"elapsed_ms\":%.3f,\"data_version\":%llu", elapsed,
                 (unsigned long long)out.data_version);
    else
        snprintf(extra, sizeof extra, ",\"command\":\"%s\",\"elapsed_ms\":%.3f,\"data_version\":%llu",
                 out.tag, elapsed, (unsigned long long)out.data_version);
    stream *st = calloc(1, sizeof *st);
    if (!st || s->be->result_open(last, csv, extra, &err)) {
        free(st);
        s->be->result_free(last);
        result_release(s, grant);
        return MHD_NO;
    }
    st->s = s;
    st->result = last;
    st->rq = rq;
    st->grant = grant;
    st->track = http_conn_of(c);
    http_conn_progress(s, st->track, HTTP_CONN_SEND, 0);  /* a client that does not read loses the result */
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536, stream_read, st, stream_free);
    if (!r) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", csv ? "text/csv; charset=utf-8" : "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = queue(c, rq, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result rows(http_server *s, struct MHD_Connection *c, req *rq, const char *table)
{
    if (s->o.read_only)
        return send_error(c, rq, MHD_HTTP_FORBIDDEN, "PERMISSION", READ_ONLY_MSG, 0, 0, NULL, 0);
    /* the write token was checked by admit() */
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    rows_format format;
    if (media_type_is(ct, "application/json"))
        format = ROWS_JSON;
    else if (media_type_is(ct, "application/x-ndjson") || media_type_is(ct, "application/ndjson"))
        format = ROWS_NDJSON;
    else if (media_type_is(ct, "text/csv"))
        format = ROWS_CSV;
    else
        return send_error(c, rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE",
                          "send application/json (an array of objects), application/x-ndjson or text/csv with a "
                          "header row", 0, 0, NULL, 0);
    uint64_t inserted, version;
    char colname[FACTDB_NAME_MAX + 1];
    factdb_error err;
    int rc = ingest_rows(s, table, format, (const char *)rq->body.data, rq->body.len, &inserted, &version, colname,
                         sizeof colname, &err);
    if (rc) {
        int status = rc == FACTDB_LIMIT ? MHD_HTTP_CONTENT_TOO_LARGE : status_of(rc);
        return send_error(c, rq, status, factdb_error_name(rc), err.message, 0, err.line, colname,
                          colname[0] ? 0 : err.column);
    }
    char buf[160];
    snprintf(buf, sizeof buf, "{\"inserted\":%llu,\"data_version\":%llu}\n", (unsigned long long)inserted,
             (unsigned long long)version);
    return send_json(c, rq, MHD_HTTP_OK, buf);
}

/* Server-sent events: the data_version whenever any process commits, a comment every 15 s. */
typedef struct events {
    http_server *s;
    void *track;        /* the connection's deadline record: a stream whose writes block is closed */
    uint64_t last;
    double last_send;
    bool first;
    req *rq;
} events;

static ssize_t events_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    events *e = cls;
    for (;;) {
        if (atomic_load(&e->s->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        http_conn_progress(e->s, e->track, HTTP_CONN_EVENTS, 0);
        if (http_conn_peer_gone(e->track))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        uint64_t v = e->last;
        factdb_error err;
        if (e->s->be->data_version(e->s->bs, &v, &err))
            v = e->last;  /* the backend is unreachable for now: no event, keep-alives go on */
        double t = http_now();
        int n = 0;
        if (e->first || v != e->last)
            n = snprintf(buf, max, "data: {\"data_version\":%llu}\n\n", (unsigned long long)v);
        else if (t - e->last_send >= 15)
            n = snprintf(buf, max, ": keep-alive\n\n");
        if (n > 0 && (size_t)n < max) {
            e->first = false;
            e->last = v;
            e->last_send = t;
            e->rq->bytes += (uint64_t)n;
            return n;
        }
        usleep(50000);  /* 50 ms: commits by any process show within 250 ms */
    }
}

static void events_free(void *cls)
{
    events *e = cls;
    atomic_fetch_sub(&e->s->event_streams, 1);
    free(e);
}

static enum MHD_Result event_stream(http_server *s, struct MHD_Connection *c, req *rq)
{
    /* each stream holds a connection (and a thread) for as long as its client likes */
    if (atomic_fetch_add(&s->event_streams, 1) >= s->o.max_event_streams) {
        atomic_fetch_sub(&s->event_streams, 1);
        char msg[200];
        snprintf(msg, sizeof msg, "the server already sends %u event streams (--max-event-streams); retry later",
                 s->o.max_event_streams);
        return send_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "BUSY", msg, 0, 0, NULL, 0);
    }
    events *e = calloc(1, sizeof *e);
    if (!e) {
        atomic_fetch_sub(&s->event_streams, 1);
        return MHD_NO;
    }
    e->s = s;
    e->track = http_conn_of(c);
    e->first = true;
    e->rq = rq;
    e->last_send = http_now();
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256, events_read, e, events_free);
    if (!r) {
        events_free(e);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = queue(c, rq, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result metrics(http_server *s, struct MHD_Connection *c, req *rq)
{
    base_buf b;
    base_buf_init(&b, (size_t)1 << 24);
    metrics_render(s, &b);
    enum MHD_Result r = send_buf(c, rq, MHD_HTTP_OK, "text/plain; version=0.0.4", (const char *)b.data, b.len, NULL,
                                 NULL);
    base_buf_cleanup(&b);
    return r;
}

static enum MHD_Result not_allowed(struct MHD_Connection *c, req *rq, const char *allow)
{
    char msg[120];
    snprintf(msg, sizeof msg, "{\"error\":{\"code\":\"METHOD_NOT_ALLOWED\",\"message\":\"use %s\"}}\n", allow);
    return send_buf(c, rq, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json", msg, strlen(msg), "Allow", allow);
}

/* ---- dispatch ---- */
/* Answers a request admit() refused. */
static enum MHD_Result refuse(struct MHD_Connection *c, req *rq)
{
    if (rq->deny == MHD_HTTP_UNAUTHORIZED || !strcmp(rq->deny_code, "PERMISSION"))
        return send_auth_error(c, rq, rq->deny);
    return send_error(c, rq, rq->deny, rq->deny_code, rq->deny_msg, 0, 0, NULL, 0);
}

/* The route of `url`, for metrics (set before admission, so refusals are counted by route too). */
static http_route route_of(const char *url)
{
    size_t n = strlen(url);
    if (!strcmp(url, "/v1/health"))
        return R_HEALTH;
    if (!strcmp(url, "/v1/tables"))
        return R_TABLES;
    if (!strcmp(url, "/v1/sql"))
        return R_SQL;
    if (!strcmp(url, "/v1/events"))
        return R_EVENTS;
    if (!strcmp(url, "/metrics"))
        return R_METRICS;
    if (!strncmp(url, "/v1/tables/", 11) && n > 16 && !strcmp(url + n - 5, "/rows"))
        return R_ROWS;
    return R_OTHER;
}

/* Copies `in` for the log: bytes under 0x20, 0x7f, backslash and bytes that are not valid UTF-8 become
 * \xNN, so that a URL cannot forge log lines or terminal escapes. */
static void loggable(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    size_t len = strlen(in), valid = 0;  /* bytes from `in` on known to be valid UTF-8 */
    for (; *in; in++, len--) {
        unsigned char ch = (unsigned char)*in;
        if (!valid)
            valid = base_utf8_valid_prefix((const unsigned char *)in, len);
        bool esc = ch < 0x20 || ch == 0x7f || ch == '\\' || !valid;
        valid -= valid > 0;
        if (n + (esc ? 4 : 1) >= cap)
            break;
        if (esc)
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", ch);
        else
            out[n++] = (char)ch;
    }
    out[n] = 0;
}

/* Answers a request that cannot go on (refused, body too large or over the budget) before (the rest of)
 * its body is read: with Connection: close, since the unread body cannot be told from a next request. */
static enum MHD_Result answer_early(http_server *s, struct MHD_Connection *c, req *rq, bool close)
{
    http_conn_phase(s, c, HTTP_CONN_BUSY, 0);
    rq->close = close;
    if (rq->deny)
        return refuse(c, rq);
    if (rq->over_budget)
        return send_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "BUSY",
                          "the server is holding too many large request bodies at once; retry shortly", 0, 0, NULL, 0);
    char msg[160];
    snprintf(msg, sizeof msg, "the request body is larger than the server's limit of %zu bytes (--max-body)",
             s->o.max_body);
    return send_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE, "LIMIT", msg, 0, 0, NULL, 0);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    http_server *s = cls;
    req *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        rq->t0 = http_now();
        rq->route = route_of(url);
        atomic_fetch_add(&s->active, 1);
        loggable(method, rq->method, sizeof rq->method);
        loggable(url, rq->path, sizeof rq->path);
        base_buf_init(&rq->body, s->o.max_body);
        *con_cls = rq;
        http_conn_phase(s, c, HTTP_CONN_BODY, 0);
        admit(s, c, rq, url, version);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        unsigned long long announced = cl ? strtoull(cl, NULL, 10) : 0;
        if (announced > s->o.max_body)
            rq->too_large = true;
        else if (announced > HTTP_BODY_BUDGET - atomic_load(&s->body_bytes))
            rq->over_budget = true;  /* (a rough test: bodies arriving at once may still pass it together) */
        /* a client waiting for "100 Continue", or announcing more than DRAIN_MAX (or a chunked body of
           unknown length), gets its refusal at once instead of sending a body that would be dropped */
        const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
        bool chunked = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding") != NULL;
        if ((rq->deny || rq->too_large || rq->over_budget) &&
            ((expect && !strcasecmp(expect, "100-continue")) || announced > DRAIN_MAX || chunked || rq->deny == 400))
            return answer_early(s, c, rq, true);
        return MHD_YES;
    }
    if (*upload_size) {
        http_conn_phase(s, c, HTTP_CONN_BODY, *upload_size);
        /* a small body of a refused request is read and dropped, so that the client sees the answer */
        if (rq->deny || rq->too_large || rq->over_budget) {
            rq->drained += *upload_size;
            *upload_size = 0;
            /* MHD 0.9.75 cannot queue an answer in the middle of a body (it closes the connection instead):
               beyond DRAIN_MAX (only a chunked body gets there) the connection is closed without one */
            return rq->drained > DRAIN_MAX ? MHD_NO : MHD_YES;
        }
        size_t now = atomic_fetch_add(&s->body_bytes, *upload_size) + *upload_size;
        rq->charged += *upload_size;
        if (now > HTTP_BODY_BUDGET)
            rq->over_budget = true;
        else if (base_buf_append(&rq->body, upload, *upload_size))
            rq->too_large = true;
        *upload_size = 0;
        return MHD_YES;
    }
    http_conn_phase(s, c, HTTP_CONN_BUSY, 0);
    if (rq->status)
        return MHD_YES;  /* answered early */
    if (rq->deny || rq->over_budget || rq->too_large)
        return answer_early(s, c, rq, false);  /* the whole (small) body was read */
    if (!strcmp(method, "OPTIONS"))
        return preflight(c, rq);
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    if (!strcmp(url, "/v1/health")) {
        return get ? health(s, c, rq) : not_allowed(c, rq, "GET");
    }
    if (!strcmp(url, "/v1/tables")) {
        return get ? tables(s, c, rq) : not_allowed(c, rq, "GET");
    }
    if (!strcmp(url, "/v1/sql")) {
        return post ? sql(s, c, rq) : not_allowed(c, rq, "POST");
    }
    if (!strncmp(url, "/v1/tables/", 11)) {
        const char *name = url + 11, *slash = strchr(name, '/');
        if (slash && !strcmp(slash, "/rows") && slash > name && (size_t)(slash - name) <= FACTDB_NAME_MAX) {
            char table[FACTDB_NAME_MAX + 1];
            snprintf(table, sizeof table, "%.*s", (int)(slash - name), name);
            return post ? rows(s, c, rq, table)
                        : not_allowed(c, rq, "POST");
        }
    }
    if (!strcmp(url, "/v1/events")) {
        return get ? event_stream(s, c, rq)
                   : not_allowed(c, rq, "GET");
    }
    if (!strcmp(url, "/metrics")) {
        return get ? metrics(s, c, rq)
                   : not_allowed(c, rq, "GET");
    }
    const web_asset *wa = get ? find_asset(url) : NULL;
    if (wa)
        return asset(c, rq, wa);
    char msg[400];
    snprintf(msg, sizeof msg, "no such route: %s %.200s (see docs/http.md)", method, url);
    return send_error(c, rq, MHD_HTTP_NOT_FOUND, "NOT_FOUND", msg, 0, 0, NULL, 0);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    http_server *s = cls;
    req *rq = *con_cls;
    http_conn_phase(s, c, HTTP_CONN_HEAD, 0);  /* a kept-alive connection has --header-timeout for its next request */
    if (!rq)
        return;
    double secs = http_now() - rq->t0;
    if (!rq->status)
        rq->status = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? 200 : 499;
    metrics_request(s, rq->route, rq->status, secs);
    fprintf(stderr, "%s %s %d %llu %.1f ms%s\n", rq->method, rq->path, rq->status, (unsigned long long)rq->bytes,
            secs * 1000, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed early)");
    base_buf_cleanup(&rq->body);
    atomic_fetch_sub(&s->body_bytes, rq->charged);
    free(rq);
    *con_cls = NULL;
    atomic_fetch_sub(&s->active, 1);
}

/* Opens the backend `o->db_path` names: the one place that chooses between them. */
static int backend_open(const http_opts *o, const http_backend_ops **ops, http_backend **out, factdb_error *err)
{
    if (http_target_is_pg(o->db_path)) {
        if (!o->open_pg)
            return base_err(err, FACTDB_INVALID_ARGUMENT, "%s names a PostgreSQL database, and this program has no "
                            "PostgreSQL backend; run factdb serve", o->db_path);
        return o->open_pg(o, ops, out, err);
    }
    return http_backend_embedded_open(o, ops, out, err);
}

static bool is_loopback(const char *host)
{
    return !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") || !strcmp(host, "::1") ||
           !strncmp(host, "127.", 4);
}

int http_serve(const http_opts *o, factdb_error *err)
{
    http_server *s = calloc(1, sizeof *s);
    if (!s)
        return base_err(err, FACTDB_NOMEM, "out of memory");
    s->o = *o;
    if (!s->o.host)
        s->o.host = "127.0.0.1";
    if (!is_loopback(s->o.host) && !s->o.token) {
        free(s);
        return base_err(err, FACTDB_INVALID_ARGUMENT,
                        "refusing to listen on %s without --token: anyone on the network could write; set --token "
                        "(and --read-token), or listen on 127.0.0.1", o->host);
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)s->o.port);
    const char *h = !strcmp(s->o.host, "localhost") ? "127.0.0.1" : s->o.host;
    if (inet_pton(AF_INET, h, &sin.sin_addr) != 1) {
        free(s);
        return base_err(err, FACTDB_INVALID_ARGUMENT, "--host %s is not an IPv4 address", o->host);
    }
    for (size_t i = 0; i < s->o.n_cors_origins; i++) {
        const char *co = s->o.cors_origins[i];
        const char *a = !strncmp(co, "http://", 7) ? co + 7 : !strncmp(co, "https://", 8) ? co + 8 : NULL;
        char name[256];
        if (!a || !host_name(a, name, sizeof name)) {
            free(s);
            return base_err(err, FACTDB_INVALID_ARGUMENT,
                            "--cors-origin %s is not an origin; give it as the browser shows it: http://host:port or "
                            "https://host (no path, no trailing /)", co);
        }
    }
    if (!s->o.max_per_address)
        s->o.max_per_address = s->o.max_connections / 4 ? s->o.max_connections / 4 : 1;
    if (s->o.max_per_address > s->o.max_connections)
        s->o.max_per_address = s->o.max_connections;
    if (s->o.header_timeout_s <= 0)
        s->o.header_timeout_s = 10;
    if (!s->o.max_result_memory)
        s->o.max_result_memory = (size_t)1 << 30;
    if (!s->o.max_event_streams)
        s->o.max_event_streams = s->o.max_connections / 16 ? s->o.max_connections / 16 : 1;
    int rc = backend_open(o, &s->be, &s->bs, err);
    if (rc) {
        free(s);
        return rc;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->qmu, NULL);
    pthread_mutex_init(&s->wmu, NULL);
    pthread_mutex_init(&s->cmu, NULL);
    pthread_cond_init(&s->qcv, NULL);
    pthread_cond_init(&s->donecv, NULL);
    pthread_mutex_init(&s->rmu, NULL);
    pthread_cond_init(&s->rcv, NULL);
    /* SIGINT/SIGTERM are taken by sigwait below; block them before any thread starts */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if ((rc = ingest_start(s, err)))
        goto out;
    if (pthread_create(&s->watchdog, NULL, watchdog, s) == 0)
        s->watchdog_running = true;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin, MHD_OPTION_NOTIFY_COMPLETED, completed,
        s, MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, s, MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
        /* the per-address limit is enforced by conns.c, which closes a slowloris rather than the newcomer;
           MHD's, at twice that, only bounds connections being closed and newcomers not yet refused */
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, 2 * s->o.max_per_address, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_THREAD_STACK_SIZE,
        (size_t)(4 << 20), MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 << 10), MHD_OPTION_END);
    if (!d) {
        rc = base_err(err, FACTDB_IO, "cannot listen on %s:%d (is the port in use?)", s->o.host, o->port);
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int port = di ? di->port : o->port;
    /* a PostgreSQL URL may hold a password: show only the database's name */
    printf("factdb serve: listening on http://%s:%d/ (database %s)\n", s->o.host, port,
           http_target_is_pg(o->db_path) ? s->be->name(s->bs) : o->db_path);
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    fprintf(stderr, "factdb serve: %s received, finishing in-flight requests\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    MHD_quiesce_daemon(d);             /* stop accepting */
    atomic_store(&s->stopping, true);  /* event streams end */
    result_release(s, 0);              /* requests waiting for query memory stop waiting */
    /* let the requests in flight finish (queries, inserts waiting for their commit) */
    for (int i = 0; i < 6000 && atomic_load(&s->active) > 0; i++)
        usleep(10000);
    MHD_stop_daemon(d);                /* closes idle connections, joins their threads */
    rc = 0;
out:
    atomic_store(&s->stopping, true);
    atomic_store(&s->daemon_stopped, true);
    ingest_stop(s);
    if (s->watchdog_running)
        pthread_join(s->watchdog, NULL);
    s->be->close(s->bs);
    free(s);
    return rc;
}
