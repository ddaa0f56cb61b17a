/*
 * message.h - one RFC 5322 header block: split into fields, unfolded, with RFC 2047 decoding.
 *
 * Input is untrusted bytes given as pointer + length: LF, CRLF and bare CR line ends, NUL and
 * 8-bit bytes are all accepted. A leading mbox "From " line is skipped. Pure: no I/O.
 */
#ifndef BH_MESSAGE_H
#define BH_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

/* One field. name points into the input; value is an unfolded copy in the header's arena (line
 * breaks of folded lines removed, outer white space trimmed), NUL-terminated, may hold NULs. */
struct bh_field {
	const char *name;
	size_t name_len;
	char *value;
	size_t value_len;
};

struct bh_header {
	struct bh_field *v;
	size_t n;
	char *arena;	 /* every value, each NUL-terminated, in field order; owned */
	size_t body_off; /* offset of the body (after the empty line) in the input */
};

/* bh_header_parse - parse the header block at p[0..n). The block ends at an empty line, at the
 * end of input, or at a line that is neither a field nor a continuation (that line starts the
 * body). Returns 0, or -1 with *error_r (static) when a field is longer than max_line or there
 * are more than max_fields fields. h must be zeroed or deinit'ed; free with bh_header_deinit. */
int bh_header_parse(const char *p, size_t n, size_t max_line, unsigned max_fields,
		    struct bh_header *h, const char **error_r);
void bh_header_deinit(struct bh_header *h);

/* bh_header_get - the first field called name (case-insensitive), or NULL. Borrowed from h. */
const struct bh_field *bh_header_get(const struct bh_header *h, const char *name);
/* bh_header_count - how many fields are called name. */
unsigned bh_header_count(const struct bh_header *h, const char *name);

/* bh_header_decode - the value with RFC 2047 encoded words decoded to UTF-8, control bytes
 * (and NULs) turned into spaces, cut at max bytes. A new string, the caller's to free. */
char *bh_header_decode(const char *p, size_t n, size_t max);

/* bh_line_next - the next line of p[*pos..n): sets *line and *len (line end excluded) and
 * advances *pos past the LF, CRLF or CR. Returns false at the end of input. */
bool bh_line_next(const char *p, size_t n, size_t *pos, const char **line, size_t *len);

/* An iterator over the same lines as bh_line_next, for a caller that reads them in order: it
 * remembers where the next CR is, so each line costs one search. pos is the next line's offset. */
struct bh_lines {
	const char *p;
	size_t n;
	size_t pos;
	size_t cr_end; /* the next CR at or after pos (is_cr), or the end of a span without one */
	bool is_cr;
};
/* bh_lines_init - iterate over the lines of p[0..n) from its start */
void bh_lines_init(struct bh_lines *it, const char *p, size_t n);
/* bh_lines_next - the next line, as bh_line_next; false at the end of input */
bool bh_lines_next(struct bh_lines *it, const char **line, size_t *len);

#endif
