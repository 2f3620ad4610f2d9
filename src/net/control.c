#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
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
#include "util/jsonp.h"
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
	gid_t			 gid;	/* the socket's group */
};

/* The start of the reply that refuses a peer (control_call looks for it). */
#define DENIED	"{\"ok\":false,\"denied\":true,"

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

/*
 * in_groups - is gid one of the peer's supplementary groups? SO_PEERGROUPS
 * gives the groups the peer process has (what the kernel checked when it
 * opened the socket); without it, the group database's for its user.
 */
static int
in_groups(int fd, uid_t uid, gid_t gid)
{
	gid_t small[64], *g = small;
	struct passwd *pw;
	int i, n, found = 0;

#ifdef SO_PEERGROUPS
	{
		socklen_t len = sizeof(small);
		int r;

		r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len);
		if (r == -1 && errno == ERANGE) {
			/* len is now the size needed */
			g = xmalloc(len);
			r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len);
		}
		if (r == 0)
			for (i = 0; i < (int)(len / sizeof(gid_t)); i++)
				if (g[i] == gid)
					found = 1;
		if (g != small)
			free(g);
		g = small;
		if (r == 0)
			return found;
	}
#endif
	/* an old kernel: the user's groups as the group database has them */
	if ((pw = getpwuid(uid)) == NULL)
		return 0;
	n = (int)(sizeof(small) / sizeof(small[0]));
	if (getgrouplist(pw->pw_name, pw->pw_gid, g, &n) == -1) {
		g = xreallocarray(NULL, (size_t)n, sizeof(*g));
		if (getgrouplist(pw->pw_name, pw->pw_gid, g, &n) == -1)
			n = 0;
	}
	for (i = 0; i < n; i++)
		if (g[i] == gid)
			found = 1;
	if (g != small)
		free(g);
	return found;
}

/*
 * peer_ok - root, our user, or a member of the socket's group (its primary
 * group or a supplementary one). 1, or 0 with the peer's credentials in cr.
 */
static int
peer_ok(const struct control *c, int fd, struct ucred *cr)
{
	socklen_t len = sizeof(*cr);

	memset(cr, 0, sizeof(*cr));
	cr->uid = (uid_t)-1;
	cr->gid = (gid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cr, &len) == -1)
		return 0;
	return cr->uid == 0 || cr->uid == geteuid() || cr->gid == c->gid ||
	    in_groups(fd, cr->uid, c->gid);
}

/* refuse - tell a peer it may not use the socket, then close */
static void
refuse(const struct control *c, int fd, const struct ucred *cr)
{
	char line[512];
	int n;

	log_warn("event=control-refused pid=%ld uid=%ld gid=%ld reason=\"peer "
	    "is not root, our user or in our group (gid %lu)\"",
	    (long)cr->pid, (long)(int)cr->uid, (long)(int)cr->gid,
	    (unsigned long)c->gid);
	n = snprintf(line, sizeof(line), DENIED "\"error\":\"permission "
	    "denied: uid %ld is not root, sluiced's user (uid %lu) or in its "
	    "group (gid %lu)\"}\n", (long)(int)cr->uid,
	    (unsigned long)geteuid(), (unsigned long)c->gid);
	/* a fresh socket's buffer is empty: this never blocks */
	if (n > 0 && (size_t)n < sizeof(line) &&
	    send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
		log_debug("event=control-refused problem=\"%s\"",
		    strerror(errno));
	close(fd);
}

/* accept_cb - one request per connection */
static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct control *c = arg;
	struct bufferevent *bev;
	struct timeval tv = { CONTROL_TIMEOUT, 0 };
	struct ucred cr;

	(void)sa;
	(void)salen;
	if (!peer_ok(c, fd, &cr)) {
		refuse(c, fd, &cr);
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
	{
		struct stat st;

		/* the group the file system lets in (a setgid directory's) */
		c->gid = stat(path, &st) == 0 ? st.st_gid : getegid();
	}
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

/* denied - the refusal's message into err */
static void
denied(const char *reply, char *err, size_t errsize)
{
	struct jval *v = jsonp_parse(reply, strlen(reply));
	const char *e = v ? jsonp_str(v, "error") : NULL;

	snprintf(err, errsize, "%s", e && *e ? e : "permission denied");
	jsonp_free(v);
}

/*
 * control_call - client side: send a request and return the reply (the
 * caller frees it). NULL with a message in err and errno: EACCES when we
 * may not use the socket (its permissions, or sluiced refused us), else
 * why sluiced could not be reached.
 */
char *
control_call(const char *path, const char *request, int timeout_s,
    char *err, size_t errsize)
{
	struct sockaddr_un sun;
	struct buf b;
	int fd, e;
	size_t n = strlen(request), off = 0;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, sizeof(sun.sun_path), path) == -1) {
		snprintf(err, errsize, "cannot reach %s: path too long", path);
		errno = ENAMETOOLONG;
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		e = errno;
		if (fd != -1)
			close(fd);
		if (e == EACCES || e == EPERM) {
			snprintf(err, errsize, "permission denied: %s: only "
			    "root, sluiced's user and members of its group may "
			    "use it", path);
			e = EACCES;
		} else
			snprintf(err, errsize, "cannot reach %s: %s", path,
			    strerror(e));
		errno = e;
		return NULL;
	}
	while (off < n) {
		/* no SIGPIPE: a peer that refused us has closed already */
		ssize_t w = send(fd, request + off, n - off, MSG_NOSIGNAL);

		if (w <= 0)
			break;	/* its answer may still be there to read */
		off += (size_t)w;
	}
	buf_init(&b, CONTROL_REPLY_MAX);
	errno = 0;
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
	e = errno;
	close(fd);
	if (b.len > 0 && strncmp(buf_cstr(&b), DENIED, strlen(DENIED)) == 0) {
		denied(buf_cstr(&b), err, errsize);
		buf_release(&b);
		errno = EACCES;
		return NULL;
	}
	if (b.len == 0) {
		buf_release(&b);
		snprintf(err, errsize, "no answer on %s: %s", path,
		    strerror(e ? e : EPROTO));
		errno = e ? e : EPROTO;
		return NULL;
	}
	return b.data;
}
