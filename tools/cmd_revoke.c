/* `aidata revoke`: republish the manifest alone with more revoked
 * credential ids, as the next revision (no data or catalog changes). */
#include "commands.h"
#include "fsutil.h"
#include "repo.h"
#include "xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

int cmd_revoke(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char usage[] =
	    "usage: aidata revoke REPO --key platform.key JTI...\n\n"
	    "Publish the next revision of REPO's manifest with the "
	    "credential ids JTI\nadded to its revoked list. Mounts stop "
	    "accepting them at their next\nmanifest refresh.\n";
	const char *keyfile = NULL, *repo;
	struct repo_manifest m = {0};
	repo_key_t *key = NULL;
	char *path = NULL, *data = NULL, *out = NULL;
	size_t len, out_len;
	int c, rc, lock_fd = -1, ret = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'k') {
			keyfile = optarg;
		} else if (c == 'h') {
			printf("%s", usage);
			return 0;
		} else {
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (!keyfile || argc - optind < 2) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	repo = argv[optind++];
	rc = repo_key_load_private(keyfile, &key);
	if (rc) {
		fprintf(stderr, "aidata revoke: key '%s': %s\n", keyfile,
			rc == -EINVAL ? "not a PEM Ed25519 private key"
				      : strerror(-rc));
		goto out;
	}
	/* the same lock as pack: one publisher at a time */
	lock_fd = open(repo, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, "aidata revoke: '%s': %s\n", repo,
			errno == EWOULDBLOCK ? "a pack is running"
					     : strerror(errno));
		goto out;
	}
	path = xasprintf("%s/manifest", repo);
	rc = fs_read_file(path, REPO_MANIFEST_MAX, &data, &len);
	if (!rc)
		rc = repo_manifest_decode(data, len, key, &m);
	if (rc) {
		fprintf(stderr, "aidata revoke: '%s': %s\n", path,
			rc == -EBADMSG	? "signed by a different platform key"
			: rc == -ENOENT ? "missing"
					: "unreadable or malformed");
		goto out;
	}
	for (; optind < argc; optind++) {
		bool dup = false;

		for (size_t i = 0; i < m.revoked_count; i++)
			dup |= !strcmp(m.revoked[i], argv[optind]);
		if (dup)
			continue;
		m.revoked =
		    xrealloc(m.revoked, (m.revoked_count + 1) * sizeof(char *));
		m.revoked[m.revoked_count++] = xstrdup(argv[optind]);
	}
	m.revision++;
	m.created = (int64_t)time(NULL);
	rc = repo_manifest_encode(&m, key, &out, &out_len);
	if (rc == -EINVAL) {
		fprintf(stderr, "aidata revoke: a credential id may only hold "
				"letters, digits, '.', '_' and '-'\n");
		goto out;
	}
	if (!rc)
		rc = fs_write_atomic(path, out, out_len, 0644);
	if (rc) {
		fprintf(stderr, "aidata revoke: cannot publish '%s': %s\n",
			path, strerror(-rc));
		goto out;
	}
	printf("published revision %" PRIu64 " with %zu revoked "
	       "credentials\n",
	       m.revision, m.revoked_count);
	ret = 0;
out:
	if (lock_fd >= 0)
		close(lock_fd);
	repo_manifest_release(&m);
	repo_key_free(key);
	free(path);
	free(data);
	free(out);
	return ret;
}
