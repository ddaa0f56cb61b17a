/*
 * sha_steps.c - the instructions the stable id's SHA-256 costs on this CPU, counted exactly.
 *
 *   sha_steps FILE...
 *
 * Valgrind has no SHA extensions, so callgrind counts libcrypto's AVX2 code for the stable id;
 * this VM has no hardware counters either (perf stat cannot count instructions). So a child
 * hashes the files exactly as classify.c's stable_id does (EVP, a Message-ID-sized prefix, "\n",
 * the bytes) while this parent single-steps it with ptrace: every user-space instruction the
 * CPU executes between two SIGSTOP marks is one step. A run with no file gives the cost of the
 * marks themselves, which is subtracted. Prints the instructions per file, on the SHA-NI path
 * where the CPU has it; OPENSSL_ia32cap=":~0x20000000" in the environment masks SHA-NI, and
 * then the count must equal callgrind's for the same code (the check that the counter is
 * exact: `sha_steps --direct FILE...` hashes without the tracing, for
 * `valgrind --tool=callgrind`, with and without the files). Slow on purpose (one step is a
 * system call pair): a few seconds a megabyte.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

static int direct; /* --direct: hash once, untraced (for callgrind) */

struct file {
	unsigned char *data;
	size_t len;
};

/* load - read one file whole, or exit */
static struct file
load(const char *path)
{
	struct file f = {NULL, 0};
	struct stat st;
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "sha_steps: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	f.data = malloc((size_t)st.st_size + 1);
	while (f.data != NULL && f.len < (size_t)st.st_size &&
	       (r = read(fd, f.data + f.len, (size_t)st.st_size - f.len)) > 0)
		f.len += (size_t)r;
	close(fd);
	if (f.data == NULL) {
		fprintf(stderr, "sha_steps: out of memory\n");
		exit(1);
	}
	return f;
}

/* child - hash n files between two marks, as stable_id does */
static void
child(struct file *fs, size_t n)
{
	static const char mid[] = "<0123456789abcdef.0123456789@example.org>"; /* a typical id */
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl;
	size_t i;

	if (md == NULL)
		_exit(2);
	if (!direct) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGSTOP); /* the parent steps from here */
	}
	for (i = 0; i < n; i++) {
		EVP_MD_CTX *c = EVP_MD_CTX_new();

		EVP_DigestInit_ex(c, md, NULL);
		EVP_DigestUpdate(c, mid, sizeof(mid) - 1);
		EVP_DigestUpdate(c, "\n", 1);
		EVP_DigestUpdate(c, fs[i].data, fs[i].len);
		EVP_DigestFinal_ex(c, d, &dl);
		EVP_MD_CTX_free(c);
	}
	if (!direct)
		raise(SIGSTOP); /* to here */
	_exit(0);
}

/* steps - single-step a child hashing n files: the instructions between the marks */
static unsigned long long
steps(struct file *fs, size_t n)
{
	unsigned long long k = 0;
	int st;
	pid_t pid = fork();

	if (pid < 0) {
		perror("sha_steps: fork");
		exit(1);
	}
	if (pid == 0)
		child(fs, n);
	if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st)) {
		fprintf(stderr, "sha_steps: the child did not stop\n");
		exit(1);
	}
	for (;;) {
		if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL) < 0 || waitpid(pid, &st, 0) < 0 ||
		    !WIFSTOPPED(st)) {
			fprintf(stderr, "sha_steps: lost the child\n");
			exit(1);
		}
		if (WSTOPSIG(st) == SIGSTOP)
			break;
		k++;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return k;
}

/* main - steps for the files less steps for none, per file */
int
main(int argc, char **argv)
{
	size_t n, i, bytes = 0;
	struct file *fs;
	unsigned long long base, all;

	if (argc > 1 && strcmp(argv[1], "--direct") == 0)
		direct = 1, argv++, argc--;
	n = (size_t)(argc - 1);
	fs = calloc(n + 1, sizeof(*fs));
	if ((n == 0 && !direct) || fs == NULL) {
		fprintf(stderr, "usage: sha_steps [--direct] FILE...\n");
		return 2;
	}
	for (i = 0; i < n; i++) {
		fs[i] = load(argv[i + 1]);
		bytes += fs[i].len;
	}
	if (direct)
		child(fs, n);
	base = steps(fs, 0);
	all = steps(fs, n);
	printf("sha_steps: %zu files, %zu bytes: %llu instructions, %.0f per file, %.2f per byte\n",
	       n, bytes, all - base, (double)(all - base) / (double)n,
	       (double)(all - base) / (double)bytes);
	return 0;
}
