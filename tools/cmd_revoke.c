/* `aidata revoke`: republish the manifest alone with more revoked
 * credential ids, as the next revision (no data or catalog changes). */
#include "commands.h"
#include "log.h"
#include "publish.h"
#include "repo.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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
	    "accepting them at their next\nmanifest refresh. Takes the "
	    "repository's lock, as aidata pack does.\n";
	const char *keyfile = NULL, *repo;
	publish_lock_t *lock = NULL;
	repo_key_t *key = NULL;
	uint64_t revision = 0;
	size_t revoked = 0;
	int c, rc;

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
	log_init("aidata revoke", LOG_LEVEL_INFO, false);
	repo = argv[optind++];
	rc = repo_key_load_private(keyfile, &key);
	if (rc) {
		fprintf(stderr, "aidata revoke: key '%s': %s\n", keyfile,
			rc == -EINVAL ? "not a PEM Ed25519 private key"
				      : strerror(-rc));
		goto out;
	}
	rc = publish_lock_acquire(repo, &lock);
	if (rc == -ENOENT || rc == -ENOTDIR)
		fprintf(stderr,
			"aidata revoke: '%s' is not a repository "
			"directory\n",
			repo);
	if (!rc)
		rc = publish_manifest_resign(
		    lock, key, (const char *const *)argv + optind,
		    (size_t)(argc - optind), &revision, &revoked);
	if (!rc)
		printf("published revision %" PRIu64 " with %zu revoked "
		       "credentials\n",
		       revision, revoked);
out:
	publish_lock_release(lock);
	repo_key_free(key);
	return rc ? 1 : 0;
}
