/*
 * auth - the server side of SMTP AUTH (RFC 4954): PLAIN (RFC 4616) and
 * LOGIN, offered and accepted only over TLS. Pure: it parses and decodes,
 * the host checks the credentials (smtp_host.auth_check) and answers with
 * smtp_session_auth_done(). Passwords are never logged or kept.
 */
#include <stdio.h>
#include <string.h>

#include "smtp/limits.h"
#include "smtp/reply.h"
#include "smtp/session_int.h"
#include "util/base64.h"
#include "util/log.h"
#include "util/str.h"

#define MECH_PLAIN	1
#define MECH_LOGIN	2
/* The longest user name and password we accept. */
#define CRED_MAX	255

/* decode - strict base64 of a client response; -1 on bad data */
static int
decode(const char *in, size_t n, char *out, size_t outsize, size_t *outlen)
{
	if (n == 1 && in[0] == '=') {	/* RFC 4954: "=" is empty */
		*outlen = 0;
		return 0;
	}
	return base64_decode(in, n, (unsigned char *)out, outsize, outlen);
}

/* back - end the exchange and return to READY */
static void
back(struct smtp_session *s)
{
	s->auth_mech = 0;
	explicit_bzero(s->login_user, sizeof(s->login_user));
	session_set_state(s, ST_READY);
}

/* check - hand the credentials to the host */
static void
check(struct smtp_session *s, const char *user, const char *pass)
{
	if (*user == '\0' || strlen(user) > CRED_MAX ||
	    strlen(pass) > CRED_MAX) {
		reply_add(&s->out, 535, "5.7.8", "Authentication credentials "
		    "invalid");
		back(s);
		session_error(s);
		return;
	}
	str_copy(s->login_user, sizeof(s->login_user), user);
	session_set_state(s, ST_AUTHWAIT);
	s->host->auth_check(s->ctx, user, pass);
}

/* plain - "authzid NUL authcid NUL passwd" */
static void
plain(struct smtp_session *s, const char *resp, size_t n)
{
	char buf[3 * CRED_MAX + 8], *user, *pass;
	size_t len, z1, z2;

	if (decode(resp, n, buf, sizeof(buf) - 1, &len) == -1) {
		reply_add(&s->out, 501, "5.5.2", "Invalid base64 data in "
		    "authentication response");
		back(s);
		session_error(s);
		return;
	}
	buf[len] = '\0';
	z1 = strnlen(buf, len);
	z2 = z1 < len ? strnlen(buf + z1 + 1, len - z1 - 1) + z1 + 1 : len;
	if (z1 >= len || z2 >= len || memchr(buf + z2 + 1, '\0',
	    len - z2 - 1) != NULL) {
		reply_add(&s->out, 501, "5.5.2", "Malformed PLAIN "
		    "authentication response");
		explicit_bzero(buf, sizeof(buf));
		back(s);
		session_error(s);
		return;
	}
	user = buf + z1 + 1;
	pass = buf + z2 + 1;
	if (z1 > 0 && strcmp(buf, user) != 0) {
		/* acting as another user (authzid) is not supported */
		reply_add(&s->out, 535, "5.7.8", "Authentication credentials "
		    "invalid");
		explicit_bzero(buf, sizeof(buf));
		back(s);
		session_error(s);
		return;
	}
	check(s, user, pass);
	explicit_bzero(buf, sizeof(buf));
}

/*
 * auth_start - "AUTH mech [initial-response]". The caller checked the
 * state; here: TLS, the mechanism, and the first step.
 */
void
auth_start(struct smtp_session *s, const char *arg, size_t len)
{
	size_t m = 0;
	const char *resp;
	size_t rlen;

	while (m < len && arg[m] != ' ')
		m++;
	resp = m < len ? arg + m + 1 : NULL;
	rlen = resp ? len - m - 1 : 0;
	if (m == 0) {
		reply_add(&s->out, 501, "5.5.4", "Syntax: AUTH mechanism "
		    "[initial-response]");
		session_error(s);
		return;
	}
	if (str_ieqn(arg, m, "PLAIN"))
		s->auth_mech = MECH_PLAIN;
	else if (str_ieqn(arg, m, "LOGIN"))
		s->auth_mech = MECH_LOGIN;
	else {
		reply_add(&s->out, 504, "5.5.4", "Unrecognized authentication "
		    "type");
		session_error(s);
		return;
	}
	session_set_state(s, ST_AUTH);
	if (s->auth_mech == MECH_PLAIN) {
		if (resp) {
			plain(s, resp, rlen);
			return;
		}
		reply_add(&s->out, 334, NULL, " ");
		return;
	}
	s->login_user[0] = '\0';
	if (resp) {
		auth_line(s, resp, rlen, 0);
		return;
	}
	reply_add(&s->out, 334, NULL, "VXNlcm5hbWU6");	/* "Username:" */
}

