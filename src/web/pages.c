#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/str.h"
#include "web/html.h"
#include "web/pages.h"

#define NV(a)	(sizeof(a) / sizeof(a[0]))

/* page_begin - the document head and header bar */
void
page_begin(struct buf *b, const struct page *p)
{
	struct buf user;
	struct tvar v[] = {
		{ "title", p->title, 200 },
		{ "refresh", p->refresh ? "<noscript><meta http-equiv=\"refresh\" "
		    "content=\"2\"></noscript>" : "", 0 },
		{ "user", NULL, 0 },
	};

	buf_init(&user, 4096);
	if (p->user) {
		struct tvar u[] = { { "name", p->user, 64 },
		    { "csrf", p->csrf, 128 } };

		html_render(&user, "<form class=\"inline\" method=\"post\" "
		    "action=\"/logout\">signed in as <b>{{name}}</b> "
		    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
		    "<button>sign out</button></form>", u, NV(u));
	} else
		buf_puts(&user, "<a href=\"/login\">sign in</a>");
	v[2].value = buf_cstr(&user);
	/* {{{user}}} is a fragment built above, values escaped there */
	html_render(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\">"
	    "<title>{{title}} - sluice relay test</title>"
	    "<link rel=\"stylesheet\" href=\"/static/style.css\">"
	    "<script src=\"/static/app.js\" defer></script>{{{refresh}}}"
	    "</head><body><header><a class=\"brand\" href=\"/\">sluice "
	    "relay test</a><span class=\"who\">{{{user}}}</span></header>"
	    "<main>\n", v, NV(v));
	buf_release(&user);
}

/* page_end - the footer */
void
page_end(struct buf *b)
{
	buf_puts(b, "</main><footer>Tests are made by <code>sluice probe"
	    "</code>: anonymous tests stop after RCPT and never send mail. "
	    "<a href=\"/api/help\">API</a></footer></body></html>\n");
}

/* page_form - the test form */
void
page_form(struct buf *b, const char *csrf, int logged_in, int delivery,
    const char *error, const char *target)
{
	struct buf err;
	struct tvar v[] = {
		{ "csrf", csrf, 128 },
		{ "target", target ? target : "", 255 },
		{ "error", NULL, 0 },
		{ "delivery", NULL, 0 },
	};

	buf_init(&err, 4096);
	if (error && *error) {
		struct tvar e[] = { { "msg", error, 400 } };

		html_render(&err, "<p class=\"error\">{{msg}}</p>", e, 1);
	}
	v[2].value = buf_cstr(&err);
	v[3].value = !delivery ? "<label class=\"off\"><input type=\"radio\" "
	    "name=\"mode\" value=\"delivery\" disabled> delivery (not "
	    "enabled on this service)</label>" : logged_in ?
	    "<label><input type=\"radio\" name=\"mode\" value=\"delivery\"> "
	    "delivery: really relay a tokened message to our test mailbox and "
	    "see whether it arrives</label>" :
	    "<label class=\"off\"><input type=\"radio\" name=\"mode\" "
	    "value=\"delivery\" disabled> delivery (<a href=\"/login\">sign "
	    "in</a> first: it sends a real message)</label>";
	html_render(b, "<h1>Is this mail server an open relay?</h1>"
	    "<p>Enter a mail server's host name or address, or a mail domain "
	    "(each of its MX hosts is tested). About 37 relay tricks are "
	    "tried: the percent hack, bang paths, source routes, quoted local "
	    "parts, address literals, forged senders and more.</p>{{{error}}}"
	    "<form method=\"post\" action=\"/test\" class=\"test\">"
	    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
	    "<label>Server or domain <input name=\"target\" required "
	    "maxlength=\"255\" value=\"{{target}}\" "
	    "placeholder=\"mx.example.com\"></label>"
	    "<label>Port <select name=\"port\"><option>25</option>"
	    "<option>587</option><option>465</option></select></label>"
	    "<fieldset><legend>Mode</legend><label><input type=\"radio\" "
	    "name=\"mode\" value=\"anonymous\" checked> anonymous: MAIL and "
	    "RCPT only, no message is sent</label>{{{delivery}}}</fieldset>"
	    "<button type=\"submit\">Test</button></form>", v, NV(v));
	buf_release(&err);
}

