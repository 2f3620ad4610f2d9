#include <stdio.h>
#include <string.h>

#include "probe/battery.h"
#include "util/str.h"

/*
 * The battery. Relay attempts first, grouped by trick; the controls run
 * first at run time (see engine.c) so that a server refusing everything is
 * known before its refusals are read as "closed".
 */
static const struct btest tests[] = {
	/* positive controls */
	{ "control-postmaster", BT_CONTROL, 0, "control",
	  "postmaster of the target's own domain must be accepted",
	  NULL, "{sl}@{outside}", "postmaster@{target}" },
	{ "control-postmaster-bare", BT_CONTROL, BT_LOCALFORM, "control",
	  "bare <postmaster> must be accepted (RFC 5321 4.1.1.3)",
	  NULL, "{sl}@{outside}", "postmaster" },
	{ "control-auth-relay", BT_CONTROL, BT_AUTH, "control",
	  "an authenticated session must be able to relay",
	  NULL, "{sl}@{outside}", "{rl}@{outside}" },

	/* plain third-party relay, with senders of every kind */
	{ "relay-plain", BT_RELAY, 0, "third-party",
	  "outside sender to outside recipient",
	  NULL, "{sl}@{outside}", "{rl}@{outside}" },
	{ "relay-null-sender", BT_RELAY, 0, "null-sender",
	  "null sender <> to an outside recipient",
	  NULL, "", "{rl}@{outside}" },
	{ "relay-sender-target", BT_RELAY, 0, "forged-sender",
	  "sender forged as the target's host name (partially open relay)",
	  NULL, "{sl}@{target}", "{rl}@{outside}" },
	{ "relay-sender-parent", BT_RELAY, 0, "forged-sender",
	  "sender forged as the target's parent domain",
	  NULL, "{sl}@{parent}", "{rl}@{outside}" },
	{ "relay-sender-postmaster", BT_RELAY, 0, "forged-sender",
	  "sender forged as the target's postmaster",
	  NULL, "postmaster@{target}", "{rl}@{outside}" },
	{ "relay-sender-ip", BT_RELAY, 0, "forged-sender",
	  "sender at the target's [IP] literal",
	  NULL, "{sl}@[{ip6}]", "{rl}@{outside}" },
	{ "relay-sender-localhost", BT_RELAY, 0, "forged-sender",
	  "sender at localhost",
	  NULL, "{sl}@localhost", "{rl}@{outside}" },
	{ "relay-sender-unqualified", BT_RELAY, 0, "forged-sender",
	  "unqualified sender (no domain)",
	  NULL, "{sl}", "{rl}@{outside}" },
	{ "relay-sender-is-rcpt", BT_RELAY, 0, "forged-sender",
	  "sender and recipient the same outside address",
	  NULL, "{rl}@{outside}", "{rl}@{outside}" },
	{ "relay-uppercase", BT_RELAY, 0, "case",
	  "outside domain in upper case",
	  NULL, "{sl}@{outside}", "{rl}@{OUTSIDE}" },
	{ "relay-trailing-dot", BT_RELAY, 0, "syntax",
	  "outside domain with a trailing dot",
	  NULL, "{sl}@{outside}", "{rl}@{outside}." },
	{ "relay-postmaster-outside", BT_RELAY, 0, "third-party",
	  "postmaster at the outside domain",
	  NULL, "{sl}@{outside}", "postmaster@{outside}" },

	/* the percent hack */
	{ "percent-target", BT_RELAY, 0, "percent-hack",
	  "user%outside@target",
	  NULL, "{sl}@{outside}", "{rl}%{outside}@{target}" },
	{ "percent-target-from-ip", BT_RELAY, 0, "percent-hack",
	  "user%outside@target, sender at the target's [IP] (as nmap)",
	  NULL, "{sl}@[{ip6}]", "{rl}%{outside}@{target}" },
	{ "percent-parent", BT_RELAY, 0, "percent-hack",
	  "user%outside@parent-domain",
	  NULL, "{sl}@{outside}", "{rl}%{outside}@{parent}" },
	{ "percent-ip", BT_RELAY, 0, "percent-hack",
	  "user%outside@[target IP]",
	  NULL, "{sl}@[{ip6}]", "{rl}%{outside}@[{ip6}]" },
	{ "percent-localhost", BT_RELAY, 0, "percent-hack",
	  "user%outside@localhost",
	  NULL, "{sl}@localhost", "{rl}%{outside}@localhost" },
	{ "percent-quoted", BT_RELAY, BT_LOCALFORM, "percent-hack",
	  "\"user%outside\" with no domain",
	  NULL, "{sl}@{outside}", "\"{rl}%{outside}\"" },
	{ "percent-quoted-from-ip", BT_RELAY, BT_LOCALFORM, "percent-hack",
	  "\"user%outside\", sender at the target's [IP] (as nmap)",
	  NULL, "{sl}@[{ip6}]", "\"{rl}%{outside}\"" },
	{ "percent-quoted-target", BT_RELAY, 0, "percent-hack",
	  "\"user%outside\"@target",
	  NULL, "{sl}@{outside}", "\"{rl}%{outside}\"@{target}" },
	{ "percent-double", BT_RELAY, 0, "percent-hack",
	  "user%outside%target@target",
	  NULL, "{sl}@{outside}", "{rl}%{outside}%{target}@{target}" },

	/* UUCP bang paths */
	{ "bang-bare", BT_RELAY, BT_LOCALFORM, "bang-path",
	  "outside!user with no domain",
	  NULL, "{sl}@{outside}", "{outside}!{rl}" },
	{ "bang-bare-from-ip", BT_RELAY, BT_LOCALFORM, "bang-path",
	  "outside!user, sender at the target's [IP] (as nmap)",
	  NULL, "{sl}@[{ip6}]", "{outside}!{rl}" },
	{ "bang-target", BT_RELAY, 0, "bang-path",
	  "outside!user@target",
	  NULL, "{sl}@{outside}", "{outside}!{rl}@{target}" },
	{ "bang-target-from-ip", BT_RELAY, 0, "bang-path",
	  "outside!user@target, sender at the target's [IP] (as nmap)",
	  NULL, "{sl}@[{ip6}]", "{outside}!{rl}@{target}" },
	{ "bang-ip", BT_RELAY, 0, "bang-path",
	  "outside!user@[target IP]",
	  NULL, "{sl}@[{ip6}]", "{outside}!{rl}@[{ip6}]" },
	{ "bang-percent", BT_RELAY, 0, "bang-path",
	  "outside!user%target@target",
	  NULL, "{sl}@{outside}", "{outside}!{rl}%{target}@{target}" },

	/* source routes */
	{ "route-target", BT_RELAY, 0, "source-route",
	  "@target:user@outside",
	  NULL, "{sl}@{outside}", "@{target}:{rl}@{outside}" },
	{ "route-target-from-ip", BT_RELAY, 0, "source-route",
	  "@target:user@outside, sender at the target's [IP] (as nmap)",
	  NULL, "{sl}@[{ip6}]", "@{target}:{rl}@{outside}" },
	{ "route-ip", BT_RELAY, 0, "source-route",
	  "@[target IP]:user@outside",
	  NULL, "{sl}@{outside}", "@[{ip6}]:{rl}@{outside}" },
	{ "route-ip-from-ip", BT_RELAY, 0, "source-route",
	  "@[target IP]:user@outside, sender at the target's [IP] (as nmap)",
	  NULL, "{sl}@[{ip6}]", "@[{ip6}]:{rl}@{outside}" },
	{ "route-two-hops", BT_RELAY, 0, "source-route",
	  "@target,@parent:user@outside",
	  NULL, "{sl}@{outside}", "@{target},@{parent}:{rl}@{outside}" },

	/* quoted local parts and double @ */
	{ "quoted-at", BT_RELAY, BT_LOCALFORM, "quoted-local",
	  "\"user@outside\" with no domain",
	  NULL, "{sl}@{outside}", "\"{rl}@{outside}\"" },
	{ "quoted-at-from-ip", BT_RELAY, BT_LOCALFORM, "quoted-local",
	  "\"user@outside\", sender at the target's [IP] (as nmap)",
	  NULL, "{sl}@[{ip6}]", "\"{rl}@{outside}\"" },
	{ "quoted-at-target", BT_RELAY, 0, "quoted-local",
	  "\"user@outside\"@target",
	  NULL, "{sl}@{outside}", "\"{rl}@{outside}\"@{target}" },
	{ "quoted-at-ip", BT_RELAY, 0, "quoted-local",
	  "\"user@outside\"@[target IP]",
	  NULL, "{sl}@[{ip6}]", "\"{rl}@{outside}\"@[{ip6}]" },
	{ "double-at-target", BT_RELAY, 0, "double-at",
	  "user@outside@target",
	  NULL, "{sl}@{outside}", "{rl}@{outside}@{target}" },
	{ "double-at-target-from-ip", BT_RELAY, 0, "double-at",
	  "user@outside@target, sender at the target's [IP] (as nmap)",
	  NULL, "{sl}@[{ip6}]", "{rl}@{outside}@{target}" },
	{ "double-at-ip", BT_RELAY, 0, "double-at",
	  "user@outside@[target IP]",
	  NULL, "{sl}@[{ip6}]", "{rl}@{outside}@[{ip6}]" },

	/* IP literals */
	{ "literal-outside", BT_RELAY, 0, "ip-literal",
	  "recipient at an outside [IP] literal",
	  NULL, "{sl}@{outside}", "{rl}@[{extip}]" },

	/* HELO spoofing */
	{ "helo-target", BT_RELAY, BT_HELO, "helo-spoof",
	  "HELO as the target itself, sender at the target",
	  "{target}", "{sl}@{target}", "{rl}@{outside}" },
	{ "helo-localhost", BT_RELAY, BT_HELO, "helo-spoof",
	  "HELO localhost, sender at localhost",
	  "localhost", "{sl}@localhost", "{rl}@{outside}" },
	{ "helo-ip", BT_RELAY, BT_HELO, "helo-spoof",
	  "HELO as the target's [IP] literal",
	  "[{ip}]", "{sl}@[{ip6}]", "{rl}@{outside}" },
};

