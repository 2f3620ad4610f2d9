#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/probe.h"
#include "net/tls.h"
#include "policy/cidr.h"
#include "probe/catcher.h"
#include "probe/engine.h"
#include "probe/report.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

struct cli {
	char		**argv;		/* targets on the command line */
	int		 argc, argi;
	FILE		*file;		/* --file, or NULL */
	unsigned	 line;		/* targets read (for --shard) */
	unsigned	 shard, nshards;
	int		 json, verbose, progress;
};

static void
usage_to(FILE *f, int rc)
{
	fprintf(f,
"usage: sluice probe [options] TARGET... | -f FILE\n"
"  TARGET is HOST, HOST:PORT or [IPV6]:PORT\n"
"  -m, --mode MODE        anonymous (default: MAIL and RCPT only) or delivery\n"
"  -p, --port N           default port (25)\n"
"  -f, --file FILE        targets, one per line ('-': standard input)\n"
"      --source ADDR      local address to connect from\n"
"      --outside DOMAIN   the outside domain relayed mail would go to\n"
"      --outside-ip IP    an outside IP literal (default 192.0.2.1)\n"
"      --target-domain D  the target's own domain (default: from its banner\n"
"                         or EHLO reply)\n"
"      --helo NAME        our HELO name (default: this host's name)\n"
"      --auth USER:PASS   also test that an authenticated session relays\n"
"      --starttls         insist on STARTTLS; --no-starttls never use it\n"
"      --tls              implicit TLS (default on port 465)\n"
"      --catch ADDR:PORT  delivery mode: run a catcher for relayed mail\n"
"      --maildir DIR      delivery mode: look for relayed mail in DIR\n"
"      --wait SECONDS     delivery mode: how long to wait for tokens (60)\n"
"      --concurrency N    targets tested at once (50)\n"
"      --pace MS          pause between tests on one target (0)\n"
"      --timeout SECONDS  per command (300, as RFC 5321 4.5.3.2)\n"
"      --connect-timeout SECONDS (30)\n"
"      --tests LIST       only these test ids or tricks (comma-separated)\n"
"      --list-tests       print the battery and exit\n"
"      --shard I/N        only every N-th target, starting at I (0-based)\n"
"      --resolver ADDR[:PORT]  DNS server for target names\n"
"      --json             one JSON object per target per line\n"
"  -v, --verbose          every test and the session transcript\n"
"  -q, --quiet            no progress line\n"
"exit status: 0 no target open, 1 some target open or accepting relay,\n"
"             2 no hit but some target could not be tested (or usage error)\n");
	exit(rc);
}

static void
usage(void)
{
	usage_to(stderr, 2);
}

/* next_target - from the command line, then the file; honours --shard */
static int
next_target(void *arg, char *buf, size_t size)
{
	struct cli *c = arg;
	char line[1024];

	for (;;) {
		const char *s = NULL;

		if (c->argi < c->argc)
			s = c->argv[c->argi++];
		else if (c->file != NULL) {
			char *p, *e;

			if (fgets(line, sizeof(line), c->file) == NULL)
				return 0;
			for (p = line; *p == ' ' || *p == '\t'; p++)
				;
			if ((e = strchr(p, '#')) != NULL)
				*e = '\0';
			e = p + strlen(p);
			while (e > p && (e[-1] == '\n' || e[-1] == '\r' ||
			    e[-1] == ' ' || e[-1] == '\t'))
				*--e = '\0';
			if (*p == '\0')
				continue;
			s = p;
		} else
			return 0;
		if (c->nshards > 1 && c->line++ % c->nshards != c->shard)
			continue;
		str_copy(buf, size, s);
		return 1;
	}
}

/* done - print one finished target */
static void
done(void *arg, const struct ptarget *t)
{
	struct cli *c = arg;
	struct buf b;

	buf_init(&b, 64 * 1024 * 1024);
	if (c->json)
		report_json(&b, t, c->verbose);
	else
		report_text(&b, t, c->verbose);
	(void)buf_putc(&b, '\n');
	if (c->progress)
		fputs("\r\033[K", stderr);
	fwrite(b.data, 1, b.len, stdout);
	fflush(stdout);
	buf_release(&b);
}

/* progress - a status line on a terminal */
static void
progress(void *arg, unsigned started, unsigned finished, unsigned hits)
{
	struct cli *c = arg;

	if (!c->progress)
		return;
	fprintf(stderr, "\r\033[Kprobe: %u done, %u running, %u open or "
	    "accepting relay", finished, started - finished, hits);
	fflush(stderr);
}

