#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "net/control.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

#define CONTROL_TIMEOUT	10
#define CONTROL_REPLY_MAX (256 * 1024 * 1024)

struct control {
	struct evconnlistener	*l;
	control_fn		 fn;
	void			*arg;
	char			*path;
};

/* close_cb - the reply went out */
static void
write_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	bufferevent_free(bev);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

/* answer - run the request and send the reply */
static void
answer(struct control *c, struct bufferevent *bev, char *line)
{
	char *keys[32], *vals[32], *save = NULL, *tok, *verb;
	size_t n = 0;
	struct buf out;
	int r;

	buf_init(&out, CONTROL_REPLY_MAX);
	verb = strtok_r(line, "\t", &save);
	while (verb && (tok = strtok_r(NULL, "\t", &save)) != NULL && n < 32) {
		char *eq = strchr(tok, '=');

		if (eq == NULL)
			continue;
		*eq = '\0';
		keys[n] = tok;
		vals[n++] = eq + 1;
	}
	(void)buf_puts(&out, "{");
	if (verb == NULL) {
		r = -1;
		(void)buf_puts(&out, "\"ok\":false,\"error\":\"empty request\"");
	} else {
		struct buf body;

		buf_init(&body, CONTROL_REPLY_MAX - 64);
		r = c->fn(c->arg, verb, keys, vals, n, &body);
		if (r == 0) {
			(void)buf_puts(&out, "\"ok\":true");
			if (body.len) {
				(void)buf_putc(&out, ',');
				(void)buf_append(&out, body.data, body.len);
			}
		} else {
			(void)buf_puts(&out, "\"ok\":false");
			json_kv_str(&out, 1, "error", buf_cstr(&body));
		}
		buf_release(&body);
	}
	(void)buf_puts(&out, "}\n");
	bufferevent_setcb(bev, NULL, write_cb, event_cb, c);
	bufferevent_write(bev, out.data, out.len);
	buf_release(&out);
}

/* read_cb - a request line */
static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;
	char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);

	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_REQ_MAX)
			bufferevent_free(bev);
		return;
	}
	bufferevent_disable(bev, EV_READ);
	answer(arg, bev, line);
	free(line);
}

/* peer_ok - root, our user, or our group */
static int
peer_ok(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return 0;
	return cr.uid == 0 || cr.uid == geteuid() || cr.gid == getegid();
}

/* accept_cb - one request per connection */
static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct control *c = arg;
	struct bufferevent *bev;
	struct timeval tv = { CONTROL_TIMEOUT, 0 };

	(void)sa;
	(void)salen;
	if (!peer_ok(fd)) {
		log_warn("event=control-refused reason=\"peer is not root, our "
		    "user or our group\"");
		close(fd);
		return;
	}
	bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, read_cb, NULL, event_cb, c);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_setwatermark(bev, EV_READ, 0, CONTROL_REQ_MAX + 1);
	bufferevent_enable(bev, EV_READ);
}

/* control_new - listen on path (replacing a stale socket) */
struct control *
control_new(struct event_base *base, const char *path, control_fn fn,
    void *arg, char *err, size_t errsize)
{
	struct control *c = xcalloc(1, sizeof(*c));
	struct sockaddr_un sun;
	mode_t old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, sizeof(sun.sun_path), path) == -1) {
		snprintf(err, errsize, "control socket path too long: %s",
		    path);
		free(c);
		return NULL;
	}
	unlink(path);
	old = umask(0117);
	c->l = evconnlistener_new_bind(base, accept_cb, c,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	    (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (c->l == NULL) {
		snprintf(err, errsize, "control socket %s: %s", path,
		    strerror(errno));
		free(c);
		return NULL;
	}
	c->fn = fn;
	c->arg = arg;
	c->path = xstrdup(path);
	return c;
}

/* control_free - stop listening and remove the socket */
void
control_free(struct control *c)
{
	if (c == NULL)
		return;
	evconnlistener_free(c->l);
	unlink(c->path);
	free(c->path);
	free(c);
}

/* control_call - client side; the reply, or NULL (errno) */
char *
control_call(const char *path, const char *request, int timeout_s)
{
	struct sockaddr_un sun;
	struct buf b;
	int fd;
	size_t n = strlen(request), off = 0;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, sizeof(sun.sun_path), path) == -1) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		int e = errno;

		if (fd != -1)
			close(fd);
		errno = e;
		return NULL;
	}
	while (off < n) {
		ssize_t w = write(fd, request + off, n - off);

		if (w <= 0) {
			close(fd);
			return NULL;
		}
		off += (size_t)w;
	}
	buf_init(&b, CONTROL_REPLY_MAX);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		char chunk[65536];
		ssize_t r;

		if (poll(&p, 1, timeout_s * 1000) <= 0) {
			errno = ETIMEDOUT;
			break;
		}
		r = read(fd, chunk, sizeof(chunk));
		if (r <= 0)
			break;
		if (buf_append(&b, chunk, (size_t)r) == -1)
			break;
	}
	close(fd);
	if (b.len == 0) {
		buf_release(&b);
		if (errno == 0)
			errno = EPROTO;
		return NULL;
	}
	return b.data;
}