/* battery_count - number of tests */
size_t
battery_count(void)
{
	return sizeof(tests) / sizeof(tests[0]);
}

/* battery_get - the i-th test */
const struct btest *
battery_get(size_t i)
{
	return i < battery_count() ? &tests[i] : NULL;
}

/* battery_find - a test by id, or NULL */
const struct btest *
battery_find(const char *id)
{
	size_t i;

	for (i = 0; i < battery_count(); i++)
		if (strcmp(tests[i].id, id) == 0)
			return &tests[i];
	return NULL;
}

/*
 * battery_parent - "mx.example.com" -> "example.com"; a name of one or two
 * labels, or an address literal ("[192.0.2.1]"), stays as it is.
 */
void
battery_parent(const char *host, char *dst, size_t dstsize)
{
	const char *dot = strchr(host, '.');

	if (host[0] != '[' && dot != NULL && strchr(dot + 1, '.') != NULL)
		str_copy(dst, dstsize, dot + 1);
	else
		str_copy(dst, dstsize, host);
}

/* battery_expand - fill a template; 0, or -1 if dst is too small */
int
battery_expand(const char *t, const struct bvars *v, char *dst, size_t dstsize)
{
	size_t o = 0;
	char tmp[300];

	while (*t) {
		const char *val = NULL;
		size_t n;

		if (*t == '{') {
			const char *e = strchr(t, '}');
			size_t k = e ? (size_t)(e - t - 1) : 0;

			if (e && k == 7 && strncmp(t + 1, "outside", 7) == 0)
				val = v->outside;
			else if (e && k == 7 && strncmp(t + 1, "OUTSIDE", 7) == 0) {
				size_t i;

				str_copy(tmp, sizeof(tmp), v->outside);
				for (i = 0; tmp[i]; i++)
					if (tmp[i] >= 'a' && tmp[i] <= 'z')
						tmp[i] = (char)(tmp[i] - 32);
				val = tmp;
			} else if (e && k == 6 && strncmp(t + 1, "target", 6) == 0)
				val = v->target;
			else if (e && k == 6 && strncmp(t + 1, "parent", 6) == 0)
				val = v->parent;
			else if (e && k == 2 && strncmp(t + 1, "ip", 2) == 0)
				val = v->ip;
			else if (e && k == 3 && strncmp(t + 1, "ip6", 3) == 0) {
				snprintf(tmp, sizeof(tmp), "%s%s",
				    v->ipv6 ? "IPv6:" : "", v->ip);
				val = tmp;
			} else if (e && k == 5 && strncmp(t + 1, "extip", 5) == 0)
				val = v->extip;
			else if (e && k == 2 && strncmp(t + 1, "rl", 2) == 0) {
				snprintf(tmp, sizeof(tmp), "sluice-relay-%s",
				    v->token);
				val = tmp;
			} else if (e && k == 2 && strncmp(t + 1, "sl", 2) == 0) {
				snprintf(tmp, sizeof(tmp), "sluice-probe-%s",
				    v->token);
				val = tmp;
			}
			if (val != NULL) {
				n = strlen(val);
				if (o + n >= dstsize)
					return -1;
				memcpy(dst + o, val, n);
				o += n;
				t = e + 1;
				continue;
			}
		}
		if (o + 1 >= dstsize)
			return -1;
		dst[o++] = *t++;
	}
	dst[o] = '\0';
	return 0;
}
