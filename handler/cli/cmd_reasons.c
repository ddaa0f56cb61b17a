/*
 * cmd_reasons.c - `bouncer reasons [--json]`: every reason word a policy may name, its group,
 * whether it is hard and whose failure it is; then the groups. Straight from reason.c's table,
 * so the list policy writers read is the one the config checker accepts.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "reason.h"
#include "util.h"

/* bh_cmd_reasons - print the reason vocabulary; returns the exit status */
int
bh_cmd_reasons(int argc, char **argv)
{
	bool json = false;
	struct bh_buf b;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("usage: bouncer reasons [--json]\n");
			return BH_EX_OK;
		} else {
			fprintf(stderr, "usage: bouncer reasons [--json]\n");
			return BH_EX_USAGE;
		}
	}
	bh_buf_init(&b);
	if (json)
		bh_buf_puts(&b, "{\"reasons\":[");
	else
		bh_buf_printf(&b, "%-16s %-10s %-5s %s\n", "REASON", "GROUP", "HARD", "WHOSE");
	for (i = 0; i < BH_R_COUNT; i++) {
		enum bh_reason r = (enum bh_reason)i;
		const char *g = bh_group_name(bh_reason_group(r));
		const char *w = bh_whose_name(bh_reason_whose(r));

		if (json) {
			bh_buf_puts(&b, i > 0 ? ",{\"reason\":" : "{\"reason\":");
			bh_json_cstr(&b, bh_reason_name(r));
			bh_buf_puts(&b, ",\"group\":");
			bh_json_cstr(&b, g);
			bh_buf_printf(
			    &b, ",\"hard\":%s,\"whose\":", bh_reason_hard(r) ? "true" : "false");
			bh_json_cstr(&b, w);
			bh_buf_putc(&b, '}');
		} else {
			bh_buf_printf(&b, "%-16s %-10s %-5s %s\n", bh_reason_name(r), g,
				      bh_reason_hard(r) ? "yes" : "no", w);
		}
	}
	if (json) {
		bh_buf_puts(&b, "],\"groups\":[");
		for (i = 0; i < BH_G_COUNT; i++) {
			if (i > 0)
				bh_buf_putc(&b, ',');
			bh_json_cstr(&b, bh_group_name((enum bh_reason_group)i));
		}
		bh_buf_puts(&b, "]}\n");
	} else {
		bh_buf_puts(&b, "\ngroups (a policy may name one instead of its reasons):");
		for (i = 0; i < BH_G_COUNT; i++)
			bh_buf_printf(&b, " %s", bh_group_name((enum bh_reason_group)i));
		bh_buf_putc(&b, '\n');
	}
	fwrite(b.data, 1, b.len, stdout);
	bh_buf_deinit(&b);
	return fflush(stdout) == 0 ? BH_EX_OK : BH_EX_FAIL;
}
