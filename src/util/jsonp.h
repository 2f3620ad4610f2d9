/*
 * jsonp - a small JSON reader for the tools' own replies (control socket).
 *
 * Parses into a tree the caller frees with jsonp_free(). Depth and size
 * are capped; strings are decoded (\uXXXX outside ASCII becomes '?').
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
