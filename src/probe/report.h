/*
 * report - a finished target as text for a person or JSON for a program.
 *
 * Pure (writes into a buf). Every byte that came from the tested server is
 * made harmless: control and escape bytes shown as \xNN in text, escaped
 * in JSON. report_sentence gives the overall verdict in one plain sentence
 * (also used by the web tester).
 */
#ifndef SLUICE_REPORT_H
#define SLUICE_REPORT_H

#include "probe/engine.h"
#include "util/buf.h"

void	report_text(struct buf *b, const struct ptarget *t, int verbose);
void	report_json(struct buf *b, const struct ptarget *t, int transcript);
void	report_sentence(struct buf *b, const struct ptarget *t);
void	report_clean(struct buf *b, const char *s, size_t maxlen);

#endif
