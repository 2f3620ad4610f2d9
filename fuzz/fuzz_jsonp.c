/*
 * fuzz_jsonp - the JSON reader, src/util/jsonp.c: the bodies web visitors
 * POST to sluice web's API, the probe's JSON reports and control replies.
 *
 * The input is the whole JSON text, given to jsonp_parse as an exact-size
 * heap copy (as web.c does with the request body). The oracle is a strict
 * RFC 8259 reader written here, with jsonp's documented rules: values
 * nested at most JSONP_DEPTH (64) deep, numbers of at most 63 characters,
 * "\uXXXX" outside 1..0x7f decoded as '?', other bytes kept as they are.
 *   - jsonp accepts exactly what the oracle accepts (a raw control byte,
 *     a NUL, a short "\u" escape or "+1" is not JSON);
 *   - the tree holds exactly what the oracle read, in order: every key
 *     and string with its full length (no NUL cuts it short), every
 *     number as strtod reads its text;
 *   - written back with util/json.c and read again, the tree is the same
 *     (bytes >= 0x80 come back as '?': json.c escapes them as \u00XX);
 *   - jsonp_get finds the first member of that name, jsonp_str and
 *     jsonp_num give its value or "" and 0; the API's port check
 *     (web.c post_api) converts only what it has range-checked.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/jsonp.h"

#define DEPTH_MAX	64	/* JSONP_DEPTH */
#define NUM_MAX		63	/* characters in a number */

enum ores { O_OK, O_BAD, O_LIMIT };

/* The oracle's reader: text, position, and the canonical form it writes. */
struct rd {
	const char	*s;
	size_t		 n, i;
	struct buf	*out;
};

static enum ores rd_value(struct rd *r, int depth);

/* canon_tag - one byte of the canonical form */
static void
canon_tag(struct buf *out, char tag)
{
	FZ_CHECK(buf_putc(out, tag) == 0);
}

/* canon_str - a tagged, length-prefixed string; high bytes as '?' if hi */
static void
canon_str(struct buf *out, char tag, const char *s, size_t n, int hi)
{
	uint64_t len = n;
	size_t i;

	canon_tag(out, tag);
	FZ_CHECK(buf_append(out, &len, sizeof(len)) == 0);
	for (i = 0; i < n; i++)
		FZ_CHECK(buf_putc(out, hi && (unsigned char)s[i] >= 0x80 ?
		    '?' : s[i]) == 0);
}

/* canon_num - a tagged number, bit for bit */
static void
canon_num(struct buf *out, double d)
{
	canon_tag(out, 'd');
	FZ_CHECK(buf_append(out, &d, sizeof(d)) == 0);
}

/* rd_ws - skip JSON white space */
static void
rd_ws(struct rd *r)
{
	while (r->i < r->n && (r->s[r->i] == ' ' || r->s[r->i] == '\t' ||
	    r->s[r->i] == '\n' || r->s[r->i] == '\r'))
		r->i++;
}

/* rd_hex - value of a hex digit, or -1 */
static int
rd_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* rd_string - a string at its quote, decoded as jsonp documents */
static enum ores
rd_string(struct rd *r, char tag)
{
	struct buf d;
	enum ores res = O_BAD;
	int k, h;
	unsigned v;

	buf_init(&d, r->n + 1);
	r->i++;
	while (r->i < r->n) {
		unsigned char c = (unsigned char)r->s[r->i++];

		if (c == '"') {
			res = O_OK;
			break;
		}
		if (c < 0x20)
			break;
		if (c == '\\') {
			if (r->i >= r->n)
				break;
			c = (unsigned char)r->s[r->i++];
			if (c == 'u') {
				for (v = 0, k = 0; k < 4; k++) {
					if (r->i >= r->n ||
					    (h = rd_hex(r->s[r->i])) == -1)
						goto out;
					v = v * 16 + (unsigned)h;
					r->i++;
				}
				c = v > 0 && v < 0x80 ? (unsigned char)v : '?';
			} else if (c == 'b')
				c = '\b';
			else if (c == 'f')
				c = '\f';
			else if (c == 'n')
				c = '\n';
			else if (c == 'r')
				c = '\r';
			else if (c == 't')
				c = '\t';
			else if (c != '"' && c != '\\' && c != '/')
				break;
		}
		FZ_CHECK(buf_putc(&d, c) == 0);
	}
out:
	if (res == O_OK)
		canon_str(r->out, tag, d.data ? d.data : "", d.len, 0);
	buf_release(&d);
	return res;
}

/* rd_digits - skip digits; how many */
static size_t
rd_digits(struct rd *r)
{
	size_t k = 0;

	while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9') {
		r->i++;
		k++;
	}
	return k;
}