/* page_message - a heading and a sentence (errors, 429, 404) */
void
page_message(struct buf *b, const char *heading, const char *text)
{
	struct tvar v[] = { { "h", heading, 200 }, { "t", text, 1000 } };

	html_render(b, "<h1>{{h}}</h1><p>{{t}}</p><p><a href=\"/\">New test"
	    "</a></p>", v, NV(v));
}

/* page_login - the sign-in form */
void
page_login(struct buf *b, const char *csrf, const char *error)
{
	struct tvar v[] = { { "csrf", csrf, 128 }, { "error", error ? error :
	    "", 200 } };

	html_render(b, "<h1>Sign in</h1><p>Delivery tests are for registered "
	    "users: they make the tested server send a real message.</p>"
	    "<p class=\"error\">{{error}}</p>"
	    "<form method=\"post\" action=\"/login\" class=\"test\">"
	    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
	    "<label>User <input name=\"user\" required maxlength=\"64\" "
	    "autocomplete=\"username\"></label><label>Password <input "
	    "type=\"password\" name=\"password\" required maxlength=\"255\" "
	    "autocomplete=\"current-password\"></label>"
	    "<button type=\"submit\">Sign in</button></form>", v, NV(v));
}

/* page_row - one line of a list of reports */
void
page_row(struct buf *b, const char *id, const char *target, const char *mode,
    const char *status, const char *verdict, const char *when)
{
	struct buf href;
	struct tvar v[] = { { "href", NULL, 0 }, { "target", target, 255 },
	    { "mode", mode, 16 }, { "status", status, 16 },
	    { "verdict", verdict && *verdict ? verdict : status, 32 },
	    { "when", when, 40 } };

	buf_init(&href, 256);
	buf_puts(&href, "/r/");
	html_attr_url(&href, id);
	v[0].value = buf_cstr(&href);
	html_render(b, "<tr><td><a href=\"{{{href}}}\">{{target}}</a></td>"
	    "<td>{{mode}}</td><td><span class=\"v v-{{verdict}}\">{{verdict}}"
	    "</span></td><td>{{when}}</td></tr>", v, NV(v));
	buf_release(&href);
}

/*
 * What to change, per trick that worked (the battery's trick names), for
 * the common servers. Static HTML: no byte of a report goes in here.
 */
