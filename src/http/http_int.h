/* http_int.h: what only the files of src/http share and that needs libmicrohttpd's types (http.h is also
 * read by src/cli, which must not see microhttpd.h). */
#ifndef FACTDB_HTTP_INT_H
#define FACTDB_HTTP_INT_H

#include "http.h"
#include <microhttpd.h>

/* Deadlines for slow clients (conns.c). Each connection is tracked from accept to close with the phase it
 * is in: waiting for a request head, receiving a body, or being answered (no deadline). */
enum { HTTP_CONN_HEAD, HTTP_CONN_BODY, HTTP_CONN_BUSY, HTTP_CONN_SEND, HTTP_CONN_EVENTS };
/* The MHD_OPTION_NOTIFY_CONNECTION callback; `cls` is the http_server. */
void http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);
/* Moves the connection of `c` to `phase` (HTTP_CONN_BODY or HTTP_CONN_SEND again: adds `bytes` received or
 * handed to MHD, and notes progress, without restarting the clock). Called by the connection's own thread.
 * HTTP_CONN_SEND: a query answer being sent, which must go at --min-body-rate and never stall for
 * --header-timeout; HTTP_CONN_EVENTS: an event stream, which must never stall (its writes block) for that
 * long. */
void http_conn_phase(http_server *s, struct MHD_Connection *c, int phase, size_t bytes);
/* The same, for a connection whose tracking record `t` (the socket context) is already known. */
void http_conn_progress(http_server *s, void *t, int phase, size_t bytes);
/* The tracking record of `c`, for http_conn_progress (NULL: untracked). */
void *http_conn_of(struct MHD_Connection *c);
/* Whether the client of tracking record `t` has closed its side (an event stream learns it without
 * writing, so that its slot under --max-event-streams is given back at once). */
bool http_conn_peer_gone(void *t);
/* Shuts down the connections past their deadline; the watchdog calls it about ten times a second. */
void http_conns_close_slow(http_server *s);

#endif
