/* conns.c: deadlines for slow clients (slowloris). MHD's connection timeout restarts with every byte, so a
 * client sending one byte every few seconds would hold its connection (and thread) forever. Each
 * connection is tracked from accept to close with the phase it is in; the watchdog shuts down
 * (shutdown(2), which wakes the connection's thread) those whose request head is not complete within
 * --header-timeout of the connection's start or previous answer, or whose body arrives slower than
 * --min-body-rate after as long again. Invariant: MHD reports a connection closed before it closes its
 * socket, and both sides hold cmu, so the watchdog never shuts down a descriptor already reused.
 * Answers have deadlines too: a query answer must be taken at --min-body-rate (after --header-timeout),
 * and no answer (event streams included) may stall for --header-timeout, so a client that does not read
 * cannot pin a result's memory or a thread. When connections run short (a new one leaves at most one free
 * slot for its address or in all), the oldest connection still waiting for its request head is closed
 * to make room: reconnecting slowloris clients then cannot keep others out. */
#include "http_int.h"
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

typedef struct conn_track {
    struct conn_track *next, **pprev;
    int fd;
    int phase;
    double since;           /* when the phase began */
    double last;            /* last progress in HTTP_CONN_SEND / HTTP_CONN_EVENTS */
    uint64_t body_bytes;    /* received in HTTP_CONN_BODY, handed to MHD in HTTP_CONN_SEND */
    bool closing;
    char addr[INET6_ADDRSTRLEN];
} conn_track;

/* When connections are scarce, the watchdog closes those that have waited this long (seconds) for their
 * request head: a client that sends its request at once is never the one closed. A new connection closes
 * the oldest one waiting for its head at once if it is at least ACCEPT_EVICT_AGE old, so that a slot stays
 * free: younger ones may be real clients whose head MHD has not parsed yet (a burst of reconnecting
 * attackers would otherwise close them; measured with the test's attacker: with no minimum age about one
 * request in 60 lost that race, with 100 ms nearly all did, since the attackers' own connections were
 * then all too young to close and newcomers were refused instead; 5 ms: none in 140). */
#define EVICT_AGE 0.5
#define ACCEPT_EVICT_AGE 0.005

static void close_slow(http_server *s, conn_track *k, const char *why)
{
    k->closing = true;
    shutdown(k->fd, SHUT_RDWR);
    fprintf(stderr, "factdb serve: closed a connection from %s: %s\n", k->addr[0] ? k->addr : "?", why);
    pthread_mutex_lock(&s->mu);
    s->slow_closed++;
    pthread_mutex_unlock(&s->mu);
}

/* Connections listed (plus `extra`) in all, and from the address of `of`; under cmu. */
static void count(http_server *s, const conn_track *of, unsigned extra, unsigned *all, unsigned *mine)
{
    *all = *mine = extra;
    for (conn_track *k = s->conns; k; k = k->next) {
        (*all)++;
        *mine += !strcmp(k->addr, of->addr);
    }
}

/* Whether the connections in all (`all`) or from one address (`mine`) leave at most one slot free. */
static bool scarce(http_server *s, unsigned all, unsigned mine, bool *in_all)
{
    *in_all = all + 1 >= s->o.max_connections;
    return *in_all || mine + 1 >= s->o.max_per_address;
}

/* Called under cmu when `nt` (not yet listed) was accepted. The per-address limit is enforced here, not
 * by MHD (which would refuse the newcomer at accept, however the slots are used): over the limit, the
 * oldest connection of that address still waiting for a request head is closed in its place, and only
 * when there is none, the newcomer. And when it leaves at most one free slot for its address or in all,
 * the oldest connection of that scope still waiting for a head is closed, so that the next client (maybe
 * another local one: all of loopback is one address) finds a slot. (The watchdog does the same for every
 * such connection, for when no new one can arrive any more.) */