/* list_tests - the battery */
static void
list_tests(void)
{
	size_t i;

	for (i = 0; i < battery_count(); i++) {
		const struct btest *b = battery_get(i);

		printf("%-26s %-8s %-13s %s\n    MAIL FROM:<%s> RCPT TO:<%s>%s%s\n",
		    b->id, b->kind == BT_CONTROL ? "control" : "relay",
		    b->trick, b->desc, b->from, b->rcpt, b->helo ? " HELO " :
		    "", b->helo ? b->helo : "");
	}
}

/* number - a bounded option value, or usage */
static unsigned
number(const char *s, unsigned min, unsigned max, const char *what)
{
	uint64_t v;

	if (str_parse_u64(s, min, max, &v) == -1) {
		fprintf(stderr, "sluice probe: %s: want a number from %u to "
		    "%u\n", what, min, max);
		exit(2);
	}
	return (unsigned)v;
}

/* cmd_probe - `sluice probe ...` */
int
cmd_probe(int argc, char **argv)
{
	enum { O_SOURCE = 256, O_OUTSIDE, O_OUTSIDE_IP, O_TDOMAIN, O_HELO,
	    O_AUTH, O_STARTTLS, O_NOSTARTTLS, O_TLS, O_CATCH, O_MAILDIR,
	    O_WAIT, O_CONC, O_PACE, O_TIMEOUT, O_CTIMEOUT, O_TESTS, O_LIST,
	    O_SHARD, O_RESOLVER, O_JSON };
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "port", required_argument, NULL, 'p' },
		{ "file", required_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "source", required_argument, NULL, O_SOURCE },
		{ "outside", required_argument, NULL, O_OUTSIDE },
		{ "outside-ip", required_argument, NULL, O_OUTSIDE_IP },
		{ "target-domain", required_argument, NULL, O_TDOMAIN },
		{ "helo", required_argument, NULL, O_HELO },
		{ "auth", required_argument, NULL, O_AUTH },
		{ "starttls", no_argument, NULL, O_STARTTLS },
		{ "no-starttls", no_argument, NULL, O_NOSTARTTLS },
		{ "tls", no_argument, NULL, O_TLS },
		{ "catch", required_argument, NULL, O_CATCH },
		{ "maildir", required_argument, NULL, O_MAILDIR },
		{ "wait", required_argument, NULL, O_WAIT },
		{ "concurrency", required_argument, NULL, O_CONC },
		{ "pace", required_argument, NULL, O_PACE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "connect-timeout", required_argument, NULL, O_CTIMEOUT },
		{ "tests", required_argument, NULL, O_TESTS },
		{ "list-tests", no_argument, NULL, O_LIST },
		{ "shard", required_argument, NULL, O_SHARD },
		{ "resolver", required_argument, NULL, O_RESOLVER },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct probe_opts o;
	struct cli c;
	struct sockaddr_storage src;
	const char *catch_addr = NULL, *file = NULL;
	char *auth = NULL, err[512];
	struct event_base *base;
	struct probe *p;
	int ch, quiet = 0, rc, outside_given = 0;

	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	o.port = 25;
	o.implicit_tls = -1;
	o.outside = "example.net";
	o.outside_ip = "192.0.2.1";
	o.concurrency = 50;
	o.t_connect = 30;
	o.t_greeting = 300;
	o.t_cmd = 300;
	o.t_data = 120;
	o.t_end = 600;
	o.wait_secs = 60;
	o.max_reconnects = 10;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "m:p:f:vqh", opts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage_to(stdout, 0); break;
		case 'm':
			if (strcmp(optarg, "anonymous") == 0)
				o.delivery = 0;
			else if (strcmp(optarg, "delivery") == 0)
				o.delivery = 1;
			else
				usage();
			break;
		case 'p': o.port = number(optarg, 1, 65535, "--port"); break;
		case 'f': file = optarg; break;
		case 'v': c.verbose = 1; break;
		case 'q': quiet = 1; break;
		case O_SOURCE: {
			int fam;
			unsigned char ip[16];

			if (cidr_parse_ip(optarg, &fam, ip) == -1) {
				fprintf(stderr, "sluice probe: --source %s: not "
				    "an IP address\n", optarg);
				return 2;
			}
			memset(&src, 0, sizeof(src));
			src.ss_family = (sa_family_t)fam;
			if (fam == AF_INET) {
				memcpy(&((struct sockaddr_in *)&src)->sin_addr,
				    ip, 4);
				o.sourcelen = sizeof(struct sockaddr_in);
			} else {
				memcpy(&((struct sockaddr_in6 *)&src)->sin6_addr,
				    ip, 16);
				o.sourcelen = sizeof(struct sockaddr_in6);
			}
			o.source = (struct sockaddr *)&src;
			break;
		}
		case O_OUTSIDE: o.outside = optarg; outside_given = 1; break;
		case O_OUTSIDE_IP: o.outside_ip = optarg; break;
		case O_TDOMAIN: o.target_domain = optarg; break;
		case O_HELO: o.helo = optarg; break;
		case O_AUTH: auth = optarg; break;
		case O_STARTTLS: o.starttls = 1; break;
		case O_NOSTARTTLS: o.starttls = -1; break;
		case O_TLS: o.implicit_tls = 1; break;
		case O_CATCH: catch_addr = optarg; break;
		case O_MAILDIR: o.maildir = optarg; break;
		case O_WAIT: o.wait_secs = number(optarg, 0, 86400, "--wait");
			break;
		case O_CONC: o.concurrency = number(optarg, 1, 100000,
		    "--concurrency"); break;
		case O_PACE: o.pace_ms = number(optarg, 0, 600000, "--pace");
			break;
		case O_TIMEOUT:
			o.t_cmd = o.t_greeting = o.t_data = o.t_end =
			    number(optarg, 1, 3600, "--timeout");
			break;
		case O_CTIMEOUT: o.t_connect = number(optarg, 1, 3600,
		    "--connect-timeout"); break;
		case O_TESTS: o.tests = optarg; break;
		case O_LIST: list_tests(); return 0;
		case O_SHARD:
			if (sscanf(optarg, "%u/%u", &c.shard, &c.nshards) != 2 ||
			    c.nshards == 0 || c.shard >= c.nshards) {
				fprintf(stderr, "sluice probe: --shard I/N with "
				    "0 <= I < N\n");
				return 2;
			}
			break;
		case O_RESOLVER: o.resolver = optarg; break;
		case O_JSON: c.json = 1; break;
		default: usage();
		}
	}
	c.argv = argv + optind;
	c.argc = argc - optind;
	if (c.argc == 0 && file == NULL)
		usage();
	if (file != NULL) {
		c.file = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
		if (c.file == NULL) {
			fprintf(stderr, "sluice probe: %s: cannot read\n", file);
			return 2;
		}
	}
	if (auth != NULL) {
		char *colon = strchr(auth, ':');

		if (colon == NULL) {
			fprintf(stderr, "sluice probe: --auth USER:PASS\n");
			return 2;
		}
		*colon = '\0';
		o.auth_user = auth;
		o.auth_pass = colon + 1;
	}
	if (o.delivery && catch_addr == NULL && o.maildir == NULL) {
		fprintf(stderr, "sluice probe: delivery mode needs --catch "
		    "ADDR:PORT or --maildir DIR to see relayed mail arrive\n");
		return 2;
	}
	if (o.delivery && !outside_given) {
		fprintf(stderr, "sluice probe: delivery mode needs --outside "
		    "DOMAIN: a domain whose mail reaches your --catch listener "
		    "or --maildir\n");
		return 2;
	}
	c.progress = !quiet && !c.verbose && isatty(2);
	o.keep_transcript = 1;
	o.next = next_target;
	o.next_arg = &c;
	o.done = done;
	o.done_arg = &c;
	o.progress = progress;
	if ((o.ssl_ctx = tls_client_ctx(err, sizeof(err))) == NULL) {
		fprintf(stderr, "sluice probe: %s\n", err);
		return 2;
	}
	/* the catcher's session core logs each message: not our output */
	log_set_level(LVL_WARN);
	base = event_base_new();
	if ((catch_addr && (o.catcher = catcher_new(base, catch_addr, err,
	    sizeof(err))) == NULL) ||
	    (p = probe_new(base, &o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "sluice probe: %s\n", err);
		catcher_free(o.catcher);
		SSL_CTX_free(o.ssl_ctx);
		event_base_free(base);
		if (c.file && c.file != stdin)
			fclose(c.file);
		return 2;
	}
	probe_run(p);
	if (c.progress)
		fputs("\r\033[K", stderr);
	if (!c.json)
		printf("%u target%s: %u open or accepting relay, %u could not "
		    "be tested\n", probe_count(p), probe_count(p) == 1 ? "" :
		    "s", probe_hits(p), probe_errors(p));
	rc = probe_hits(p) ? 1 : probe_errors(p) ? 2 : 0;
	probe_free(p);
	catcher_free(o.catcher);
	SSL_CTX_free(o.ssl_ctx);
	event_base_free(base);
	if (c.file && c.file != stdin)
		fclose(c.file);
	return rc;
}