static const struct {
	const char *tricks;	/* space-separated trick names */
	const char *title, *text;
} tips[] = {
	{ "third-party", "It relays for anyone",
	  "Postfix: <code>smtpd_relay_restrictions = permit_mynetworks, "
	  "permit_sasl_authenticated, reject_unauth_destination</code> with a "
	  "narrow <code>mynetworks</code>. sendmail: remove "
	  "<code>FEATURE(`promiscuous_relay')</code> and broad "
	  "<code>RELAY</code> entries from the access map. Exim: relay only "
	  "for <code>hosts = +relay_from_hosts</code> (a narrow list) and "
	  "authenticated clients. Exchange: remove anonymous relay from the "
	  "receive connectors. sluiced: a narrow "
	  "<code>authorized_networks</code>." },
	{ "case syntax", "Upper-case or trailing-dot domains",
	  "It relayed to <code>ELSEWHERE.EXAMPLE</code> or "
	  "<code>elsewhere.example.</code> while it refuses the plain form: "
	  "its domain comparison is broken. Compare domains "
	  "case-insensitively and without the trailing dot before deciding "
	  "(or upgrade the filter that does it)." },
	{ "percent-hack", "The percent hack (user%elsewhere@your.domain)",
	  "It took <code>user%elsewhere@your.domain</code> as mail for "
	  "<code>user@elsewhere</code>. Postfix: <code>allow_percent_hack = "
	  "no</code>, and keep <code>allow_untrusted_routing = no</code> (the "
	  "default). sendmail: remove <code>FEATURE(`loose_relay_check')"
	  "</code>. Exim: leave <code>percent_hack_domains</code> empty. "
	  "sluiced: <code>allow_percent_hack = false</code> (the default)." },
	{ "bang-path", "UUCP bang paths (elsewhere!user@your.domain)",
	  "Postfix: <code>swap_bangpath = no</code>, and keep "
	  "<code>allow_untrusted_routing = no</code>. sendmail: "
	  "<code>FEATURE(`nouucp', `reject')</code>. Exim: keep the default "
	  "ACL's <code>deny local_parts = ^.*[@%!/|]</code>. sluiced: "
	  "<code>allow_bang_path = false</code> (the default)." },
	{ "source-route", "Source routes (@your.host:user@elsewhere)",
	  "A source route is to be ignored and the final address checked "
	  "(RFC 5321 4.1.1.3, appendix C): here that is "
	  "<code>user@elsewhere</code>, to be refused. Postfix, Exim and "
	  "sluiced ignore routes; sendmail: leave <code>DontPruneRoutes</code> "
	  "off." },
	{ "quoted-local", "Quoted local parts (\"user@elsewhere\"@your.domain)",
	  "Postfix: keep <code>resolve_dequoted_address = yes</code> (the "
	  "default). sendmail: remove <code>FEATURE(`loose_relay_check')"
	  "</code>. Exim: keep the default ACL's <code>deny local_parts = "
	  "^.*[@%!/|]</code>. sluiced: <code>allow_quoted_at = false</code> "
	  "(the default)." },
	{ "double-at", "Two @ signs (user@elsewhere@your.domain)",
	  "Such an address is not valid (RFC 5321 4.1.2): refuse it rather "
	  "than rewrite it. Postfix: <code>strict_rfc821_envelopes = yes"
	  "</code>. Exim: the default ACL's local part checks. sluiced "
	  "refuses it." },
	{ "ip-literal", "Address literals (user@[192.0.2.1])",
	  "Take <code>user@[address]</code> as local only for the server's "
	  "own addresses, and relay to none. Exim: <code>"
	  "allow_domain_literals = false</code> (the default). Postfix: a "
	  "literal is local only for <code>inet_interfaces</code> and "
	  "<code>proxy_interfaces</code>: check <code>relay_domains</code> "
	  "and <code>mynetworks</code>. sluiced: <code>accept_literals</code> "
	  "only with <code>local_addresses</code> listing your own." },
	{ "forged-sender null-sender", "A forged or empty sender",
	  "It relayed because of the envelope sender (your own domain, "
	  "postmaster, localhost, or the null sender &lt;&gt;), which anyone "
	  "can write. Postfix: remove <code>check_sender_access</code> maps "
	  "that answer OK, and every permit on the sender, from <code>"
	  "smtpd_relay_restrictions</code>. sendmail: remove <code>"
	  "FEATURE(`relay_local_from')</code> and <code>"
	  "FEATURE(`relay_mail_from')</code>. Exim: never relay on <code>"
	  "senders =</code>. sluiced never relays on the sender." },
	{ "helo-spoof", "A spoofed HELO name",
	  "It trusted the name given in HELO/EHLO (its own, localhost, its "
	  "address). Postfix: remove <code>check_helo_access</code> maps "
	  "that answer OK, and every permit on the HELO name, from <code>"
	  "smtpd_relay_restrictions</code>. Exim: never relay on <code>"
	  "$sender_helo_name</code>. sluiced never relays on HELO." },
	{ "unqualified", "Addresses with no domain (partly open)",
	  "It accepted recipients with no domain that name another "
	  "destination (<code>elsewhere!user</code>, <code>"
	  "\"user%elsewhere\"</code>, <code>\"user@elsewhere\"</code>): "
	  "whether they are relayed is up to its local delivery, so refuse "
	  "them at RCPT. Postfix: <code>reject_non_fqdn_recipient</code> in "
	  "<code>smtpd_recipient_restrictions</code>. Exim: leave <code>"
	  "recipient_unqualified_hosts</code> unset. sluiced refuses them." },
};

