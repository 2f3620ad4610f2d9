#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "queue/maildir.h"
#include "smtp/session.h"
#include "util/str.h"

/* fsync_path - fsync a directory by name; 0 or -1 */
static int
fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* mkdir_synced - mkdir, and make the new entry durable in its parent */
static int
mkdir_synced(const char *path, const char *parent)
{
	if (mkdir(path, 0700) == 0)
		return fsync_path(parent);
	return errno == EEXIST ? 0 : -1;
}

/* maildir_make - create path/{tmp,new,cur} (and path); 0 or -1 */
int
maildir_make(const char *path, char *err, size_t errsize)
{
	static const char *subs[] = { "tmp", "new", "cur" };
	char sub[4096], parent[4096], *slash;
	size_t i;

	str_copy(parent, sizeof(parent), path);
	if ((slash = strrchr(parent, '/')) != NULL && slash != parent)
		*slash = '\0';
	else
		str_copy(parent, sizeof(parent), ".");
	if (mkdir_synced(path, parent) == -1) {
		snprintf(err, errsize, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", path, subs[i]);
		if (mkdir_synced(sub, path) == -1) {
			snprintf(err, errsize, "mkdir %s: %s", sub,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* exists - does path exist? */
static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* write_all - write(2) until done */
static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* copy_body - copy the message from the queue file, CRLF -> LF */
static int
copy_body(int out, const struct maildir_msg *m)
{
	char in[65536], conv[65536];
	uint64_t left = m->size;
	off_t off = m->off;
	int cr = 0;	/* a CR ended the previous chunk */

	while (left > 0) {
		size_t want = left > sizeof(in) ? sizeof(in) : (size_t)left;
		ssize_t r = pread(m->fd, in, want, off);
		size_t i, o = 0;

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;	/* queue file shorter than its size */
			return -1;
		}
		for (i = 0; i < (size_t)r; i++) {
			if (cr && in[i] != '\n')
				conv[o++] = '\r';
			cr = in[i] == '\r';
			if (!cr)
				conv[o++] = in[i];
		}
		if (write_all(out, conv, o) == -1)
			return -1;
		off += r;
		left -= (uint64_t)r;
	}
	if (cr && write_all(out, "\r", 1) == -1)
		return -1;
	return 0;
}

/* temp_or_perm - classify an errno: most disk trouble is temporary */
static int
temp_or_perm(int e)
{
	return (e == ENAMETOOLONG || e == ENOTDIR || e == ELOOP) ?
	    SMTP_PERM : SMTP_TEMP;
}

/*
 * maildir_deliver - write message m into root/mailbox/new/NAME.
 * SMTP_OK (also when it was already there), SMTP_TEMP or SMTP_PERM, with
 * the reason in err.
 */
int
maildir_deliver(const char *root, const char *mailbox,
    const struct maildir_msg *m, char *err, size_t errsize)
{
	char box[4096], tmp[4200], new[4200], cur[4200], hdr[1024];
	int fd, e, n;

	if (snprintf(box, sizeof(box), "%s/%s", root, mailbox) >=
	    (int)sizeof(box)) {
		snprintf(err, errsize, "mailbox path too long");
		return SMTP_PERM;
	}
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", box, m->name);
	snprintf(new, sizeof(new), "%s/new/%s", box, m->name);
	snprintf(cur, sizeof(cur), "%s/cur/%s:2,", box, m->name);
	if (exists(new) || exists(cur)) {
		unlink(tmp);	/* a crash may have left it behind */
		return SMTP_OK;		/* delivered before a crash */
	}
	if (maildir_make(box, err, errsize) == -1)
		return temp_or_perm(errno);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1) {
		e = errno;
		snprintf(err, errsize, "open %s: %s", tmp, strerror(e));
		return temp_or_perm(e);
	}
	n = snprintf(hdr, sizeof(hdr), "Return-Path: %s\nDelivered-To: %s\n",
	    m->return_path, m->delivered_to);
	if (write_all(fd, hdr, (size_t)n) == -1 || copy_body(fd, m) == -1 ||
	    fsync(fd) == -1) {
		e = errno;
		snprintf(err, errsize, "write %s: %s", tmp, strerror(e));
		close(fd);
		unlink(tmp);
		return SMTP_TEMP;
	}
	close(fd);
	if (link(tmp, new) == -1 && errno != EEXIST) {
		e = errno;
		snprintf(err, errsize, "link %s: %s", new, strerror(e));
		unlink(tmp);
		return temp_or_perm(e);
	}
	unlink(tmp);
	snprintf(tmp, sizeof(tmp), "%s/new", box);
	if (fsync_path(tmp) == -1) {
		e = errno;
		snprintf(err, errsize, "fsync %s: %s", tmp, strerror(e));
		return SMTP_TEMP;
	}
	return SMTP_OK;
}
