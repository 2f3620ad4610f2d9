/*
 * xalloc - allocation that never returns NULL.
 *
 * Owns nothing. On out-of-memory every function logs and aborts: a mail
 * server that half-works without memory loses mail, one that stops does not.
 */
#ifndef SLUICE_XALLOC_H
#define SLUICE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xmemdup0(const void *p, size_t n);

#endif