/* has_word - is w one of the space-separated words of list? */
static int
has_word(const char *list, const char *w)
{
	size_t n = strlen(w);
	const char *p;

	for (p = list; (p = strstr(p, w)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' ||
		    p[n] == '\0'))
			return 1;
	return 0;
}

/*
 * advice - what to do about a server that relays or may: first for each
 * trick that worked on some host, then in general. Nothing if no relay
 * attempt was accepted.
 */
static void
advice(struct buf *b, const struct jval *hosts)
{
	const struct jval *h, *t;
	char worked[512] = "";
	size_t i;

	for (h = hosts ? hosts->kids : NULL; h; h = h->next)
		for (t = jsonp_get(h, "tests") ? jsonp_get(h,
		    "tests")->kids : NULL; t; t = t->next) {
			const char *v = jsonp_str(t, "verdict"),
			    *trick = jsonp_str(t, "trick");

			if (strcmp(jsonp_str(t, "kind"), "relay") != 0 ||
			    (strcmp(v, "open") != 0 &&
			    strcmp(v, "accepted") != 0 &&
			    strcmp(v, "ambiguous-local") != 0))
				continue;
			if (strcmp(v, "ambiguous-local") == 0)
				trick = "unqualified";
			if (*trick && !has_word(worked, trick)) {
				size_t n = strlen(worked);

				snprintf(worked + n, sizeof(worked) - n, " %s",
				    trick);
			}
		}
	if (worked[0] == '\0')
		return;
	buf_puts(b, "<section class=\"advice\"><h2>How to close it</h2>"
	    "<p>These tricks worked here; what to change for each:</p><dl>");
	for (i = 0; i < NV(tips); i++) {
		char list[128];
		const char *w;
		int hit = 0;

		str_copy(list, sizeof(list), tips[i].tricks);
		for (w = strtok(list, " "); w; w = strtok(NULL, " "))
			if (has_word(worked, w))
				hit = 1;
		if (hit)
			buf_printf(b, "<dt>%s</dt><dd>%s</dd>", tips[i].title,
			    tips[i].text);
	}
	buf_puts(b, "</dl><h3>In any case</h3><ul>"
	    "<li>Relay only for clients that authenticate (SMTP AUTH over "
	    "TLS) and for your own networks, listed as narrowly as possible: "
	    "never 0.0.0.0/0 or a whole private block.</li>"
	    "<li>Accept other mail only for your own domains (and those you "
	    "are a backup MX for).</li>"
	    "<li>Refuse percent hacks, bang paths and quoted addresses in "
	    "local parts, and remember that a sender in your own domain "
	    "proves nothing.</li>"
	    "<li>Postfix: <code>smtpd_relay_restrictions = "
	    "permit_mynetworks, permit_sasl_authenticated, "
	    "reject_unauth_destination</code> with a tight "
	    "<code>mynetworks</code>. Exchange: remove anonymous relay from "
	    "receive connectors. sluiced: the defaults are closed.</li>"
	    "<li>Then check what was already queued and purge it, and test "
	    "again.</li></ul></section>");
}

