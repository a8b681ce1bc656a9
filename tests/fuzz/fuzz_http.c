/* fuzz_http.c: libFuzzer target for the HTTP layer of `factdb serve`: libmicrohttpd's request parsing and
 * src/http's routing, headers, query strings, tokens and bodies. http_serve runs once, in a thread of this
 * process, on a loopback port of its own over a small database; each input is sent as raw bytes on a new
 * connection, whose write side is then shut, and the reply read until the server closes (at most
 * REPLY_TIMEOUT_MS; an event stream is dropped as soon as it is recognised).
 * Invariants: no file descriptor outlives its input (the client socket closes with an RST, so thousands of
 * connections leave no TIME_WAIT behind); the server is shared by all inputs, so its database changes as
 * inputs write to it (a reproducer may need the inputs before it: replay the crash file first, alone).
 * The server runs with its defaults for file access (COPY with a server file is refused with 403), so
 * every input is sent. */
#include "fuzz_common.h"
#include "http/http.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#define REPLY_TIMEOUT_MS 3000

static char db_path[512];
static http_opts opts;
static int port;

static void *serve(void *arg)
{
    (void)arg;
    factdb_error err;
    if (http_serve(&opts, &err)) {
        fprintf(stderr, "fuzz_http: the server stopped: %s\n", err.message);
        abort();
    }
    return NULL;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sin;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) || getsockname(fd, (struct sockaddr *)&sin, &sl)) {
        perror("fuzz_http: finding a free port");
        abort();
    }
    close(fd);
    return ntohs(sin.sin_port);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A connected socket to the server, or -1. */
static int connect_server(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int attempt = 0; attempt < 200; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0)
            return fd;
        close(fd);
        usleep(10000);  /* the server is starting, or its connection limit is reached */
    }
    return -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(db_path, sizeof db_path, "%s/http.factdb", fuzz_dir());
    factdb_close(fuzz_open_fresh(db_path, FUZZ_SCHEMA, "fuzz_http"));
    port = free_port();
    opts = (http_opts){.db_path = db_path, .host = "127.0.0.1", .port = port, .max_body = (size_t)1 << 20,
                       .max_rows = 10000, .max_result = 10000, .query_timeout_ms = 2000, .threads = 1,
                       .busy_timeout_ms = 1000, .max_connections = 64};
    pthread_t t;
    if (pthread_create(&t, NULL, serve, NULL))
        abort();
    pthread_detach(t);
    int fd = connect_server();
    if (fd < 0) {
        fprintf(stderr, "fuzz_http: cannot connect to the server on port %d\n", port);
        abort();
    }
    close(fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = connect_server();
    if (fd < 0) {
        fprintf(stderr, "fuzz_http: cannot connect to the server on port %d\n", port);
        abort();
    }
    double deadline = now_ms() + REPLY_TIMEOUT_MS;
    size_t at = 0;
    while (at < size) {
        ssize_t n = send(fd, data + at, size - at, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            at += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            break;  /* the server answered early and closed */
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
    }
    shutdown(fd, SHUT_WR);
    char buf[4096];
    bool head = true;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
        if (n <= 0)
            break;
        if (head) {
            buf[n] = 0;
            if (strstr(buf, "text/event-stream"))
                break;  /* never ends by itself */
            head = false;
        }
    }
    close(fd);
    return 0;
}
