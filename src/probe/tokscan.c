#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "probe/tokscan.h"

#define RELAY_TAG	"sluice-relay-"
#define PROBE_TAG	"sluice-probe-"
#define TOKEN_TAG	"X-Sluice-Probe: token="

/* is_tokchar - tokens are lower-case hex */
static int
is_tokchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* each_token - call fn for every TAG+TOKEN in s[0..n) */
static int
each_token(const char *s, size_t n, const char *tag, enum ptoken kind,
    token_cb cb, void *arg)
{
	size_t tl = strlen(tag), i;
	const char *p = s, *end = s + n;
	int found = 0;

	while ((p = memmem(p, (size_t)(end - p), tag, tl)) != NULL) {
		char tok[TOKEN_LEN + 1];

		p += tl;
		if ((size_t)(end - p) < TOKEN_LEN)
			break;
		for (i = 0; i < TOKEN_LEN && is_tokchar(p[i]); i++)
			tok[i] = p[i];
		if (i == TOKEN_LEN && (p + i == end || !is_tokchar(p[i]))) {
			tok[i] = '\0';
			cb(arg, tok, kind);
			found = 1;
		}
	}
	return found;
}

/*
 * tokscan_message - report the tokens of one received message, given its
 * envelope: recipients decide first; a message whose recipients carry no
 * token counts by its content, as a bounce if its sender is null.
 */
void
tokscan_message(const char *msg, size_t len, int null_sender,
    const char *const *rcpts, size_t nrcpt, token_cb cb, void *arg)
{
	size_t i;
	int found = 0;

	for (i = 0; i < nrcpt; i++) {
		/* mail for the relay recipient was relayed, whatever its
		 * sender (one test uses the null sender itself) */
		found |= each_token(rcpts[i], strlen(rcpts[i]), RELAY_TAG,
		    TOKEN_RELAYED, cb, arg);
		found |= each_token(rcpts[i], strlen(rcpts[i]), PROBE_TAG,
		    TOKEN_BOUNCED, cb, arg);
	}
	if (found)
		return;
	/* the envelope does not say: the X-Sluice-Probe header does */
	each_token(msg, len, TOKEN_TAG, null_sender ? TOKEN_BOUNCED :
	    TOKEN_RELAYED, cb, arg);
	if (null_sender)
		each_token(msg, len, PROBE_TAG, TOKEN_BOUNCED, cb, arg);
}

/* header - the value of header name in the header block, or NULL */
static const char *
header(const char *h, size_t n, const char *name, size_t *vlen)
{
	size_t nl = strlen(name), i = 0;

	while (i < n) {
		const char *line = h + i, *e = memchr(line, '\n', n - i);
		size_t ll = e ? (size_t)(e - line) : n - i;

		if (ll == 0 || (ll == 1 && line[0] == '\r'))
			return NULL;	/* end of headers */
		if (ll > nl && strncasecmp(line, name, nl) == 0 &&
		    line[nl] == ':') {
			*vlen = ll - nl - 1;
			return line + nl + 1;
		}
		i += ll + 1;
	}
	return NULL;
}

/* scan_file - one Maildir message: its headers say who it was for */
static void
scan_file(int dirfd, const char *name, token_cb cb, void *arg)
{
	static const char *to_headers[] = { "Delivered-To", "X-Original-To",
	    "To", "Envelope-To" };
	char buf[65536];
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	size_t vl, i;
	const char *rp, *v;
	int null_sender = 0;

	if (fd == -1)
		return;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0)
		return;
	rp = header(buf, (size_t)n, "Return-Path", &vl);
	if (rp != NULL && memmem(rp, vl, "<>", 2) != NULL)
		null_sender = 1;
	for (i = 0; i < sizeof(to_headers) / sizeof(to_headers[0]); i++) {
		const char *one[1];
		char tmp[1024];

		if ((v = header(buf, (size_t)n, to_headers[i], &vl)) == NULL)
			continue;
		snprintf(tmp, sizeof(tmp), "%.*s", (int)vl, v);
		one[0] = tmp;
		tokscan_message(buf, (size_t)n, null_sender, one, 1, cb, arg);
		return;
	}
	tokscan_message(buf, (size_t)n, null_sender, NULL, 0, cb, arg);
}

/* tokscan_maildir - scan dir/new and dir/cur */
void
tokscan_maildir(const char *dir, token_cb cb, void *arg)
{
	static const char *subs[] = { "new", "cur" };
	char path[4096];
	size_t i;

	for (i = 0; i < 2; i++) {
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if ((d = opendir(path)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				scan_file(dirfd(d), de->d_name, cb, arg);
		closedir(d);
	}
}
