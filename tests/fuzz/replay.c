/*
 * Replay a fuzz target over files: each argument is a file or a directory
 * (walked recursively); every file's first 1 MiB is passed once to
 * LLVMFuzzerTestOneInput, in its own exactly sized allocation so that a
 * sanitizer build catches over-reads. Exits 0, or 1 if a path cannot be
 * read or no input was found at all (a corpus that went missing should
 * not pass silently). A crash is the target's, and fails the test.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

#define REPLAY_MAX (1024 * 1024)

static unsigned long inputs;

static int replay_file(const char *path)
{
	static uint8_t buf[REPLAY_MAX];
	size_t len = 0;
	uint8_t *copy;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "replay: %s: %s\n", path,
				strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);

	copy = malloc(len ? len : 1);
	if (!copy) {
		fprintf(stderr, "replay: out of memory\n");
		exit(1);
	}
	memcpy(copy, buf, len);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
	inputs++;
	return 0;
}

static int replay_path(const char *path)
{
	struct stat st;
	DIR *dir;
	struct dirent *e;
	int rc = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path);
	dir = opendir(path);
	if (!dir) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((e = readdir(dir)) != NULL) {
		char *child;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (asprintf(&child, "%s/%s", path, e->d_name) < 0) {
			fprintf(stderr, "replay: out of memory\n");
			exit(1);
		}
		if (replay_path(child) != 0)
			rc = -1;
		free(child);
	}
	closedir(dir);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (replay_path(argv[i]) != 0)
			rc = 1;
	printf("replayed %lu inputs\n", inputs);
	if (inputs == 0) {
		fprintf(stderr, "replay: no inputs found\n");
		rc = 1;
	}
	return rc;
}
