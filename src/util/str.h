/*
 * str - small string helpers that the C library lacks or gets wrong.
 *
 * No allocation, no I/O. Every copy is bounded and reports truncation.
 */
#ifndef SLUICE_STR_H
#define SLUICE_STR_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

int	str_copy(char *dst, size_t dstsize, const char *src);
int	str_ncopy(char *dst, size_t dstsize, const char *src, size_t n);
void	str_lower(char *s);
int	str_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int	str_parse_size(const char *s, uint64_t *out);
int	str_parse_duration(const char *s, uint64_t *out);
int	str_ieq(const char *a, const char *b);
int	str_ieqn(const char *a, size_t alen, const char *b);
int	str_has_suffix_ci(const char *s, const char *suffix);
void	str_rfc5322_date(char *dst, size_t dstsize, time_t t);
void	str_fmt_duration(char *dst, size_t dstsize, uint64_t secs);

#endif
