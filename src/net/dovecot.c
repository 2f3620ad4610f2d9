#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "net/dovecot.h"
#include "util/base64.h"
#include "util/str.h"
#include "util/xalloc.h"

#define DOVECOT_TIMEOUT	10
#define DOVECOT_LINE_MAX 8192

struct dq {
	struct bufferevent	*bev;
	dovecot_cb		 cb;
	void			*arg;
	char			*request;	/* the AUTH line (owned) */
	int			 handshaken;
	int			 done;
};

/* end - report once, then free */
static void
end(struct dq *q, int result, const char *why)
{
	if (!q->done) {
		q->done = 1;
		q->cb(q->arg, result, why);
	}
	if (q->bev)
		bufferevent_free(q->bev);
	if (q->request) {
		explicit_bzero(q->request, strlen(q->request));
		free(q->request);
	}
	free(q);
}

/* has_field - does the tab-separated line hold exactly this field? */
static int
has_field(const char *line, const char *field)
{
	size_t n = strlen(field);
	const char *p = line;

	while ((p = strchr(p, '\t')) != NULL) {
		p++;
		if (strncmp(p, field, n) == 0 && (p[n] == '\0' ||
		    p[n] == '\t'))
			return 1;
	}
	return 0;
}

/* read_cb - the server's lines */
static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct dq *q = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		if (!q->handshaken) {
			if (strncmp(line, "VERSION\t", 8) == 0 &&
			    strncmp(line, "VERSION\t1\t", 10) != 0) {
				free(line);
				end(q, DOVECOT_TEMP, "unsupported protocol");
				return;
			}
			if (strcmp(line, "DONE") == 0) {
				q->handshaken = 1;
				bufferevent_write(bev, q->request,
				    strlen(q->request));
			}
			free(line);
			continue;
		}
		if (strncmp(line, "OK\t1", 4) == 0 && (line[4] == '\0' ||
		    line[4] == '\t')) {
			free(line);
			end(q, DOVECOT_OK, NULL);
			return;
		}
		if (strncmp(line, "FAIL\t1", 6) == 0 && (line[6] == '\0' ||
		    line[6] == '\t')) {
			/* "temp" (Dovecot 2.2), "code=temp_fail" (2.3) */
			int temp = has_field(line, "temp") ||
			    has_field(line, "code=temp_fail");

			free(line);
			end(q, temp ? DOVECOT_TEMP : DOVECOT_FAIL,
			    temp ? "temporary failure" : "rejected");
			return;
		}
		free(line);
		end(q, DOVECOT_TEMP, "unexpected reply");
		return;
	}
	if (evbuffer_get_length(in) > DOVECOT_LINE_MAX)
		end(q, DOVECOT_TEMP, "reply line too long");
}

/* event_cb - connected, closed, error or timeout */
static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct dq *q = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	end(q, DOVECOT_TEMP, (what & BEV_EVENT_TIMEOUT) ? "timeout" :
	    "connection lost");
}

/* fail_cb - report a failure from the loop */
static void
fail_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	end(arg, DOVECOT_TEMP, "cannot connect to the auth socket");
}

/* dovecot_auth - check user/pass with Dovecot; cb later, once */
void
dovecot_auth(struct event_base *base, const char *path, const char *user,
    const char *pass, const char *client_ip, int secured, dovecot_cb cb,
    void *arg)
{
	struct dq *q = xcalloc(1, sizeof(*q));
	struct sockaddr_un sun;
	struct timeval tv = { DOVECOT_TIMEOUT, 0 }, z = { 0, 0 };
	unsigned char raw[600];
	char b64[BASE64_ENCODED_LEN(600)];
	size_t u = strlen(user), w = strlen(pass), len;
	int fd;

	q->cb = cb;
	q->arg = arg;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (u + w + 2 > sizeof(raw) ||
	    str_copy(sun.sun_path, sizeof(sun.sun_path), path) == -1 ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		event_base_once(base, -1, EV_TIMEOUT, fail_cb, q, &z);
		return;
	}
	raw[0] = '\0';
	memcpy(raw + 1, user, u);
	raw[1 + u] = '\0';
	memcpy(raw + 2 + u, pass, w);
	base64_encode(raw, u + w + 2, b64, sizeof(b64));
	explicit_bzero(raw, sizeof(raw));
	len = strlen(b64) + strlen(client_ip) + 128;
	q->request = xmalloc(len);
	snprintf(q->request, len, "AUTH\t1\tPLAIN\tservice=smtp\tnologin\t"
	    "rip=%s%s\tresp=%s\n", client_ip, secured ? "\tsecured" : "", b64);
	explicit_bzero(b64, sizeof(b64));
	q->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(q->bev, read_cb, NULL, event_cb, q);
	bufferevent_set_timeouts(q->bev, &tv, &tv);
	bufferevent_enable(q->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(q->bev, (struct sockaddr *)&sun,
	    sizeof(sun)) < 0) {
		bufferevent_free(q->bev);
		q->bev = NULL;
		event_base_once(base, -1, EV_TIMEOUT, fail_cb, q, &z);
		return;
	}
	{
		char hello[64];

		snprintf(hello, sizeof(hello), "VERSION\t1\t1\nCPID\t%ld\n",
		    (long)getpid());
		bufferevent_write(q->bev, hello, strlen(hello));
	}
}
