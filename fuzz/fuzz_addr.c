/*
 * fuzz_addr - the RFC 5321 path parser, src/smtp/addr.c.
 *
 * The whole input is one candidate path, parsed under each of the four
 * option combinations. On ADDR_OK these must hold:
 *   - consumed <= len, and the path ends with the ">" at consumed - 1;
 *   - every byte of the path is printable ASCII (the grammar has no place
 *     for a control byte, not even in a quoted-string or a literal);
 *   - local part <= 64 octets, domain <= 255, both NUL-terminated;
 *   - the canonical text (addr_format) fits SMTP_PATH_MAX + 1 bytes, as
 *     every caller assumes, and re-parses to an equal struct addr. The
 *     canonical form drops a source route and quotes only when needed,
 *     so ADDR_ROUTE is gone and ADDR_QUOTED says "needs quotes";
 *   - formatting the re-parsed address gives the same text (idempotent).
 * addr_parse_domain and addr_parse_literal run on the raw input too.
 */
#include <string.h>

#include "fuzz.h"
#include "smtp/addr.h"

/* check_addr - invariants of a successfully parsed struct addr */
static void
check_addr(const struct addr *a)
{
	FZ_CHECK(memchr(a->local, '\0', sizeof(a->local)) != NULL);
	FZ_CHECK(memchr(a->domain, '\0', sizeof(a->domain)) != NULL);
	FZ_CHECK(strlen(a->local) <= SMTP_LOCAL_MAX);
	FZ_CHECK(strlen(a->domain) <= SMTP_DOMAIN_MAX);
	if (a->flags & (ADDR_NULL | ADDR_POSTMASTER))
		FZ_CHECK(a->dtype == ADDR_DNONE && a->domain[0] == '\0');
	else	/* the local part may be empty: <""@example.org> is valid */
		FZ_CHECK(a->dtype != ADDR_DNONE && a->domain[0] != '\0');
}

/* round_trip - the canonical form re-parses to the same address */
static void
round_trip(const struct addr *a, unsigned opts)
{
	char canon[SMTP_PATH_MAX + 1], again[SMTP_PATH_MAX + 1];
	struct addr b;
	size_t used = 0, clen;
	unsigned want;
	enum addr_err r;

	FZ_CHECK(addr_format(a, canon, sizeof(canon)) == 0);
	clen = strlen(canon);
	r = addr_parse_path(canon, clen, opts, &b, &used);
	if (r != ADDR_OK) {
		fprintf(stderr, "canonical <%s> does not re-parse: %s\n",
		    canon, addr_strerror(r));
		abort();
	}
	FZ_CHECK(used == clen);
	check_addr(&b);
	want = a->flags & ~(unsigned)(ADDR_ROUTE | ADDR_QUOTED);
	if (!(a->flags & (ADDR_NULL | ADDR_POSTMASTER)) &&
	    addr_local_needs_quotes(a->local))
		want |= ADDR_QUOTED;
	FZ_CHECK(b.flags == want);
	FZ_CHECK(b.dtype == a->dtype);
	FZ_CHECK(strcmp(b.local, a->local) == 0);
	FZ_CHECK(strcmp(b.domain, a->domain) == 0);
	FZ_CHECK(memcmp(b.ip, a->ip, sizeof(a->ip)) == 0);
	FZ_CHECK(addr_format(&b, again, sizeof(again)) == 0);
	FZ_CHECK(strcmp(again, canon) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct addr a;
	unsigned opts;
	size_t used, i;
	enum addr_err r;

	for (opts = 0; opts < 4; opts++) {
		used = (size_t)-1;
		r = addr_parse_path(s, size, opts, &a, &used);
		FZ_CHECK(addr_strerror(r) != NULL);
		if (r != ADDR_OK)
			continue;
		FZ_CHECK(used >= 2 && used <= size);
		FZ_CHECK(used <= SMTP_PATH_MAX);
		FZ_CHECK(s[0] == '<' && s[used - 1] == '>');
		for (i = 0; i < used; i++)
			FZ_CHECK(data[i] >= 32 && data[i] <= 126);
		check_addr(&a);
		if (a.flags & ADDR_NULL)
			FZ_CHECK(opts & ADDR_ALLOW_NULL);
		if (a.flags & ADDR_POSTMASTER)
			FZ_CHECK(opts & ADDR_ALLOW_POSTMASTER);
		round_trip(&a, opts);
	}

	if (addr_parse_domain(s, size)) {
		FZ_CHECK(size > 0 && size <= SMTP_DOMAIN_MAX);
		for (i = 0; i < size; i++)
			FZ_CHECK(addr_is_atext(data[i]) || data[i] == '.');
	}
	memset(&a, 0, sizeof(a));
	if (addr_parse_literal(s, size, &a)) {
		FZ_CHECK(a.dtype == ADDR_DIPV4 || a.dtype == ADDR_DIPV6 ||
		    a.dtype == ADDR_DGENERAL);
		if (fz_strict() || a.dtype != ADDR_DIPV6)
			FZ_CHECK(strlen(a.domain) == size);
	}
	return 0;
}