/* rd_number - RFC 8259 section 6 */
static enum ores
rd_number(struct rd *r)
{
	size_t a = r->i;
	char tmp[NUM_MAX + 1];

	if (r->i < r->n && r->s[r->i] == '-')
		r->i++;
	if (r->i < r->n && r->s[r->i] == '0')
		r->i++;
	else if (rd_digits(r) == 0)
		return O_BAD;
	if (r->i < r->n && r->s[r->i] == '.') {
		r->i++;
		if (rd_digits(r) == 0)
			return O_BAD;
	}
	if (r->i < r->n && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
		r->i++;
		if (r->i < r->n && (r->s[r->i] == '+' || r->s[r->i] == '-'))
			r->i++;
		if (rd_digits(r) == 0)
			return O_BAD;
	}
	if (r->i - a > NUM_MAX)
		return O_LIMIT;
	memcpy(tmp, r->s + a, r->i - a);
	tmp[r->i - a] = '\0';
	canon_num(r->out, strtod(tmp, NULL));
	return O_OK;
}

/* rd_container - an array or an object */
static enum ores
rd_container(struct rd *r, int depth, int obj)
{
	char close = obj ? '}' : ']';
	enum ores res;

	canon_tag(r->out, obj ? '{' : '[');
	r->i++;
	rd_ws(r);
	if (r->i < r->n && r->s[r->i] == close) {
		r->i++;
		canon_tag(r->out, close);
		return O_OK;
	}
	for (;;) {
		rd_ws(r);
		if (obj) {
			if (r->i >= r->n || r->s[r->i] != '"')
				return O_BAD;
			if ((res = rd_string(r, 'k')) != O_OK)
				return res;
			rd_ws(r);
			if (r->i >= r->n || r->s[r->i] != ':')
				return O_BAD;
			r->i++;
		}
		if ((res = rd_value(r, depth + 1)) != O_OK)
			return res;
		rd_ws(r);
		if (r->i < r->n && r->s[r->i] == ',') {
			r->i++;
			continue;
		}
		if (r->i < r->n && r->s[r->i] == close) {
			r->i++;
			canon_tag(r->out, close);
			return O_OK;
		}
		return O_BAD;
	}
}

/* rd_lit - a literal word */
static enum ores
rd_lit(struct rd *r, const char *w, char tag)
{
	size_t k = strlen(w);

	if (r->n - r->i < k || memcmp(r->s + r->i, w, k) != 0)
		return O_BAD;
	r->i += k;
	canon_tag(r->out, tag);
	return O_OK;
}

/* rd_value - any value at depth */
static enum ores
rd_value(struct rd *r, int depth)
{
	rd_ws(r);
	if (r->i >= r->n)
		return O_BAD;
	if (depth > DEPTH_MAX)
		return O_LIMIT;
	switch (r->s[r->i]) {
	case '{':
		return rd_container(r, depth, 1);
	case '[':
		return rd_container(r, depth, 0);
	case '"':
		return rd_string(r, 's');
	case 't':
		return rd_lit(r, "true", 't');
	case 'f':
		return rd_lit(r, "false", 'f');
	case 'n':
		return rd_lit(r, "null", 'n');
	default:
		return rd_number(r);
	}
}

/* oracle - read the text; its canonical form in out when O_OK */
static enum ores
oracle(const char *s, size_t n, struct buf *out)
{
	struct rd r = { s, n, 0, out };
	enum ores res = rd_value(&r, 0);

	rd_ws(&r);
	if (res == O_OK && r.i != r.n)
		res = O_BAD;
	return res;
}

/* canon_tree - the same canonical form, from jsonp's tree */
static void
canon_tree(const struct jval *v, struct buf *out, int hi, int depth)
{
	const struct jval *k;

	FZ_CHECK(depth <= DEPTH_MAX);
	switch (v->type) {
	case J_NULL:
		canon_tag(out, 'n');
		break;
	case J_BOOL:
		FZ_CHECK(v->num == 0 || v->num == 1);
		canon_tag(out, v->num ? 't' : 'f');
		break;
	case J_NUM:
		canon_num(out, v->num);
		break;
	case J_STR:
		FZ_CHECK(v->str != NULL);
		canon_str(out, 's', v->str, strlen(v->str), hi);
		break;
	case J_ARR:
	case J_OBJ:
		canon_tag(out, v->type == J_OBJ ? '{' : '[');
		for (k = v->kids; k != NULL; k = k->next) {
			if (v->type == J_OBJ) {
				FZ_CHECK(k->key != NULL);
				canon_str(out, 'k', k->key, strlen(k->key),
				    hi);
			} else
				FZ_CHECK(k->key == NULL);
			canon_tree(k, out, hi, depth + 1);
		}
		canon_tag(out, v->type == J_OBJ ? '}' : ']');
		break;
	default:
		FZ_CHECK(!"unknown type");
	}
}