/* reused - the note on a host whose result is another report's */
static void
reused(struct buf *b, const struct jval *h)
{
	time_t t = (time_t)jsonp_num(h, "reused_time");
	char when[64];
	struct buf href;
	struct tm tm;
	struct tvar v[] = { { "id", jsonp_str(h, "reused_from"), 32 },
	    { "href", NULL, 0 }, { "when", when, 0 } };

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	buf_init(&href, 256);
	buf_puts(&href, "/r/");
	html_attr_url(&href, jsonp_str(h, "reused_from"));
	v[1].value = buf_cstr(&href);
	html_render(b, "<p class=\"reused\">This address was not tested again: "
	    "report <a href=\"{{{href}}}\">{{id}}</a> tested it (same port "
	    "and mode) at {{when}}, within this service's cache period, and "
	    "its result is shown.</p>", v, NV(v));
	buf_release(&href);
}

/* host_section - one tested host: facts, tests, transcript */
static void
host_section(struct buf *b, const struct jval *h)
{
	const struct jval *tests = jsonp_get(h, "tests"), *t;
	char secs[32], tcount[64];
	size_t n = 0, done = 0;
	struct tvar v[] = {
		{ "host", jsonp_str(h, "host"), 255 },
		{ "address", jsonp_str(h, "address"), 64 },
		{ "verdict", jsonp_str(h, "verdict"), 32 },
		{ "summary", jsonp_str(h, "summary"), 600 },
		{ "ptr", jsonp_str(h, "ptr"), 255 },
		{ "banner", jsonp_str(h, "banner"), 600 },
		{ "ehlo", jsonp_str(h, "ehlo"), 2000 },
		{ "starttls", jsonp_num(h, "starttls_offered") ? "offered" :
		    "not offered", 0 },
		{ "tls", jsonp_str(h, "tls")[0] ? jsonp_str(h, "tls") :
		    "not used", 400 },
		{ "seconds", secs, 0 },
		{ "count", tcount, 0 },
		{ "note", jsonp_str(h, "note"), 300 },
	};

	for (t = tests ? tests->kids : NULL; t; t = t->next) {
		n++;
		if (strcmp(jsonp_str(t, "verdict"), "pending") != 0)
			done++;
	}
	snprintf(secs, sizeof(secs), "%.1f s", jsonp_num(h, "seconds"));
	snprintf(tcount, sizeof(tcount), "%zu of %zu tests done", done, n);
	html_render(b, "<section class=\"host\"><h2>{{host}} <small>"
	    "{{address}}</small> <span class=\"v v-{{verdict}}\">{{verdict}}"
	    "</span></h2><p class=\"summary\">{{summary}}</p>"
	    "<p class=\"note\">{{note}}</p>"
	    "<table class=\"facts\"><tr><th>Address</th><td>{{address}}</td>"
	    "</tr><tr><th>Reverse DNS</th><td>{{ptr}}</td></tr>"
	    "<tr><th>Banner</th><td><code>{{banner}}</code></td></tr>"
	    "<tr><th>EHLO</th><td><pre>{{ehlo}}</pre></td></tr>"
	    "<tr><th>STARTTLS</th><td>{{starttls}}</td></tr>"
	    "<tr><th>TLS</th><td>{{tls}}</td></tr>"
	    "<tr><th>Progress</th><td>{{count}}, {{seconds}}</td></tr>"
	    "</table>", v, NV(v));
	if (*jsonp_str(h, "reused_from"))
		reused(b, h);
	buf_puts(b, "<table class=\"tests\"><thead><tr><th>Test</th><th>Trick"
	    "</th><th>MAIL FROM / RCPT TO</th><th>Replies</th><th>Time</th>"
	    "<th>Verdict</th></tr></thead><tbody>");
	for (t = tests ? tests->kids : NULL; t; t = t->next) {
		char rtt[32];
		struct tvar tv[] = {
			{ "id", jsonp_str(t, "id"), 64 },
			{ "desc", jsonp_str(t, "description"), 200 },
			{ "trick", jsonp_str(t, "trick"), 32 },
			{ "from", jsonp_str(t, "mail_from"), 300 },
			{ "to", jsonp_str(t, "rcpt_to"), 300 },
			{ "mail", jsonp_str(t, "mail_reply"), 300 },
			{ "rcpt", jsonp_str(t, "rcpt_reply"), 300 },
			{ "data", jsonp_str(t, "data_reply"), 300 },
			{ "rtt", rtt, 0 },
			{ "verdict", jsonp_str(t, "verdict"), 32 },
			{ "note", jsonp_str(t, "note"), 200 },
		};

		snprintf(rtt, sizeof(rtt), "%.0f ms",
		    jsonp_num(t, "rcpt_seconds") * 1000);
		html_render(b, "<tr><td><b>{{id}}</b><br><small>{{desc}}"
		    "</small></td><td>{{trick}}</td><td><code>&lt;{{from}}&gt;"
		    "</code><br><code>&lt;{{to}}&gt;</code></td><td><code>"
		    "{{mail}}</code><br><code>{{rcpt}}</code><br><code>{{data}}"
		    "</code></td><td>{{rtt}}</td><td><span class=\"v "
		    "v-{{verdict}}\">{{verdict}}</span><br><small>{{note}}"
		    "</small></td></tr>", tv, NV(tv));
	}
	buf_puts(b, "</tbody></table>");
	{
		struct tvar tr[] = { { "transcript", jsonp_str(h, "transcript"),
		    262144 } };

		html_render(b, "<details><summary>Session transcript</summary>"
		    "<pre class=\"transcript\">{{transcript}}</pre></details>"
		    "</section>", tr, 1);
	}
}