/* auth_line - a response line while in ST_AUTH */
void
auth_line(struct smtp_session *s, const char *line, size_t len,
    unsigned flags)
{
	char buf[CRED_MAX + 8];
	size_t n;

	if (flags & LINE_TOOLONG) {
		reply_add(&s->out, 500, "5.5.6", "Authentication exchange "
		    "line is too long");
		back(s);
		session_error(s);
		return;
	}
	if (len == 1 && line[0] == '*') {
		reply_add(&s->out, 501, "5.7.0", "Authentication cancelled");
		back(s);
		return;
	}
	if (s->auth_mech == MECH_PLAIN) {
		plain(s, line, len);
		return;
	}
	if (decode(line, len, buf, sizeof(buf) - 1, &n) == -1 ||
	    memchr(buf, '\0', n) != NULL) {
		reply_add(&s->out, 501, "5.5.2", "Invalid base64 data in "
		    "authentication response");
		explicit_bzero(buf, sizeof(buf));
		back(s);
		session_error(s);
		return;
	}
	buf[n] = '\0';
	if (s->login_user[0] == '\0') {
		if (n == 0) {
			reply_add(&s->out, 501, "5.5.2", "Empty user name");
			back(s);
			session_error(s);
			return;
		}
		if (n > CRED_MAX) {
			/* never cut a name short: that is another user */
			reply_add(&s->out, 535, "5.7.8", "Authentication "
			    "credentials invalid");
			back(s);
			session_error(s);
			return;
		}
		str_copy(s->login_user, sizeof(s->login_user), buf);
		reply_add(&s->out, 334, NULL, "UGFzc3dvcmQ6");	/* Password: */
		return;
	}
	{
		char user[sizeof(s->login_user)];

		str_copy(user, sizeof(user), s->login_user);
		check(s, user, buf);
	}
	explicit_bzero(buf, sizeof(buf));
}

/*
 * smtp_session_auth_done - the host's verdict on the credentials.
 * AUTH_BLOCKED: too many failures from this client: 454 and close.
 */
void
smtp_session_auth_done(struct smtp_session *s, int result, const char *why)
{
	char q[LOG_QUOTE_MAX];

	if (s->state != ST_AUTHWAIT)
		return;
	log_quotes(q, sizeof(q), s->login_user);
	switch (result) {
	case AUTH_OK:
		str_copy(s->user, sizeof(s->user), s->login_user);
		s->client.auth_user = s->user;
		log_info("session=%s event=auth-success client=%s user=%s "
		    "mech=%s", s->id, s->client.ipstr, q,
		    s->auth_mech == MECH_PLAIN ? "PLAIN" : "LOGIN");
		reply_add(&s->out, 235, "2.7.0", "Authentication successful");
		session_note(s, SN_AUTH_OK, s->user, 0);
		back(s);
		return;
	case AUTH_FAIL:
		log_info("session=%s event=auth-failure client=%s user=%s "
		    "mech=%s", s->id, s->client.ipstr, q,
		    s->auth_mech == MECH_PLAIN ? "PLAIN" : "LOGIN");
		s->logged = 1;
		reply_add(&s->out, 535, "5.7.8", "Authentication credentials "
		    "invalid");
		session_note(s, SN_AUTH_FAIL, s->login_user, 0);
		back(s);
		session_error(s);
		return;
	case AUTH_BLOCKED:
		log_info("session=%s event=auth-blocked client=%s user=%s "
		    "reason=%s", s->id, s->client.ipstr, q, why ? why :
		    "too-many-failures");
		s->logged = 1;
		reply_add(&s->out, 454, "4.7.0", "Too many authentication "
		    "failures; try again later");
		back(s);
		session_drop_tx(s);
		session_set_state(s, ST_CLOSING);
		return;
	default:
		log_warn("session=%s event=auth-tempfail client=%s user=%s "
		    "reason=\"%s\"", s->id, s->client.ipstr, q, why ? why : "");
		s->logged = 1;
		reply_add(&s->out, 454, "4.7.0", "Temporary authentication "
		    "failure");
		back(s);
		return;
	}
}
