#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/str.h"

/* str_copy - copy src into dst; 0, or -1 if it had to be truncated */
int
str_copy(char *dst, size_t dstsize, const char *src)
{
	return str_ncopy(dst, dstsize, src, strlen(src));
}

/* str_ncopy - copy n bytes of src and a NUL; -1 (truncated copy) if too long */
int
str_ncopy(char *dst, size_t dstsize, const char *src, size_t n)
{
	if (dstsize == 0)
		return -1;
	if (n >= dstsize) {
		memcpy(dst, src, dstsize - 1);
		dst[dstsize - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

/* str_lower - ASCII lower-case in place (locale-independent) */
void
str_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* str_parse_u64 - whole-string decimal in [min, max]; 0 or -1 */
int
str_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* suffix_number - "<digits><unit>" with one optional unit letter */
static int
suffix_number(const char *s, const char *units, const uint64_t *mult,
    uint64_t *out)
{
	char num[32];
	size_t n = strlen(s);
	uint64_t v, m = 1;
	const char *u;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	if (!isdigit((unsigned char)num[n - 1])) {
		u = strchr(units, tolower((unsigned char)num[n - 1]));
		if (u == NULL)
			return -1;
		m = mult[u - units];
		num[--n] = '\0';
	}
	if (str_parse_u64(num, 0, UINT64_MAX, &v) == -1)
		return -1;
	if (v != 0 && m > UINT64_MAX / v)
		return -1;
	*out = v * m;
	return 0;
}

/* str_parse_size - "1048576", "512k", "25m", "2g" -> bytes */
int
str_parse_size(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = { 1024, 1024 * 1024,
	    1024 * 1024 * 1024ULL };

	return suffix_number(s, "kmg", mult, out);
}

/* str_parse_duration - "30", "30s", "5m", "4h", "5d", "1w" -> seconds */
int
str_parse_duration(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = { 1, 60, 3600, 86400, 604800 };

	return suffix_number(s, "smhdw", mult, out);
}

/* str_ieq - ASCII case-insensitive equality */
int
str_ieq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* str_ieqn - does the alen-byte a equal the C string b, ignoring case? */
int
str_ieqn(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

/* str_has_suffix_ci - does s end with suffix, ignoring case? */
int
str_has_suffix_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return m <= n && strcasecmp(s + n - m, suffix) == 0;
}

/* str_rfc5322_date - "Tue, 24 Nov 2026 16:15:25 +0000" (always UTC) */
void
str_rfc5322_date(char *dst, size_t dstsize, time_t t)
{
	static const char *days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(dst, dstsize, "%s, %d %s %d %02d:%02d:%02d +0000",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* str_fmt_duration - seconds as the largest exact unit: "300" -> "5m" */
void
str_fmt_duration(char *dst, size_t dstsize, uint64_t secs)
{
	static const struct { uint64_t n; char u; } units[] = {
		{ 604800, 'w' }, { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' },
	};
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (secs != 0 && secs % units[i].n == 0) {
			snprintf(dst, dstsize, "%llu%c",
			    (unsigned long long)(secs / units[i].n), units[i].u);
			return;
		}
	snprintf(dst, dstsize, "%llus", (unsigned long long)secs);
}
