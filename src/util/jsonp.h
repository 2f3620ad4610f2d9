/*
 * jsonp - a small JSON reader: the bodies web visitors POST to sluice
 * web's API, the probe's JSON reports and the control socket's replies.
 *
 * Parses into a tree the caller frees with jsonp_free(). The grammar is
 * RFC 8259's, strictly: a raw control character or NUL, an unknown
 * escape, a short \uXXXX, "+1", "01" or ".5" make the text not JSON.
 * Limits: values nested at most 64 deep, numbers of at most 63 characters.
 * Strings are decoded (\uXXXX outside 1..0x7f becomes '?', so no string
 * holds a NUL); other bytes, 0x80 and up included, are kept as they are.
 */
#ifndef SLUICE_JSONP_H
#define SLUICE_JSONP_H

#include <stddef.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype	 type;
	double		 num;		/* J_NUM, J_BOOL (0/1) */
	char		*str;		/* J_STR */
	char		*key;		/* member name inside an object */
	struct jval	*kids;		/* J_ARR, J_OBJ: first child */
	struct jval	*next;		/* sibling */
};

struct jval *jsonp_parse(const char *text, size_t len);
void	jsonp_free(struct jval *v);
const struct jval *jsonp_get(const struct jval *obj, const char *key);
const char *jsonp_str(const struct jval *obj, const char *key);
double	jsonp_num(const struct jval *obj, const char *key);

#endif
