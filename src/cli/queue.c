#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/queue.h"
#include "conf/conf.h"
#include "net/control.h"
#include "util/buf.h"
#include "util/str.h"

static void
usage(void)
{
	fprintf(stderr,
"usage: sluice queue [-c FILE] [--socket PATH] COMMAND [SELECTORS] [--json]\n"
"commands:\n"
"  list            the queue (default)\n"
"  show ID         one message, every recipient\n"
"  hold            put messages on hold (not delivered until released)\n"
"  release         release held messages (delivery is tried at once)\n"
"  delete          remove messages for good\n"
"  flush           try delivery now\n"
"selectors (all must match; hold, release, delete and flush need one):\n"
"  --id ID  --sender PATTERN  --rcpt PATTERN  --rcpt-domain DOMAIN\n"
"  --client-ip ADDR[/BITS]  --user LOGIN  --older-than DURATION\n"
"  --newer-than DURATION\n"
"  --held  --active  --internal (sluiced's own mail: DSNs)  --all\n"
"  PATTERN: user@domain, user@, domain or .domain (subdomains); <> for the\n"
"  null sender. DURATION: 30s, 10m, 4h, 2d.\n");
	exit(2);
}

/*
 * cli_control_path - where sluiced listens: --socket, else the config's
 * control_socket, else SPOOL_DIR/control.sock. NULL on a config error.
 */
char *
cli_control_path(const char *config, const char *socket, char *dst,
    size_t dstsize)
{
	struct conf *c;

	if (socket) {
		str_copy(dst, dstsize, socket);
		return dst;
	}
	c = config ? conf_load(config, stderr) : conf_default();
	if (c == NULL)
		return NULL;
	if (c->control_socket[0])
		str_copy(dst, dstsize, c->control_socket);
	else
		snprintf(dst, dstsize, "%s/control.sock", c->spool_dir);
	conf_free(c);
	return dst;
}

/*
 * cli_call - one request to sluiced. 0 with the reply in *reply (the
 * caller frees it), or the exit status, the reason printed after prog:
 * 2 no configuration, 3 sluiced is not running, 4 permission denied.
 */
int
cli_call(const char *prog, const char *config, const char *socket,
    const char *request, char **reply)
{
	char path[4096], err[1024];

	*reply = NULL;
	if (cli_control_path(config, socket, path, sizeof(path)) == NULL)
		return 2;
	if ((*reply = control_call(path, request, 30, err,
	    sizeof(err))) != NULL)
		return 0;
	if (errno == EACCES) {
		fprintf(stderr, "%s: %s\n", prog, strncmp(err, "permission "
		    "denied", 17) == 0 ? err : "permission denied");
		return 4;
	}
	fprintf(stderr, "%s: sluiced is not running (%s)\n", prog, err);
	return 3;
}

/* json_get - the string value of "key" in a flat part of JSON, or "" */
static void
json_get(const char *obj, const char *key, char *dst, size_t dstsize)
{
	char pat[64];
	const char *p, *e;
	size_t o = 0;

	dst[0] = '\0';
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if ((p = strstr(obj, pat)) == NULL)
		return;
	p += strlen(pat);
	if (*p != '"') {
		for (e = p; *e && *e != ',' && *e != '}' && o + 1 < dstsize; e++)
			dst[o++] = *e;
		dst[o] = '\0';
		return;
	}
	for (p++; *p && *p != '"' && o + 1 < dstsize; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			if (*p == 'u' && strlen(p) >= 5) {
				unsigned v;

				sscanf(p + 1, "%4x", &v);
				dst[o++] = (v >= 0x20 && v < 0x7f) ? (char)v : '?';
				p += 4;
				continue;
			}
		}
		dst[o++] = *p;
	}
	dst[o] = '\0';
}

/* age - "3d4h" style */
static void
age(long long secs, char *dst, size_t dstsize)
{
	if (secs < 60)
		snprintf(dst, dstsize, "%llds", secs);
	else if (secs < 3600)
		snprintf(dst, dstsize, "%lldm", secs / 60);
	else if (secs < 86400)
		snprintf(dst, dstsize, "%lldh%lldm", secs / 3600,
		    secs % 3600 / 60);
	else
		snprintf(dst, dstsize, "%lldd%lldh", secs / 86400,
		    secs % 86400 / 3600);
}

/* print_list - the listing as text, like mailq */
static void
print_list(const char *reply, int detail)
{
	const char *m = strstr(reply, "\"messages\":[");
	char v[1024], id[64], from[400], client[64], state[32], sz[32], a[32];
	unsigned n = 0;

	if (m == NULL)
		return;
	m += strlen("\"messages\":[");
	printf("%-17s %7s %9s %-7s %s\n", "QUEUE ID", "AGE", "SIZE", "STATE",
	    "SENDER / RECIPIENTS");
	while (*m == '{') {
		const char *r, *end;

		/* the message object ends after its recipients array */
		r = strstr(m, "\"recipients\":[");
		end = r ? strstr(r, "]}") : NULL;
		if (end == NULL)
			break;
		json_get(m, "id", id, sizeof(id));
		json_get(m, "from", from, sizeof(from));
		json_get(m, "client", client, sizeof(client));
		json_get(m, "state", state, sizeof(state));
		json_get(m, "size", sz, sizeof(sz));
		json_get(m, "age", v, sizeof(v));
		age(strtoll(v, NULL, 10), a, sizeof(a));
		printf("%-17s %7s %9s %-7s %s client=%s\n", id, a, sz, state,
		    from, client);
		for (r += strlen("\"recipients\":["); r < end && *r == '{';) {
			const char *re = strchr(r, '}');
			char addr[400], st[32], err[600], att[16], rel[200];

			if (re == NULL)
				break;
			json_get(r, "address", addr, sizeof(addr));
			json_get(r, "status", st, sizeof(st));
			json_get(r, "last_error", err, sizeof(err));
			json_get(r, "attempts", att, sizeof(att));
			json_get(r, "relay", rel, sizeof(rel));
			if (detail || strcmp(st, "pending") == 0 ||
			    strcmp(st, "delivering") == 0) {
				printf("%44s-> %s %s", "", addr, st);
				if (strcmp(att, "0") != 0)
					printf(" attempts=%s", att);
				if (rel[0])
					printf(" relay=%s", rel);
				if (err[0])
					printf(" last=\"%s\"", err);
				putchar('\n');
			}
			r = re + 1;
			if (*r == ',')
				r++;
		}
		n++;
		m = end + 2;
		if (*m == ',')
			m++;
	}
	printf("%u message%s\n", n, n == 1 ? "" : "s");
}

