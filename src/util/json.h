/*
 * json - append JSON values to a buf. Strings are escaped so that any
 * bytes (a hostile server's banner included) make valid JSON: control
 * characters and bytes >= 0x80 become \u00XX escapes.
 */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include <stddef.h>

#include "util/buf.h"

int	json_str(struct buf *b, const char *s);
int	json_strn(struct buf *b, const char *s, size_t n);
int	json_kv_str(struct buf *b, int comma, const char *key, const char *v);
int	json_kv_int(struct buf *b, int comma, const char *key, long long v);
int	json_kv_num(struct buf *b, int comma, const char *key, double v);
int	json_kv_bool(struct buf *b, int comma, const char *key, int v);

#endif
