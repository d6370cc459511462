/* `aidata revoke`: republish the manifest alone with more revoked
 * credential ids, as the next revision (no data or catalog changes). */
#include "commands.h"
#include "log.h"
#include "publish.h"
#include "repo.h"
#include "repo_lock.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

int cmd_revoke(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"force-unlock", no_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char usage[] =
	    "usage: aidata revoke REPO --key platform.key [--force-unlock] "
	    "JTI...\n\n"
	    "Publish the next revision of REPO's manifest with the "
	    "credential ids JTI\nadded to its revoked list. Mounts stop "
	    "accepting them at their next\nmanifest refresh. REPO is a "
	    "directory, or s3://BUCKET/PREFIX (the store\nand credentials "
	    "from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, ...).\n"
	    "Takes the repository's lock, as aidata pack and push do; "
	    "--force-unlock\nremoves a bucket's lock object left by a "
	    "publisher that is gone. After\nrevoking in a bucket, revoke "
	    "the same ids in the local repository it is\npushed from: "
	    "aidata push refuses to un-revoke them.\n";
	const char *keyfile = NULL, *repo;
	bool force_unlock = false;
	publish_lock_t *lock = NULL;
	repo_key_t *key = NULL;
	uint64_t revision = 0;
	size_t revoked = 0;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'k') {
			keyfile = optarg;
		} else if (c == 'F') {
			force_unlock = true;
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
	rc = repo_lock_take("revoke", repo, force_unlock, &lock);
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
