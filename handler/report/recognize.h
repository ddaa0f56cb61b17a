/*
 * recognize.h - recognizers for bounce texts that are not RFC 3464 reports: which MTA family
 * wrote the text (cheap signals first: From, Subject, marker lines), and the failed recipients
 * with their diagnostic text, read from the human-readable part. Pure: no I/O.
 */
#ifndef BH_RECOGNIZE_H
#define BH_RECOGNIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "bh_limits.h"
#include "message.h"

struct bh_recog_in {
	const struct bh_header *hdr; /* the report's own header */
	const char *text;	     /* its first text part, decoded, at most the scan limit */
	size_t text_len;
	size_t cut;	      /* bh_recog_cut(text, text_len) */
	char *const *exclude; /* lower-case addresses of the sender side: the first n_strong
			       * are never reported, the rest only when the text names
			       * them in passing */
	size_t n_exclude;
	size_t n_strong;
};

struct bh_recog_hit {
	char *address;	  /* lower-case */
	char *diagnostic; /* cleaned text, may be NULL */
	char *remote_mta; /* may be NULL */
	char status[BH_MAX_STATUS];
	char reply_code[4];
};

struct bh_recog_out {
	const char *name; /* family ("qmail", "exim", ...), or "text" for the generic reader */
	bool bounce_like; /* the message looks like a non-delivery report (From, Subject, marker) */
	bool weak;	  /* its text has phrases of a failure notice */
	struct bh_recog_hit *v;
	size_t n;
};

/* bh_recognize - fill out (zeroed by the caller) with at most max recipients. Returns the
 * number of recipients found. Free with bh_recog_out_deinit. */
size_t bh_recognize(const struct bh_recog_in *in, size_t max, struct bh_recog_out *out);
void bh_recog_out_deinit(struct bh_recog_out *out);

/* bh_recog_cut - length of the report's own text in t[0..n): where the returned message
 * starts (a marker line or a pasted header block), or n. */
size_t bh_recog_cut(const char *t, size_t n);

/* bh_recog_diag_for - the diagnostic text the report's own text (text[0..n), already cut with
 * bh_recog_cut) gives for address, as a new cleaned string, or NULL when it is not there. */
char *bh_recog_diag_for(const char *text, size_t n, const char *address);

/* bh_recog_alias_source - the address an alias or forward was expanded from, when the
 * diagnostic d[0..n) says so ("(generated from a@b)", Exim; "(expanded from <a@b>)", Postfix
 * and Sendmail), as a new lower-case string, else NULL. */
char *bh_recog_alias_source(const char *d, size_t n);

/* bh_recog_codes - fill status (when empty) and reply_code (when empty) from text. */
void bh_recog_codes(const char *text, size_t n, char *status, size_t status_sz, char reply[4]);

#endif
