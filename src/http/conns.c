/* conns.c: deadlines for slow clients (slowloris). MHD's connection timeout restarts with every byte, so a
 * client sending one byte every few seconds would hold its connection (and thread) forever. Each
 * connection is tracked from accept to close with the phase it is in; the watchdog shuts down
 * (shutdown(2), which wakes the connection's thread) those whose request head is not complete within
 * --header-timeout of the connection's start or previous answer, or whose body arrives slower than
 * --min-body-rate after as long again. Invariant: MHD reports a connection closed before it closes its
 * socket, and both sides hold cmu, so the watchdog never shuts down a descriptor already reused. */
#include "http_int.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

typedef struct conn_track {
    struct conn_track *next, **pprev;
    int fd;
    int phase;
    double since;           /* when the phase began */
    uint64_t body_bytes;    /* received in HTTP_CONN_BODY */
    bool closing;
    char addr[INET6_ADDRSTRLEN];
} conn_track;

void http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    http_server *s = cls;
    conn_track *t = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (!t)
            return;
        pthread_mutex_lock(&s->cmu);
        *t->pprev = t->next;
        if (t->next)
            t->next->pprev = t->pprev;
        pthread_mutex_unlock(&s->cmu);
        free(t);
        *socket_context = NULL;
        return;
    }
    t = calloc(1, sizeof *t);
    if (!t)
        return;  /* untracked: only MHD's idle timeout applies */
    const union MHD_ConnectionInfo *fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    t->fd = fi ? fi->connect_fd : -1;
    t->phase = HTTP_CONN_HEAD;
    t->since = http_now();
    if (ai && ai->client_addr && ai->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)ai->client_addr)->sin_addr, t->addr, sizeof t->addr);
    pthread_mutex_lock(&s->cmu);
    t->next = s->conns;
    t->pprev = &s->conns;
    if (s->conns)
        s->conns->pprev = &t->next;
    s->conns = t;
    pthread_mutex_unlock(&s->cmu);
    *socket_context = t;
}

void http_conn_phase(http_server *s, struct MHD_Connection *c, int phase, size_t bytes)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_track *t = ci ? ci->socket_context : NULL;
    if (!t)
        return;
    pthread_mutex_lock(&s->cmu);
    if (phase == HTTP_CONN_BODY && t->phase == HTTP_CONN_BODY) {
        t->body_bytes += bytes;
    } else {
        t->phase = phase;
        t->since = http_now();
        t->body_bytes = 0;
    }
    pthread_mutex_unlock(&s->cmu);
}

void http_conns_close_slow(http_server *s)
{
    double t = http_now(), ht = s->o.header_timeout_s;
    uint64_t closed = 0;
    pthread_mutex_lock(&s->cmu);
    for (conn_track *k = s->conns; k; k = k->next) {
        if (k->closing || k->fd < 0 || k->phase == HTTP_CONN_BUSY)
            continue;
        double deadline = k->since + ht;
        if (k->phase == HTTP_CONN_BODY)
            deadline += s->o.min_body_rate ? (double)k->body_bytes / (double)s->o.min_body_rate : 1e18;
        if (t < deadline)
            continue;
        k->closing = true;
        shutdown(k->fd, SHUT_RDWR);
        closed++;
        fprintf(stderr, "factdb serve: closed a connection from %s: %s\n", k->addr[0] ? k->addr : "?",
                k->phase == HTTP_CONN_HEAD ? "no complete request head within --header-timeout"
                                   : "its request body arrived slower than --min-body-rate");
    }
    pthread_mutex_unlock(&s->cmu);
    if (closed) {
        pthread_mutex_lock(&s->mu);
        s->slow_closed += closed;
        pthread_mutex_unlock(&s->mu);
    }
}
