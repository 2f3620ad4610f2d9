#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* oom - report out-of-memory and abort */
static void __attribute__((noreturn))
oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

/* xmalloc - malloc or abort; xmalloc(0) returns a unique pointer */
void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

/* xcalloc - zeroed allocation or abort, overflow-checked */
void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		oom(nmemb * size);
	return p;
}

/* xrealloc - realloc or abort */
void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom(n);
	return q;
}

/* xreallocarray - realloc of nmemb*size with overflow check */
void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		oom(SIZE_MAX);
	return xrealloc(p, nmemb * size);
}

/* xstrdup - strdup or abort */
char *
xstrdup(const char *s)
{
	return xmemdup0(s, strlen(s));
}

/* xstrndup - copy at most n bytes of s, NUL-terminated */
char *
xstrndup(const char *s, size_t n)
{
	return xmemdup0(s, strnlen(s, n));
}

/* xmemdup0 - copy n bytes and add a NUL; the result is owned by the caller */
char *
xmemdup0(const void *p, size_t n)
{
	char *s;

	if (n == SIZE_MAX)
		oom(n);
	s = xmalloc(n + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}