/*
 * page_report - a report from its JSON: state, verdict, then each host.
 * The block carries data-state so the script knows when to stop polling.
 */
void
page_report(struct buf *b, const struct jval *job)
{
	const struct jval *hosts = jsonp_get(job, "hosts"), *h;
	const char *status = jsonp_str(job, "status"),
	    *verdict = jsonp_str(job, "verdict");
	char when[64], pos[64], hist[300];
	time_t t = (time_t)jsonp_num(job, "created");
	struct buf href;
	struct tm tm;
	struct tvar v[] = {
		{ "id", jsonp_str(job, "id"), 32 },
		{ "status", status, 16 },
		{ "target", jsonp_str(job, "target"), 255 },
		{ "port", NULL, 0 },
		{ "mode", jsonp_str(job, "mode"), 16 },
		{ "when", when, 0 },
		{ "verdict", verdict[0] ? verdict : status, 32 },
		{ "summary", jsonp_str(job, "summary"), 2000 },
		{ "pos", pos, 0 },
		{ "error", jsonp_str(job, "error"), 400 },
		{ "hist", NULL, 0 },
	};
	char port[16];

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(port, sizeof(port), "%.0f", jsonp_num(job, "port"));
	v[3].value = port;
	pos[0] = '\0';
	if (strcmp(status, "queued") == 0)
		snprintf(pos, sizeof(pos), "Waiting for a free tester: place "
		    "%.0f in the queue.", jsonp_num(job, "queue_position"));
	buf_init(&href, 512);
	buf_puts(&href, "/history?target=");
	html_attr_url(&href, jsonp_str(job, "target"));
	str_copy(hist, sizeof(hist), buf_cstr(&href));
	v[10].value = hist;
	html_render(b, "<div id=\"report\" data-state=\"{{status}}\" "
	    "data-id=\"{{id}}\"><h1>{{target}} <small>port {{port}}, {{mode}}"
	    "</small></h1><p class=\"meta\">Report {{id}}, {{when}}. "
	    "<a href=\"/api/tests/{{id}}\">JSON</a> &middot; <a "
	    "href=\"{{{hist}}}\">history of this target</a></p>"
	    "<p class=\"progress\">{{pos}}</p><p class=\"error\">{{error}}</p>"
	    "<div class=\"verdict v-{{verdict}}\"><span class=\"v "
	    "v-{{verdict}}\">{{verdict}}</span> {{summary}}</div>", v, NV(v));
	buf_release(&href);
	advice(b, hosts);
	for (h = hosts ? hosts->kids : NULL; h; h = h->next)
		host_section(b, h);
	buf_puts(b, "</div>");
}

