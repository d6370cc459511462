/*
 * `aidata node-keygen` (run on a secure node: its X25519 key pair) and
 * `aidata grant-node` (run by the publisher: seal a secure dataset's key
 * to one node and publish it at keys/<dataset>/<node id>).
 */
#include "auth.h"
#include "commands.h"
#include "fsutil.h"
#include "log.h"
#include "publish.h"
#include "repo.h"
#include "repo_lock.h"
#include "xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

static const char node_keygen_usage[] = "usage: aidata node-keygen --out DIR\n";

int cmd_node_keygen(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char id[AUTH_NODE_ID_LEN + 1];
	const char *dir = NULL;
	char *priv = NULL, *pub = NULL;
	auth_node_key_t *key = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'o') {
			dir = optarg;
		} else if (c == 'h') {
			printf("%s\n"
			       "Create DIR/node.key (the secure node's X25519 "
			       "private key, PEM,\nmode 0600) and DIR/node.pub "
			       "(its public key, PEM), and print the\nnode id. "
			       "Give node.pub to the publisher (aidata "
			       "grant-node); node.key\nnever leaves the node. "
			       "Existing files are never overwritten.\n",
			       node_keygen_usage);
			return 0;
		} else {
			goto usage;
		}
	}
	if (!dir || optind != argc)
		goto usage;
	rc = fs_mkdir_p(dir, 0700);
	if (rc) {
		fprintf(stderr, "aidata node-keygen: cannot create '%s': %s\n",
			dir, strerror(-rc));
		return 1;
	}
	priv = xasprintf("%s/node.key", dir);
	pub = xasprintf("%s/node.pub", dir);
	if (access(priv, F_OK) == 0 || access(pub, F_OK) == 0) {
		fprintf(stderr,
			"aidata node-keygen: '%s' or '%s' already exists; not "
			"overwriting a key\n",
			priv, pub);
		rc = -EEXIST;
		goto out;
	}
	rc = auth_node_key_generate(&key);
	if (rc) {
		fprintf(stderr, "aidata node-keygen: cannot generate a key\n");
		goto out;
	}
	rc = auth_node_key_write_private(key, priv);
	if (rc)
		fprintf(stderr, "aidata node-keygen: cannot write '%s': %s\n",
			priv, strerror(-rc));
	if (!rc) {
		rc = auth_node_key_write_public(key, pub);
		if (rc) {
			fprintf(stderr,
				"aidata node-keygen: cannot write '%s': %s\n",
				pub, strerror(-rc));
			unlink(priv);
		}
	}
	if (!rc) {
		auth_node_key_id(key, id);
		printf("wrote '%s' (keep it secret, on this node) and '%s'\n",
		       priv, pub);
		printf("node id %s\n", id);
	}
out:
	auth_node_key_free(key);
	free(priv);
	free(pub);
	return rc ? 1 : 0;
usage:
	fprintf(stderr, "%s", node_keygen_usage);
	return 2;
}

static const char grant_usage[] =
    "usage: aidata grant-node REPO --key PLATFORM_KEY --dataset NAME "
    "--node-pub FILE\n"
    "                         [--force-unlock]\n";

/*
 * Seal the key and write REPO/keys/<dataset>/<id> under the repository's
 * lock; prints what it did.
 */
static int grant(const char *repo, const char *key_path, const char *dataset,
		 const char *node_pub_path, bool force_unlock)
{
	uint8_t dkey[AUTH_DATASET_KEY_LEN];
	char id[AUTH_NODE_ID_LEN + 1];
	repo_key_t *platform = NULL;
	auth_node_key_t *node = NULL;
	publish_lock_t *lock = NULL;
	char *path = NULL;
	int rc;

	rc = repo_key_load_private(key_path, &platform);
	if (rc) {
		fprintf(stderr,
			"aidata grant-node: cannot load the platform private "
			"key '%s': %s\n",
			key_path,
			rc == -EINVAL ? "not an Ed25519 private key (PEM)"
				      : strerror(-rc));
		goto out;
	}
	rc = auth_node_key_load_public(node_pub_path, &node);
	if (rc) {
		fprintf(stderr,
			"aidata grant-node: cannot load the node public key "
			"'%s': %s\n",
			node_pub_path,
			rc == -EINVAL ? "not an X25519 public key (PEM)"
				      : strerror(-rc));
		goto out;
	}
	auth_node_key_id(node, id);
	rc = publish_dataset_key_get(key_path, dataset, false, dkey);
	if (rc == -ENOENT) {
		fprintf(stderr,
			"aidata grant-node: no key for dataset '%s' (is it a "
			"secure dataset packed with this platform key?)\n",
			dataset);
		goto out;
	}
	if (rc) {
		fprintf(stderr,
			"aidata grant-node: cannot read the key of dataset "
			"'%s': %s\n",
			dataset,
			rc == -EINVAL ? "malformed key file" : strerror(-rc));
		goto out;
	}
	/* the keys first: a bucket's lock costs requests, and a lock
	 * object left by a failure would stop the next publisher */
	rc = repo_lock_take("grant-node", repo, force_unlock, &lock);
	if (rc)
		goto out;
	rc = publish_sealed_key_write(lock, platform, dataset, node, dkey,
				      &path);
	if (!rc)
		printf("granted dataset '%s' to node %s: wrote '%s'\n", dataset,
		       id, path);
out:
	OPENSSL_cleanse(dkey, sizeof(dkey));
	publish_lock_release(lock);
	repo_key_free(platform);
	auth_node_key_free(node);
	free(path);
	return rc;
}

int cmd_grant_node(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"dataset", required_argument, NULL, 'd'},
	    {"node-pub", required_argument, NULL, 'n'},
	    {"force-unlock", no_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *key = NULL, *dataset = NULL, *node_pub = NULL, *why;
	bool force_unlock = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'k') {
			key = optarg;
		} else if (c == 'd') {
			dataset = optarg;
		} else if (c == 'n') {
			node_pub = optarg;
		} else if (c == 'F') {
			force_unlock = true;
		} else if (c == 'h') {
			printf("%s\n"
			       "Give the secure node whose public key is FILE "
			       "(from aidata node-keygen)\naccess to secure "
			       "dataset NAME: seal the dataset's key (kept in\n"
			       "dataset-keys/ beside PLATFORM_KEY by aidata "
			       "pack) to that node, sign\nit with the platform "
			       "key and write REPO/keys/NAME/<node id>,\n"
			       "holding the repository's lock as aidata pack "
			       "does. Publish it with the\nrepository; "
			       "re-running replaces the object. REPO may be\n"
			       "s3://BUCKET/PREFIX (the store and credentials "
			       "from AWS_ENDPOINT_URL,\nAWS_REGION, "
			       "AWS_ACCESS_KEY_ID, ...): the object is written "
			       "there directly,\nunder the bucket's lock "
			       "object; --force-unlock removes one left by a\n"
			       "publisher that is gone.\n",
			       grant_usage);
			return 0;
		} else {
			goto usage;
		}
	}
	if (!key || !dataset || !node_pub || optind != argc - 1)
		goto usage;
	log_init("aidata grant-node", LOG_LEVEL_INFO, false);
	why = repo_name_invalid_reason(dataset, strlen(dataset));
	if (why) {
		/* not echoed: it may hold control characters */
		fprintf(stderr, "aidata grant-node: invalid dataset name: %s\n",
			why);
		return 2;
	}
	return grant(argv[optind], key, dataset, node_pub, force_unlock) ? 1
									 : 0;
usage:
	fprintf(stderr, "%s", grant_usage);
	return 2;
}