static void make_room(http_server *s, conn_track *nt)
{
    unsigned all, mine, open_mine = 1;
    bool short_all;
    count(s, nt, 1, &all, &mine);
    for (conn_track *k = s->conns; k; k = k->next)
        open_mine += !k->closing && !strcmp(k->addr, nt->addr);
    if (!scarce(s, all, mine, &short_all))
        return;
    for (int round = 0; round < 2; round++) {
        conn_track *oldest = NULL;
        for (conn_track *k = s->conns; k; k = k->next)
            if (!k->closing && k->fd >= 0 && k->phase == HTTP_CONN_HEAD && nt->since - k->since >= ACCEPT_EVICT_AGE &&
                (short_all || !strcmp(k->addr, nt->addr)) && (!oldest || k->since < oldest->since))
                oldest = k;
        if (oldest) {
            close_slow(s, oldest, "connections are scarce and it had not sent a complete request head");
            open_mine -= !strcmp(oldest->addr, nt->addr);
        }
        if (open_mine <= s->o.max_per_address)
            return;  /* (a second round only when the newcomer is over the limit) */
    }
    nt->closing = true;
    shutdown(nt->fd, SHUT_RDWR);
    fprintf(stderr, "factdb serve: refused a connection from %s: over --max-connections-per-address\n",
            nt->addr[0] ? nt->addr : "?");
}

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
    make_room(s, t);
    t->next = s->conns;
    t->pprev = &s->conns;
    if (s->conns)
        s->conns->pprev = &t->next;
    s->conns = t;
    pthread_mutex_unlock(&s->cmu);
    *socket_context = t;
}

void *http_conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void http_conn_progress(http_server *s, void *tp, int phase, size_t bytes)
{
    conn_track *t = tp;
    if (!t)
        return;
    double now = http_now();
    pthread_mutex_lock(&s->cmu);
    if (phase == t->phase && phase != HTTP_CONN_HEAD && phase != HTTP_CONN_BUSY) {
        t->body_bytes += bytes;
    } else {
        t->phase = phase;
        t->since = now;
        t->body_bytes = bytes;
    }
    t->last = now;
    pthread_mutex_unlock(&s->cmu);
}

bool http_conn_peer_gone(void *tp)
{
    conn_track *t = tp;
    if (!t || t->fd < 0)
        return false;
    struct pollfd p = {.fd = t->fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

void http_conn_phase(http_server *s, struct MHD_Connection *c, int phase, size_t bytes)
{
    http_conn_progress(s, http_conn_of(c), phase, bytes);
}

void http_conns_close_slow(http_server *s)
{
    double t = http_now(), ht = s->o.header_timeout_s, rate = (double)s->o.min_body_rate;
    pthread_mutex_lock(&s->cmu);
    for (conn_track *k = s->conns; k; k = k->next) {
        if (k->closing || k->fd < 0 || k->phase == HTTP_CONN_BUSY)
            continue;
        const char *why = NULL;
        unsigned all, mine;
        bool in_all;
        if (k->phase == HTTP_CONN_HEAD && t >= k->since + ht)
            why = "no complete request head within --header-timeout";
        else if (k->phase == HTTP_CONN_HEAD && t >= k->since + EVICT_AGE &&
                 (count(s, k, 0, &all, &mine), scarce(s, all, mine, &in_all)))
            why = "connections are scarce and it had not sent a complete request head";
        else if (k->phase == HTTP_CONN_BODY && rate > 0 && t >= k->since + ht + (double)k->body_bytes / rate)
            why = "its request body arrived slower than --min-body-rate";
        else if ((k->phase == HTTP_CONN_SEND || k->phase == HTTP_CONN_EVENTS) && t >= k->last + ht)
            why = "it took nothing of its answer for --header-timeout";
        else if (k->phase == HTTP_CONN_SEND && rate > 0 && t >= k->since + ht + (double)k->body_bytes / rate)
            why = "it took its answer slower than --min-body-rate";
        if (why)
            close_slow(s, k, why);
    }
    pthread_mutex_unlock(&s->cmu);
}