/* The stylesheet: plain, readable, no external fonts. */
const char style_css[] =
"body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;"
"background:#fafafa}\n"
"header{display:flex;justify-content:space-between;align-items:center;"
"padding:.6em 1.2em;background:#12355b;color:#fff}\n"
"header a{color:#fff;text-decoration:none}.brand{font-weight:700}\n"
"main{max-width:1100px;margin:0 auto;padding:1em 1.2em}\n"
"footer{max-width:1100px;margin:2em auto;padding:0 1.2em;color:#666;"
"font-size:13px}\n"
"form.test{display:grid;gap:.7em;max-width:560px}form.inline{display:"
"inline}\n"
"input,select,button{font:inherit;padding:.35em .5em}button{cursor:"
"pointer}\n"
"fieldset{border:1px solid #ccc}label.off{color:#888}\n"
".error{color:#a10000}.error:empty,.note:empty,.progress:empty{display:"
"none}\n"
".verdict{padding:.8em 1em;border-left:6px solid #888;background:#fff;"
"margin:1em 0}\n"
".v{display:inline-block;padding:0 .45em;border-radius:3px;background:"
"#ddd;font-weight:600}\n"
".v-open,.v-accepted{background:#c62828;color:#fff}"
".verdict.v-open,.verdict.v-accepted{border-color:#c62828}\n"
".v-closed{background:#2e7d32;color:#fff}.verdict.v-closed{border-color:"
"#2e7d32}\n"
".v-closed-temp,.v-auth-required{background:#558b2f;color:#fff}\n"
".v-tempfail,.v-timeout,.v-ambiguous-local,.v-refuses-all{background:"
"#f9a825}\n"
".v-error{background:#6d4c41;color:#fff}.v-pending,.v-queued,.v-running"
"{background:#90a4ae;color:#fff}\n"
"table{border-collapse:collapse;width:100%;margin:.8em 0;background:#fff}"
"\n"
"td,th{border:1px solid #ddd;padding:.3em .5em;vertical-align:top;"
"text-align:left}\n"
"table.facts th{width:10em}code,pre{font:13px ui-monospace,monospace;"
"white-space:pre-wrap;word-break:break-all}\n"
"pre.transcript{background:#111;color:#e0e0e0;padding:1em;max-height:"
"40em;overflow:auto}\n"
".advice{background:#fff3e0;padding:.5em 1em;border-left:6px solid "
"#ef6c00}\n"
".advice dt{font-weight:600;margin-top:.6em}.advice dd{margin-left:1.2em}\n"
"small{color:#666}.meta{color:#555}\n";

/*
 * The script: while a report runs, fetch its fragment every second and
 * replace it; no inline script anywhere (the CSP forbids it).
 */
const char app_js[] =
"'use strict';\n"
"(function(){\n"
"  function poll(){\n"
"    var r=document.getElementById('report');\n"
"    if(!r)return;\n"
"    var s=r.getAttribute('data-state');\n"
"    if(s!=='queued'&&s!=='running')return;\n"
"    fetch('/r/'+encodeURIComponent(r.getAttribute('data-id'))+"
"'?fragment=1',{credentials:'same-origin'})\n"
"      .then(function(x){return x.ok?x.text():null;})\n"
"      .then(function(t){\n"
"        if(t!==null){var d=document.createElement('div');"
"d.innerHTML=t;var n=d.firstElementChild;\n"
"          if(n&&n.id==='report'){r.replaceWith(n);}}\n"
"        setTimeout(poll,1000);\n"
"      }).catch(function(){setTimeout(poll,2000);});\n"
"  }\n"
"  document.addEventListener('DOMContentLoaded',function(){"
"setTimeout(poll,1000);});\n"
"})();\n";