/* cmd_queue - `sluice queue ...` */
int
cmd_queue(int argc, char **argv)
{
	enum { O_SOCKET = 256, O_ID, O_SENDER, O_RCPT, O_RDOM, O_CLIENT,
	    O_OLDER, O_NEWER, O_HELD, O_ACTIVE, O_ALL, O_JSON, O_USER,
	    O_INTERNAL };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "id", required_argument, NULL, O_ID },
		{ "sender", required_argument, NULL, O_SENDER },
		{ "rcpt", required_argument, NULL, O_RCPT },
		{ "rcpt-domain", required_argument, NULL, O_RDOM },
		{ "client-ip", required_argument, NULL, O_CLIENT },
		{ "older-than", required_argument, NULL, O_OLDER },
		{ "newer-than", required_argument, NULL, O_NEWER },
		{ "held", no_argument, NULL, O_HELD },
		{ "active", no_argument, NULL, O_ACTIVE },
		{ "all", no_argument, NULL, O_ALL },
		{ "json", no_argument, NULL, O_JSON },
		{ "user", required_argument, NULL, O_USER },
		{ "internal", no_argument, NULL, O_INTERNAL },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = NULL, *socket = NULL, *verb = "list";
	char *reply = NULL;
	struct buf req;
	int ch, json = 0, ok, rc;

	buf_init(&req, 8192);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		const char *key = NULL;

		switch (ch) {
		case 'c': config = optarg; continue;
		case O_SOCKET: socket = optarg; continue;
		case O_JSON: json = 1; continue;
		case O_ID: key = "id"; break;
		case O_SENDER: key = "sender"; break;
		case O_RCPT: key = "rcpt"; break;
		case O_RDOM: key = "rcpt"; break;
		case O_CLIENT: key = "client"; break;
		case O_USER: key = "user"; break;
		case O_OLDER: key = "older"; break;
		case O_NEWER: key = "newer"; break;
		case O_HELD: buf_puts(&req, "\theld=1"); continue;
		case O_ACTIVE: buf_puts(&req, "\theld=0"); continue;
		case O_ALL: buf_puts(&req, "\tall=1"); continue;
		case O_INTERNAL: buf_puts(&req, "\tinternal=1"); continue;
		default: usage();
		}
		if (strpbrk(optarg, "\t\r\n") != NULL)
			usage();
		buf_printf(&req, "\t%s=%s", key, optarg);
	}
	if (optind < argc)
		verb = argv[optind++];
	if (strcmp(verb, "show") == 0) {
		if (optind >= argc)
			usage();
		buf_printf(&req, "\tid=%s", argv[optind++]);
		verb = "list";
		if (!json) {
			struct buf full;

			buf_init(&full, 8192);
			buf_printf(&full, "list%s\n", buf_cstr(&req));
			rc = cli_call("sluice queue", config, socket, full.data,
			    &reply);
			buf_release(&full);
			if (rc != 0)
				goto out;
			if (strstr(reply, "\"count\":0") != NULL) {
				fprintf(stderr, "sluice queue: no such message\n");
				rc = 1;
				goto out;
			}
			print_list(reply, 1);
			rc = 0;
			goto out;
		}
	}
	if (optind != argc || (strcmp(verb, "list") && strcmp(verb, "hold") &&
	    strcmp(verb, "release") && strcmp(verb, "delete") &&
	    strcmp(verb, "flush")))
		usage();
	{
		struct buf full;

		buf_init(&full, 8192);
		buf_printf(&full, "%s%s\n", verb, buf_cstr(&req));
		rc = cli_call("sluice queue", config, socket, full.data, &reply);
		buf_release(&full);
	}
	if (rc != 0)
		goto out;
	ok = strncmp(reply, "{\"ok\":true", 10) == 0;
	if (json || !ok) {
		if (!ok) {
			char err[512];

			json_get(reply, "error", err, sizeof(err));
			fprintf(stderr, "sluice queue: %s\n", err);
			if (json)
				fputs(reply, stdout);
		} else
			fputs(reply, stdout);
		rc = ok ? 0 : 1;
		goto out;
	}
	if (strcmp(verb, "list") == 0)
		print_list(reply, 0);
	else {
		char n[32];

		json_get(reply, "count", n, sizeof(n));
		printf("%s: %s message%s\n", verb, n, strcmp(n, "1") ? "s" : "");
	}
	rc = 0;
out:
	free(reply);
	buf_release(&req);
	return rc;
}