/* write_tree - the tree as JSON text, strings escaped by util/json.c */
static void
write_tree(const struct jval *v, struct buf *out)
{
	const struct jval *k;

	switch (v->type) {
	case J_NULL:
		FZ_CHECK(buf_puts(out, "null") == 0);
		break;
	case J_BOOL:
		FZ_CHECK(buf_puts(out, v->num ? "true" : "false") == 0);
		break;
	case J_NUM:
		if (isinf(v->num))
			FZ_CHECK(buf_puts(out, v->num > 0 ? "1e999" :
			    "-1e999") == 0);
		else
			FZ_CHECK(buf_printf(out, "%.17g", v->num) == 0);
		break;
	case J_STR:
		FZ_CHECK(json_str(out, v->str) == 0);
		break;
	default:
		FZ_CHECK(buf_putc(out, v->type == J_OBJ ? '{' : '[') == 0);
		for (k = v->kids; k != NULL; k = k->next) {
			if (k != v->kids)
				FZ_CHECK(buf_putc(out, ',') == 0);
			if (v->type == J_OBJ)
				FZ_CHECK(json_str(out, k->key) == 0 &&
				    buf_putc(out, ':') == 0);
			write_tree(k, out);
		}
		FZ_CHECK(buf_putc(out, v->type == J_OBJ ? '}' : ']') == 0);
	}
}

/* check_lookup - jsonp_get, jsonp_str and jsonp_num on every member */
static void
check_lookup(const struct jval *v)
{
	const struct jval *k, *f;

	if (v->type != J_OBJ) {
		FZ_CHECK(jsonp_get(v, "target") == NULL);
		FZ_CHECK(strcmp(jsonp_str(v, "target"), "") == 0);
		FZ_CHECK(jsonp_num(v, "port") == 0);
	}
	for (k = v->kids; k != NULL; k = k->next) {
		if (v->type == J_OBJ) {
			for (f = v->kids; strcmp(f->key, k->key) != 0;
			    f = f->next)
				;
			FZ_CHECK(jsonp_get(v, k->key) == f);
			if (f->type == J_STR)
				FZ_CHECK(jsonp_str(v, k->key) == f->str);
			else
				FZ_CHECK(strcmp(jsonp_str(v, k->key), "") ==
				    0);
			if (f->type == J_NUM || f->type == J_BOOL)
				FZ_CHECK(memcmp(&(double){ jsonp_num(v,
				    k->key) }, &f->num, sizeof(double)) == 0);
			else
				FZ_CHECK(jsonp_num(v, k->key) == 0);
		}
		check_lookup(k);
	}
}

/* check_api - what post_api reads from a body: target, port, mode */
static void
check_api(const struct jval *v)
{
	const struct jval *pv = jsonp_get(v, "port");
	double pn = jsonp_num(v, "port");
	char target[256];
	unsigned port = 25;

	snprintf(target, sizeof(target), "%s", jsonp_str(v, "target"));
	if (pv != NULL && (pv->type != J_NUM || pn < 1 || pn > 65535 ||
	    pn != (double)(unsigned)pn))
		return;
	if (pv != NULL)
		port = (unsigned)pn;
	FZ_CHECK(port >= 1 && port <= 65535);
	(void)strcmp(jsonp_str(v, "mode"), "delivery");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fz_dup(data, size);
	struct buf want, got, back;
	struct jval *v, *v2;
	enum ores res;

	buf_init(&want, SIZE_MAX);
	buf_init(&got, SIZE_MAX);
	buf_init(&back, SIZE_MAX);
	res = oracle(text, size, &want);
	v = jsonp_parse(text, size);
	if (v == NULL) {
		if (res == O_OK) {
			fprintf(stderr, "valid JSON refused\n");
			abort();
		}
		goto out;
	}
	if (res != O_OK) {
		fprintf(stderr, "%s accepted\n", res == O_BAD ?
		    "invalid JSON" : "JSON over the limits");
		abort();
	}
	canon_tree(v, &got, 0, 0);
	FZ_CHECK(got.len == want.len &&
	    memcmp(got.data, want.data, got.len) == 0);
	check_lookup(v);
	check_api(v);

	/* write it back and read it again */
	write_tree(v, &back);
	v2 = jsonp_parse(back.data, back.len);
	FZ_CHECK(v2 != NULL);
	buf_reset(&want);
	buf_reset(&got);
	canon_tree(v, &want, 1, 0);
	canon_tree(v2, &got, 1, 0);
	FZ_CHECK(got.len == want.len &&
	    memcmp(got.data, want.data, got.len) == 0);
	jsonp_free(v2);
	jsonp_free(v);
out:
	buf_release(&back);
	buf_release(&got);
	buf_release(&want);
	free(text);
	return 0;
}
