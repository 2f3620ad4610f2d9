/*
 * fuzz_conf - the configuration loader, src/conf/conf.c (on libconfig),
 * and through it policy_new's parsing of domains, networks and lists.
 *
 * The input is written to a file under /tmp and loaded with conf_load,
 * errors going to /dev/null. A refused file must give NULL and leak
 * nothing. An accepted one must:
 *   - build a policy (conf_load's own check did the same);
 *   - print (conf_print, "a valid file", what `sluiced -p` shows) to a
 *     file that loads again and prints identically: the round trip.
 * (crashes/conf-int64-print.bin: numbers over INT32_MAX printed without
 * libconfig's "L" suffix read back wrapped; fixed in the tree since.)
 * Inputs with "@include" are skipped: an include names any file on the
 * machine (or a FIFO that blocks), which is the administrator's business,
 * not the parser's.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/conf.h"
#include "fuzz.h"
#include "policy/policy.h"

static char path[64];
static FILE *devnull;

/* cleanup - remove the temporary file at exit */
static void
cleanup(void)
{
	unlink(path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "/tmp/sluice-fuzz-conf.%ld.conf",
	    (long)getpid());
	devnull = fopen("/dev/null", "w");
	if (devnull == NULL)
		abort();
	atexit(cleanup);
	return 0;
}

/* has_include - does p[0..n) mention @include, in any case? */
static int
has_include(const uint8_t *p, size_t n)
{
	static const char kw[] = "@include";
	size_t i, k = sizeof(kw) - 1;

	for (i = 0; i + k <= n; i++)
		if (p[i] == '@' && strncasecmp((const char *)p + i, kw, k) == 0)
			return 1;
	return 0;
}

/* write_file - replace the file's contents */
static void
write_file(const void *p, size_t n)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		abort();
}

/* print - the configuration as text; caller frees */
static char *
print(const struct conf *c, size_t *len)
{
	char *s = NULL;
	FILE *f = open_memstream(&s, len);

	if (f == NULL)
		abort();
	conf_print(c, f);
	if (fclose(f) != 0)
		abort();
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_conf pc;
	struct policy *p;
	struct conf *c, *c2;
	char err[512], *t1, *t2;
	size_t n1, n2;

	if (has_include(data, size))
		return 0;
	write_file(data, size);
	c = conf_load(path, devnull);
	if (c == NULL)
		return 0;

	conf_policy(c, &pc);
	p = policy_new(&pc, err, sizeof(err));
	if (p == NULL) {
		fprintf(stderr, "accepted config builds no policy: %s\n", err);
		abort();
	}
	policy_free(p);

	t1 = print(c, &n1);
	write_file(t1, n1);
	c2 = conf_load(path, stderr);
	if (c2 == NULL) {
		fprintf(stderr, "conf_print output does not load:\n%s\n", t1);
		abort();
	}
	t2 = print(c2, &n2);
	if (n1 != n2 || memcmp(t1, t2, n1) != 0) {
		fprintf(stderr, "round trip differs:\n--- first\n%s\n"
		    "--- second\n%s\n", t1, t2);
		abort();
	}
	free(t1);
	free(t2);
	conf_free(c2);
	conf_free(c);
	return 0;
}
