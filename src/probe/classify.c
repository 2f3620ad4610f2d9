#include <ctype.h>
#include <string.h>

#include "probe/classify.h"

/* pv_name - the verdict's name, as printed and in JSON */
const char *
pv_name(enum pv v)
{
	switch (v) {
	case PV_PENDING: return "pending";
	case PV_OPEN: return "open";
	case PV_ACCEPTED: return "accepted";
	case PV_AMBIGUOUS_LOCAL: return "ambiguous-local";
	case PV_CLOSED: return "closed";
	case PV_CLOSED_TEMP: return "closed-temp";
	case PV_AUTH_REQUIRED: return "auth-required";
	case PV_TEMPFAIL: return "tempfail";
	case PV_TIMEOUT: return "timeout";
	case PV_ERROR: return "error";
	case PV_REFUSES_ALL: return "refuses-all";
	case PV_SKIPPED: return "skipped";
	}
	return "?";
}

/* pv_is_hit - does this verdict mean the server may relay for strangers? */
int
pv_is_hit(enum pv v)
{
	return v == PV_OPEN || v == PV_ACCEPTED;
}

/* has_word - case-insensitive substring search for any of words */
static int
has_word(const char *text, const char *const *words)
{
	char low[1024];
	size_t i;

	if (text == NULL)
		return 0;
	for (i = 0; text[i] && i < sizeof(low) - 1; i++)
		low[i] = (char)tolower((unsigned char)text[i]);
	low[i] = '\0';
	for (; *words; words++)
		if (strstr(low, *words) != NULL)
			return 1;
	return 0;
}

/*
 * classify_refusal - what a non-2xx reply to MAIL, RCPT or DATA says.
 * 530 or an "authenticate" text means auth-required; a 4xx is greylisting
 * or trouble (tempfail) unless its text refuses relaying (closed-temp);
 * any other 5xx is closed.
 */
enum pv
classify_refusal(int code, const char *enh, const char *text)
{
	static const char *const auth[] = { "authenticat", "auth required",
	    "must auth", "auth first", "login first", "not authenticated",
	    NULL };
	static const char *const grey[] = { "greylist", "graylist",
	    "grey list", "gray list", "try again", "try later", "retry",
	    "postpone", "defer", "temporar", NULL };
	static const char *const relay[] = { "relay", "not permitted",
	    "not allowed", "denied", "unauthori", "not local", "access",
	    "prohibited", "refused", NULL };

	if (code == 530 || code == 535 || (enh && (strcmp(enh, "5.7.0") == 0 ||
	    strcmp(enh, "4.7.0") == 0 || strcmp(enh, "5.7.57") == 0) &&
	    has_word(text, auth)) || has_word(text, auth))
		return PV_AUTH_REQUIRED;
	if (code >= 400 && code < 500) {
		if (has_word(text, grey))
			return PV_TEMPFAIL;
		if (has_word(text, relay) || (enh && strcmp(enh, "4.7.1") == 0))
			return PV_CLOSED_TEMP;
		return PV_TEMPFAIL;
	}
	return PV_CLOSED;
}

/*
 * classify_test - one test's verdict. Codes are 0 when the step was not
 * reached. The caller handles timeouts and connection errors itself.
 */
enum pv
classify_test(int is_control, int localform, int delivery, int mail_code,
    const char *mail_enh, const char *mail_text, int rcpt_code,
    const char *rcpt_enh, const char *rcpt_text, int data_code,
    const char *data_enh, const char *data_text, enum ptoken token)
{
	enum pv accepted = localform ? PV_AMBIGUOUS_LOCAL : PV_ACCEPTED;

	if (mail_code / 100 != 2)
		return classify_refusal(mail_code, mail_enh, mail_text);
	if (rcpt_code / 100 != 2)
		return classify_refusal(rcpt_code, rcpt_enh, rcpt_text);
	if (is_control)
		return PV_ACCEPTED;	/* a control passed */
	if (!delivery)
		return accepted;
	if (token == TOKEN_RELAYED)
		return PV_OPEN;		/* whatever the DATA reply said */
	if (data_code != 0 && data_code / 100 != 2)
		return classify_refusal(data_code, data_enh, data_text);
	return accepted;	/* accepted; bounced or nothing arrived */
}

/* worst - the most telling of the inconclusive verdicts present */
static enum pv
inconclusive(const enum pv *v, size_t n)
{
	static const enum pv order[] = { PV_TEMPFAIL, PV_TIMEOUT, PV_ERROR };
	size_t i, k;

	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (i = 0; i < n; i++)
			if (v[i] == order[k])
				return order[k];
	return PV_PENDING;
}

/* count - how many of v are x */
static size_t
count(const enum pv *v, size_t n, enum pv x)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += v[i] == x;
	return c;
}

/*
 * classify_target - the target's verdict from its relay tests and its
 * positive controls (SKIPPED ones ignored). greeted: the server sent a
 * 220 greeting at least once.
 */
enum pv
classify_target(const enum pv *relay, size_t nrelay, const enum pv *controls,
    size_t ncontrols, int greeted)
{
	size_t i, nctl = 0, ctl_ok = 0;
	enum pv worst_ctl = PV_PENDING, inc;

	if (count(relay, nrelay, PV_OPEN))
		return PV_OPEN;
	if (count(relay, nrelay, PV_ACCEPTED))
		return PV_ACCEPTED;
	if (!greeted) {
		inc = inconclusive(relay, nrelay);
		return inc == PV_TIMEOUT ? PV_TIMEOUT : PV_ERROR;
	}
	for (i = 0; i < ncontrols; i++) {
		if (controls[i] == PV_SKIPPED || controls[i] == PV_PENDING)
			continue;
		nctl++;
		if (controls[i] == PV_ACCEPTED ||
		    controls[i] == PV_AMBIGUOUS_LOCAL || controls[i] == PV_OPEN)
			ctl_ok++;
		else if (worst_ctl == PV_PENDING)
			worst_ctl = controls[i];
	}
	if (count(relay, nrelay, PV_AMBIGUOUS_LOCAL))
		return PV_AMBIGUOUS_LOCAL;
	if (nctl > 0 && ctl_ok == 0) {
		/* it refused even what it must accept */
		if (worst_ctl == PV_CLOSED || worst_ctl == PV_CLOSED_TEMP)
			return PV_REFUSES_ALL;
		return worst_ctl;
	}
	if (nrelay > 0 && count(relay, nrelay, PV_AUTH_REQUIRED) == nrelay)
		return PV_AUTH_REQUIRED;
	inc = inconclusive(relay, nrelay);
	if (inc != PV_PENDING)
		return inc;
	if (count(relay, nrelay, PV_CLOSED_TEMP))
		return PV_CLOSED_TEMP;
	return PV_CLOSED;
}
