/*
 * config_value.c - the strict parsers of configuration values: durations, sizes, and the
 * "did you mean" suggestion for a misspelt key.
 *
 * One format each, no guessing: a duration is digits and one unit (ms, s, m, h, d, w) or "0";
 * a size is digits and an optional 1024-based unit (B, KB, MB, GB, TB). No sign, no spaces, no
 * fractions; overflow is an error, never a wrap.
 */
#include "config_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* digits - parse at most 15 leading digits of s; returns the count (0: none or too many) */
static size_t
digits(const char *s, uint64_t *v)
{
	size_t i;

	*v = 0;
	for (i = 0; isdigit((unsigned char)s[i]); i++) {
		if (i == 15)
			return 0;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return i;
}

/* bh_parse_duration - "15d" to milliseconds */
int
bh_parse_duration(const char *s, int64_t *ms_r, const char **error_r)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
	    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"w", 604800000},
	};
	uint64_t v;
	size_t n = digits(s, &v), i;

	if (n == 0) {
		*error_r = "invalid";
		return -1;
	}
	if (s[n] == '\0' && v == 0) {
		*ms_r = 0;
		return 0;
	}
	for (i = 0; i < BH_NELEM(units); i++) {
		if (strcmp(s + n, units[i].unit) != 0)
			continue;
		if (v > (uint64_t)INT64_MAX / units[i].ms) {
			*error_r = "too large";
			return -1;
		}
		*ms_r = (int64_t)(v * units[i].ms);
		return 0;
	}
	*error_r = "invalid";
	return -1;
}

/* bh_parse_size - "25MB" to bytes */
int
bh_parse_size(const char *s, uint64_t *bytes_r, const char **error_r)
{
	static const struct {
		const char *unit;
		unsigned shift;
	} units[] = {{"", 0}, {"B", 0}, {"KB", 10}, {"MB", 20}, {"GB", 30}, {"TB", 40}};
	uint64_t v;
	size_t n = digits(s, &v), i;

	if (n == 0) {
		*error_r = "invalid";
		return -1;
	}
	for (i = 0; i < BH_NELEM(units); i++) {
		if (strcasecmp(s + n, units[i].unit) != 0)
			continue;
		if (v > (UINT64_MAX >> units[i].shift)) {
			*error_r = "too large";
			return -1;
		}
		*bytes_r = v << units[i].shift;
		return 0;
	}
	*error_r = "invalid";
	return -1;
}

/* bh_format_duration - the largest unit that divides ms exactly */
const char *
bh_format_duration(int64_t ms, char *buf, size_t size)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {
	    {"w", 604800000}, {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
	};
	size_t i;

	if (ms <= 0) {
		snprintf(buf, size, "0");
		return buf;
	}
	for (i = 0; i < BH_NELEM(units); i++)
		if (ms % units[i].ms == 0)
			break;
	/* retention figures read better in days ("14d", "28d"): weeks only past a year */
	if (i == 0 && ms % 86400000 == 0 && ms / 86400000 < 365)
		i = 1;
	snprintf(buf, size, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
	return buf;
}

/* bh_format_size - the largest unit that divides bytes exactly */
const char *
bh_format_size(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
	size_t i = 0;

	while (i + 1 < BH_NELEM(units) && bytes != 0 && bytes % 1024 == 0)
		bytes /= 1024, i++;
	snprintf(buf, size, "%llu%s", (unsigned long long)bytes, units[i]);
	return buf;
}

/* distance - optimal string alignment distance of two short words, case-insensitive */
static size_t
distance(const char *a, const char *b)
{
	size_t d[65][65], la = strlen(a), lb = strlen(b), i, j;

	if (la > 64 || lb > 64)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			size_t cost =
			    tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			size_t best = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* bh_cfg_suggest - the closest candidate within a third of the word's length (at least 1,
 * at most 3 edits), else the first candidate holding the word (3 characters or more) */
const char *
bh_cfg_suggest(const char *word, const char *const *cands, size_t n)
{
	size_t i, best = 99, len = strlen(word), limit = len / 3;
	const char *pick = NULL;

	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	for (i = 0; i < n; i++) {
		size_t d;

		if (cands[i] == NULL)
			continue;
		d = distance(word, cands[i]);
		if (d < best) {
			best = d;
			pick = cands[i];
		}
	}
	if (best <= limit)
		return pick;
	/* A short form of a longer name ("spam" for "spamdetected", "full" for "mailboxfull"):
	 * the first candidate that holds the word, when the word is not too short to mean much. */
	if (len >= 3)
		for (i = 0; i < n; i++)
			if (cands[i] != NULL && strcasestr(cands[i], word) != NULL)
				return cands[i];
	return NULL;
}
