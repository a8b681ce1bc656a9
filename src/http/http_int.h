/* http_int.h: what only the files of src/http share and that needs libmicrohttpd's types (http.h is also
 * read by src/cli, which must not see microhttpd.h). */
#ifndef FACTDB_HTTP_INT_H
#define FACTDB_HTTP_INT_H

#include "http.h"
#include <microhttpd.h>

/* Deadlines for slow clients (conns.c). Each connection is tracked from accept to close with the phase it
 * is in: waiting for a request head, receiving a body, or being answered (no deadline). */
enum { HTTP_CONN_HEAD, HTTP_CONN_BODY, HTTP_CONN_BUSY };
/* The MHD_OPTION_NOTIFY_CONNECTION callback; `cls` is the http_server. */
void http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);
/* Moves the connection of `c` to `phase` (HTTP_CONN_BODY again: adds `bytes` received, without restarting
 * the clock). Called by the connection's own thread. */
void http_conn_phase(http_server *s, struct MHD_Connection *c, int phase, size_t bytes);
/* Shuts down the connections past their deadline; the watchdog calls it about ten times a second. */
void http_conns_close_slow(http_server *s);

#endif
