/*
 * metrics - the Prometheus endpoint: GET /metrics over HTTP (evhttp, on
 * the server's event loop). Anything else is 404; bodies are refused.
 * It listens on a loopback address only: the configuration is refused
 * otherwise (metrics_parse_listen, also used when it is loaded).
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stddef.h>

struct server;
struct metrics;

struct metrics *metrics_new(struct server *srv, const char *listen,
	    char *err, size_t errsize);
void	metrics_free(struct metrics *m);
int	metrics_parse_listen(const char *listen, char *host, size_t hostsize,
	    unsigned *port, char *err, size_t errsize);

#endif
