/*
 * maildir - local delivery into a Maildir (tmp/ -> new/).
 *
 * Blocking file I/O: runs on a worker thread, never on the event loop.
 * Delivery is idempotent: the file name is fixed by the caller (from the
 * queue id and the recipient's index), and a message already in new/ or
 * cur/ under that name is not written again. So a crash between delivery
 * and the queue's record of it gives no duplicate.
 *
 * The message goes through unchanged but for line ends (CRLF -> LF, the
 * Maildir convention) and two added headers: Return-Path and Delivered-To.
 * The file is fsync'd before it is linked into new/, and new/ after.
 */
#ifndef SLUICE_MAILDIR_H
#define SLUICE_MAILDIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct maildir_msg {
	int		 fd;		/* the queue file */
	off_t		 off;		/* where the message starts */
	uint64_t	 size;
	const char	*return_path;	/* "<a@b>" or "<>" */
	const char	*delivered_to;	/* "a@b" */
	const char	*name;		/* unique file name */
};

int	maildir_deliver(const char *root, const char *mailbox,
	    const struct maildir_msg *m, char *err, size_t errsize);
int	maildir_make(const char *path, char *err, size_t errsize);

#endif
