/*
 * web - `sluice web`: the open-relay test as a web service.
 *
 * HTTP (evhttp) on one event loop with the probe engine, which it uses as
 * a library. A visitor submits a host, address or mail domain (a domain
 * is tested at each of its MX hosts); the test runs in the background and
 * its page fills in as it goes; the report is kept (SQLite) under a
 * permalink. Delivery mode is for logged-in users only and relays a
 * tokened message to the service's own catcher.
 *
 * The guard rails (guard.h): private and reserved targets refused unless
 * web.allow_private; a name is resolved once and the checked address is
 * the one connected to; rate limits per visitor, per account and per
 * target (a recent report is reused); a global concurrency bound with a
 * visible queue; CSRF tokens on every form; every byte from a tested
 * server escaped (html.h) under a strict Content-Security-Policy.
 */
#ifndef SLUICE_WEB_H
#define SLUICE_WEB_H

struct conf;

int	web_main(struct conf *cf);

#endif
