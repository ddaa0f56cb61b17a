/*
 * replay_main.c - run a fuzz target over files and directories of inputs without libFuzzer, so
 * ctest replays the seed corpus and every past finding with any compiler (Dovecot fuzz-*.c).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
	const char *err;
	char *data;
	size_t len;

	if (bh_read_file(path, 64u * 1024 * 1024, &data, &len, &err) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, err);
		return -1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	free(data);
	return 1;
}

static int
replay_path(const char *path, int depth)
{
	struct dirent *de;
	struct stat st;
	int n = 0, r;
	DIR *d;

	if (stat(path, &st) == -1)
		return 0; /* a missing seed folder is fine */
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? replay_file(path) : 0;
	if (depth > 4 || (d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char *sub;

		if (de->d_name[0] == '.')
			continue;
		sub = bh_asprintf("%s/%s", path, de->d_name);
		r = replay_path(sub, depth + 1);
		free(sub);
		if (r == -1) {
			closedir(d);
			return -1;
		}
		n += r;
	}
	closedir(d);
	return n;
}

int
main(int argc, char **argv)
{
	int i, r, total = 0;

	for (i = 1; i < argc; i++) {
		if ((r = replay_path(argv[i], 0)) == -1)
			return 1;
		total += r;
	}
	printf("replayed %d inputs\n", total);
	return 0;
}
