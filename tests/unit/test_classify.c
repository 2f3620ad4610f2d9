/*
 * test_classify - verdicts of relay tests and targets (probe/classify):
 * every verdict, 4xx never "closed", one 530 never hiding earlier hits.
 */
#include "unit.h"

#include "probe/classify.h"

/* names - every verdict has its printed name; hits are open and accepted */
static void
names(void **state)
{
	static const struct {
		enum pv v;
		const char *name;
		int hit;
	} cases[] = {
		{ PV_PENDING, "pending", 0 }, { PV_OPEN, "open", 1 },
		{ PV_ACCEPTED, "accepted", 1 },
		{ PV_AMBIGUOUS_LOCAL, "ambiguous-local", 0 },
		{ PV_CLOSED, "closed", 0 }, { PV_CLOSED_TEMP, "closed-temp", 0 },
		{ PV_AUTH_REQUIRED, "auth-required", 0 },
		{ PV_TEMPFAIL, "tempfail", 0 }, { PV_TIMEOUT, "timeout", 0 },
		{ PV_ERROR, "error", 0 }, { PV_REFUSES_ALL, "refuses-all", 0 },
		{ PV_SKIPPED, "skipped", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		CHECK_STR(cases[i].name, pv_name(cases[i].v), cases[i].name);
		CHECK_INT(cases[i].name, pv_is_hit(cases[i].v), cases[i].hit);
	}
	UNIT_DONE();
}

/* refusals - what a non-2xx reply says */
static void
refusals(void **state)
{
	static const struct {
		int code;
		const char *enh, *text;
		enum pv want;
	} cases[] = {
		{ 550, "5.7.1", "<a@b>: Relay access denied", PV_CLOSED },
		{ 554, "5.7.1", "Relaying denied", PV_CLOSED },
		{ 553, "", "sorry, that domain isn't in my list", PV_CLOSED },
		{ 501, "5.1.3", "Bad recipient address syntax", PV_CLOSED },
		{ 530, "5.7.0", "Authentication required", PV_AUTH_REQUIRED },
		{ 530, "", "", PV_AUTH_REQUIRED },
		{ 535, "5.7.8", "authentication failed", PV_AUTH_REQUIRED },
		{ 550, "5.7.0", "Must authenticate first", PV_AUTH_REQUIRED },
		{ 550, "5.7.57", "Client not authenticated",
		  PV_AUTH_REQUIRED },
		{ 451, "4.7.1", "Greylisted, try again later", PV_TEMPFAIL },
		{ 450, "4.2.0", "Recipient address rejected: Greylisted",
		  PV_TEMPFAIL },
		{ 421, "4.3.2", "Service busy", PV_TEMPFAIL },
		{ 452, "4.5.3", "Too many recipients", PV_TEMPFAIL },
		/* a 4xx relay refusal is closed-temp, never closed */
		{ 454, "4.7.1", "<a@b>: Relay access denied", PV_CLOSED_TEMP },
		{ 450, "", "relaying not permitted", PV_CLOSED_TEMP },
		{ 451, "4.7.1", "policy", PV_CLOSED_TEMP },
		/* but a "try again" wins: that is greylisting */
		{ 450, "4.7.1", "denied for now, try again later",
		  PV_TEMPFAIL },
		{ 454, "4.7.0", "Authentication required", PV_AUTH_REQUIRED },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		CHECK_STR(cases[i].text, pv_name(classify_refusal(
		    cases[i].code, cases[i].enh, cases[i].text)),
		    pv_name(cases[i].want));
	UNIT_DONE();
}

/* tests - one test's verdict from its replies and its token */
static void
tests(void **state)
{
	static const struct {
		const char *name;
		int control, localform, delivery;
		int mail;
		const char *mail_text;
		int rcpt;
		const char *rcpt_enh, *rcpt_text;
		int data;
		const char *data_text;
		enum ptoken token;
		enum pv want;
	} cases[] = {
		{ "MAIL 530", 0, 0, 0, 530, "5.7.0 Authentication required",
		  0, "", "", 0, "", TOKEN_NONE, PV_AUTH_REQUIRED },
		{ "MAIL 501", 0, 0, 0, 501, "Bad sender address syntax", 0, "",
		  "", 0, "", TOKEN_NONE, PV_CLOSED },
		{ "MAIL 451 greylist", 0, 0, 0, 451, "Greylisted", 0, "", "",
		  0, "", TOKEN_NONE, PV_TEMPFAIL },
		{ "RCPT 550", 0, 0, 0, 250, "Ok", 550, "5.7.1",
		  "Relaying denied", 0, "", TOKEN_NONE, PV_CLOSED },
		{ "RCPT 454 relay", 0, 0, 0, 250, "Ok", 454, "4.7.1",
		  "Relay access denied", 0, "", TOKEN_NONE, PV_CLOSED_TEMP },
		{ "RCPT 451 greylist", 0, 0, 0, 250, "Ok", 451, "4.7.1",
		  "Greylisted, try again later", 0, "", TOKEN_NONE,
		  PV_TEMPFAIL },
		{ "RCPT 530", 0, 0, 0, 250, "Ok", 530, "5.7.0",
		  "Authentication required", 0, "", TOKEN_NONE,
		  PV_AUTH_REQUIRED },
		{ "anonymous 250", 0, 0, 0, 250, "Ok", 250, "2.1.5", "Ok", 0,
		  "", TOKEN_NONE, PV_ACCEPTED },
		{ "anonymous 250, local form", 0, 1, 0, 250, "Ok", 250, "2.1.5",
		  "Ok", 0, "", TOKEN_NONE, PV_AMBIGUOUS_LOCAL },
		{ "control accepted", 1, 0, 0, 250, "Ok", 250, "2.1.5", "Ok", 0,
		  "", TOKEN_NONE, PV_ACCEPTED },
		{ "control refused", 1, 0, 0, 250, "Ok", 550, "5.7.1",
		  "Relaying denied", 0, "", TOKEN_NONE, PV_CLOSED },
		{ "control, local form, delivery", 1, 1, 1, 250, "Ok", 250,
		  "2.1.5", "Ok", 0, "", TOKEN_NONE, PV_ACCEPTED },
		{ "delivery: token relayed", 0, 0, 1, 250, "Ok", 250, "2.1.5",
		  "Ok", 250, "queued", TOKEN_RELAYED, PV_OPEN },
		{ "delivery: relayed, DATA refused after", 0, 0, 1, 250, "Ok",
		  250, "2.1.5", "Ok", 554, "rejected", TOKEN_RELAYED, PV_OPEN },
		{ "delivery: relayed, local form", 0, 1, 1, 250, "Ok", 250,
		  "2.1.5", "Ok", 250, "queued", TOKEN_RELAYED, PV_OPEN },
		{ "delivery: bounced", 0, 0, 1, 250, "Ok", 250, "2.1.5", "Ok",
		  250, "queued", TOKEN_BOUNCED, PV_ACCEPTED },
		{ "delivery: bounced, local form", 0, 1, 1, 250, "Ok", 250,
		  "2.1.5", "Ok", 250, "queued", TOKEN_BOUNCED,
		  PV_AMBIGUOUS_LOCAL },
		{ "delivery: nothing came", 0, 0, 1, 250, "Ok", 250, "2.1.5",
		  "Ok", 250, "queued", TOKEN_NONE, PV_ACCEPTED },
		{ "delivery: DATA 554", 0, 0, 1, 250, "Ok", 250, "2.1.5", "Ok",
		  554, "5.7.1 relaying denied", TOKEN_NONE, PV_CLOSED },
		{ "delivery: DATA 451", 0, 0, 1, 250, "Ok", 250, "2.1.5", "Ok",
		  451, "4.3.0 try again later", TOKEN_NONE, PV_TEMPFAIL },
		{ "delivery: DATA 450 relay", 0, 0, 1, 250, "Ok", 250, "2.1.5",
		  "Ok", 450, "relaying denied", TOKEN_NONE, PV_CLOSED_TEMP },
		{ "delivery: RCPT 550, token (cannot be) relayed", 0, 0, 1, 250,
		  "Ok", 550, "5.7.1", "Relaying denied", 0, "", TOKEN_RELAYED,
		  PV_CLOSED },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		CHECK_STR(cases[i].name, pv_name(classify_test(cases[i].control,
		    cases[i].localform, cases[i].delivery, cases[i].mail, "",
		    cases[i].mail_text, cases[i].rcpt, cases[i].rcpt_enh,
		    cases[i].rcpt_text, cases[i].data, "", cases[i].data_text,
		    cases[i].token)), pv_name(cases[i].want));
	UNIT_DONE();
}

#define MAXV	8
#define END	PV_PENDING	/* ends a list (PENDING is never listed) */

/* targets - a target's verdict from its relay tests and controls */
static void
targets(void **state)
{
	static const struct {
		const char *name;
		enum pv relay[MAXV], ctl[MAXV];
		int greeted;
		enum pv want;
	} cases[] = {
		{ "all closed, controls pass",
		  { PV_CLOSED, PV_CLOSED, PV_CLOSED, END },
		  { PV_ACCEPTED, PV_ACCEPTED, PV_SKIPPED, END }, 1, PV_CLOSED },
		{ "one open",
		  { PV_CLOSED, PV_OPEN, PV_CLOSED, END },
		  { PV_ACCEPTED, END }, 1, PV_OPEN },
		{ "open beats accepted",
		  { PV_ACCEPTED, PV_OPEN, END }, { PV_ACCEPTED, END }, 1,
		  PV_OPEN },
		{ "one accepted",
		  { PV_CLOSED, PV_ACCEPTED, END }, { PV_ACCEPTED, END }, 1,
		  PV_ACCEPTED },
		/* a later 530 never hides an earlier hit */
		{ "accepted, then 530 to everything",
		  { PV_ACCEPTED, PV_AUTH_REQUIRED, PV_AUTH_REQUIRED,
		    PV_AUTH_REQUIRED, END },
		  { PV_ACCEPTED, END }, 1, PV_ACCEPTED },
		{ "open, then 530",
		  { PV_OPEN, PV_AUTH_REQUIRED, PV_AUTH_REQUIRED, END },
		  { PV_AUTH_REQUIRED, END }, 1, PV_OPEN },
		{ "accepted, controls refused",
		  { PV_ACCEPTED, PV_CLOSED, END }, { PV_CLOSED, END }, 1,
		  PV_ACCEPTED },
		{ "accepted, then timeouts",
		  { PV_ACCEPTED, PV_TIMEOUT, PV_TIMEOUT, END },
		  { PV_ACCEPTED, END }, 1, PV_ACCEPTED },
		{ "all 530", { PV_AUTH_REQUIRED, PV_AUTH_REQUIRED, END },
		  { PV_AUTH_REQUIRED, PV_AUTH_REQUIRED, END }, 1,
		  PV_AUTH_REQUIRED },
		{ "all 530, controls pass",
		  { PV_AUTH_REQUIRED, PV_AUTH_REQUIRED, END },
		  { PV_ACCEPTED, END }, 1, PV_AUTH_REQUIRED },
		{ "530 and closed", { PV_AUTH_REQUIRED, PV_CLOSED, END },
		  { PV_ACCEPTED, END }, 1, PV_CLOSED },
		{ "local forms accepted",
		  { PV_CLOSED, PV_AMBIGUOUS_LOCAL, PV_CLOSED, END },
		  { PV_ACCEPTED, END }, 1, PV_AMBIGUOUS_LOCAL },
		/* a 4xx is never called closed */
		{ "some closed-temp", { PV_CLOSED, PV_CLOSED_TEMP, END },
		  { PV_ACCEPTED, END }, 1, PV_CLOSED_TEMP },
		{ "all closed-temp", { PV_CLOSED_TEMP, PV_CLOSED_TEMP, END },
		  { PV_ACCEPTED, END }, 1, PV_CLOSED_TEMP },
		{ "greylisted", { PV_CLOSED, PV_TEMPFAIL, END },
		  { PV_ACCEPTED, END }, 1, PV_TEMPFAIL },
		{ "tempfail before closed-temp",
		  { PV_CLOSED_TEMP, PV_TEMPFAIL, END }, { PV_ACCEPTED, END }, 1,
		  PV_TEMPFAIL },
		{ "tempfail before timeout", { PV_TIMEOUT, PV_TEMPFAIL, END },
		  { PV_ACCEPTED, END }, 1, PV_TEMPFAIL },
		{ "timeout before error", { PV_ERROR, PV_TIMEOUT, END },
		  { PV_ACCEPTED, END }, 1, PV_TIMEOUT },
		{ "an error", { PV_CLOSED, PV_ERROR, END }, { PV_ACCEPTED, END },
		  1, PV_ERROR },
		{ "refuses even the controls", { PV_CLOSED, PV_CLOSED, END },
		  { PV_CLOSED, PV_CLOSED, PV_SKIPPED, END }, 1,
		  PV_REFUSES_ALL },
		{ "controls closed-temp", { PV_CLOSED, END },
		  { PV_CLOSED_TEMP, PV_CLOSED_TEMP, END }, 1, PV_REFUSES_ALL },
		{ "controls greylisted", { PV_TEMPFAIL, END },
		  { PV_TEMPFAIL, PV_TEMPFAIL, END }, 1, PV_TEMPFAIL },
		{ "controls time out", { PV_TIMEOUT, END },
		  { PV_TIMEOUT, PV_TIMEOUT, END }, 1, PV_TIMEOUT },
		{ "one control passes", { PV_CLOSED, END },
		  { PV_CLOSED, PV_ACCEPTED, END }, 1, PV_CLOSED },
		{ "controls skipped only", { PV_CLOSED, END },
		  { PV_SKIPPED, END }, 1, PV_CLOSED },
		{ "never greeted, timeouts", { PV_TIMEOUT, PV_TIMEOUT, END },
		  { PV_TIMEOUT, END }, 0, PV_TIMEOUT },
		{ "never greeted, errors", { PV_ERROR, PV_ERROR, END },
		  { PV_ERROR, END }, 0, PV_ERROR },
		{ "no relay tests run", { END }, { PV_ACCEPTED, END }, 1,
		  PV_CLOSED },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		size_t nr = 0, nc = 0;

		while (nr < MAXV && cases[i].relay[nr] != END)
			nr++;
		while (nc < MAXV && cases[i].ctl[nc] != END)
			nc++;
		CHECK_STR(cases[i].name, pv_name(classify_target(cases[i].relay,
		    nr, cases[i].ctl, nc, cases[i].greeted)),
		    pv_name(cases[i].want));
	}
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(names),
		cmocka_unit_test(refusals),
		cmocka_unit_test(tests),
		cmocka_unit_test(targets),
	};

	return cmocka_run_group_tests(t, NULL, NULL);
}
